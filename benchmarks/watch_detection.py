"""How soon the fast refusal rule of ``agenttrace watch`` flags a rise, and how often it raises a
false alarm, on simulated window counts (``agenttrace_whylogs.sequential_sim``: the same code a
pass runs on a profile store, fed with binomial counts).

    python benchmarks/watch_detection.py                      # 10-minute windows, 20 seeds, 10 stationary
    python benchmarks/watch_detection.py --window-minutes 60  # hourly windows (the store's default)
    python benchmarks/watch_detection.py --seeds 40 --stationary-seeds 10 --stationary-days 30

For each traffic volume (runs per hour) and rise of the refusal rate (0.5% → 1%, 2%, 3%, 5%, at a
uniformly random instant): the median delay (seeds not flagged within 24 hours count as later) from the change to the close of the first window whose
pass alarms, the share of seeds flagged within 60 minutes and within 24 hours; then the alarms over
``--stationary-days`` of unchanged traffic (0.5%) per volume. The threshold is shared by
``--streams`` streams (overall + 2 aliases by default), as on a store segmented by requested model.
``agenttrace watch`` adds its pass interval to these delays when passes are not aligned with window
closes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integrations" / "whylogs"))

from agenttrace_whylogs.sequential_sim import simulate  # noqa: E402
from agenttrace_whylogs.sequential_stats import SequentialConfig, design_rate, threshold, target_windows  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--window-minutes", type=float, default=10.0)
    ap.add_argument("--volumes", default="100,300,1000,3000", help="runs per hour, comma-separated")
    ap.add_argument("--rates", default="0.01,0.02,0.03,0.05", help="refusal rates after the change")
    ap.add_argument("--p0", type=float, default=0.005)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--stationary-seeds", type=int, default=10)
    ap.add_argument("--stationary-days", type=float, default=30.0)
    ap.add_argument("--streams", type=int, default=3)
    ap.add_argument("--false-alarm-years", type=float, default=SequentialConfig.false_alarm_years)
    args = ap.parse_args()
    window = timedelta(minutes=args.window_minutes)
    cfg = SequentialConfig(false_alarm_years=args.false_alarm_years)
    volumes = [int(v) for v in args.volumes.split(",")]
    rates = [float(r) for r in args.rates.split(",")]
    p1 = design_rate(args.p0, cfg.rel, cfg.abs_rise)
    print(f"windows of {args.window_minutes:g} min; baseline {cfg.baseline.days} days at {args.p0:.1%}; design rise to "
          f"{p1:.1%}; at most 1 false alarm per {cfg.false_alarm_years:g} years over {args.streams} streams; "
          f"{args.seeds} seeds per cell\n")
    started = time.perf_counter()
    head = f"| runs/hour | h | " + " | ".join(f"{args.p0:.1%} → {r:.0%}" for r in rates) + " | false alarms |"
    print(head)
    print("|" + "---|" * (len(rates) + 3))
    for volume in volumes:
        h = threshold(args.p0, p1, volume * window.total_seconds() / 3600, target_windows(window, cfg, args.streams))
        cells = []
        for rate in rates:
            delays = [simulate(volume, args.p0, rate, seed, window=window, cfg=cfg, streams=args.streams).delay_minutes
                      for seed in range(args.seeds)]
            found = [d for d in delays if d is not None]
            hour = sum(1 for d in found if d <= 60)
            mid = statistics.median([d if d is not None else float("inf") for d in delays])  # not flagged: after 24 h
            median = f"{mid:.0f} min" if mid != float("inf") else "> 24 h"
            cells.append(f"{median} ({hour}/{len(delays)} ≤ 1 h, {len(found)}/{len(delays)} ≤ 24 h)")
        quiet = [simulate(volume, args.p0, args.p0, seed, change=False, monitor=timedelta(days=args.stationary_days),
                          window=window, cfg=cfg, streams=args.streams) for seed in range(args.stationary_seeds)]
        alarms = sum(r.alarms for r in quiet)
        cells.append(f"{alarms} in {args.stationary_seeds} × {args.stationary_days:g} days")
        print(f"| {volume:,} | {h:.1f} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
