"""Simulated traffic for the fast refusal rule: per-window counts of flagged runs, and the passes of
``agenttrace watch`` over them through the same code as on a profile store
(:func:`.sequential_stats.evaluate`, called once per pass with the scanned windows and the
baseline before them).

Each window has ``runs_per_hour × window`` runs (rounded); each run is flagged with probability
``p0``, or ``p1`` once it ends after the change (an alias update at a uniformly random instant of
the first monitored day, so at a random point inside a window). One pass runs at the close of every
window. The detection delay is the time from the change to the close of the first window whose
pass alarms: the moment the profile of that window can be flushed. ``agenttrace watch`` adds its
pass interval on top (up to one interval, 15 minutes by default, when the passes are not aligned
with window closes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

import numpy as np

from .sequential_stats import SequentialConfig, evaluate


@dataclass
class SimResult:
    alarms: int                    # alarm episodes: passes that alarm where the previous pass did not
    false_alarms: int              # of those, the ones that began before the change (all of them without a change)
    delay_minutes: Optional[float]  # change → close of the first window whose pass alarmed; None: not within the horizon
    passes: int


def simulate(runs_per_hour: float, p0: float, p1: float, seed: int, *, change: bool = True,
             monitor: timedelta = timedelta(days=1), window: timedelta = timedelta(minutes=15),
             cfg: SequentialConfig = SequentialConfig(), streams: int = 1) -> SimResult:
    """Simulate the baseline (``cfg.baseline``), then ``monitor`` of passes; with ``change`` the rate
    goes from ``p0`` to ``p1`` at a random instant of the first monitored day (the monitored time
    then runs on for ``monitor`` after the change), without it the rate stays ``p0`` throughout.
    ``streams``: the number of streams the threshold is shared by (see ``target_windows``)."""
    rng = np.random.default_rng(seed)
    w = window.total_seconds()
    base_w = int(round(cfg.baseline.total_seconds() / w))
    scan_w = max(1, int(round(cfg.scan.total_seconds() / w)))
    first = base_w + scan_w - 1                      # the first window a pass can run at
    day_w = int(round(86400 / w))
    change_at = (first + 1 + rng.uniform(0, day_w)) * w if change else None  # seconds from the start
    last = first + int(np.ceil(monitor.total_seconds() / w)) + (day_w + 1 if change else 0)
    n = max(1, int(round(runs_per_hour * w / 3600)))
    runs = np.full(last + 1, n, dtype=float)
    after = np.zeros(last + 1)
    if change_at is not None:
        ends = (np.arange(last + 1) + 1) * w
        after = np.clip((ends - change_at) / w, 0.0, 1.0)   # the share of a window's runs after the change
    changed = np.round(runs * after)
    events = rng.binomial((runs - changed).astype(int), p0) + rng.binomial(changed.astype(int), p1)
    cum_e = np.concatenate([[0.0], np.cumsum(events)])
    cum_n = np.concatenate([[0.0], np.cumsum(runs)])
    alarms = false_alarms = 0
    delay = None
    alarmed = False
    for i in range(first, last + 1):
        lo = i - scan_w + 1
        res = evaluate(events[lo:i + 1], runs[lo:i + 1], cum_e[lo] - cum_e[lo - base_w], cum_n[lo] - cum_n[lo - base_w],
                       base_w, window, cfg, streams)
        if res is not None and res.alarm and not alarmed:
            alarms += 1
            close = (i + 1) * w
            if change_at is None or close <= change_at:
                false_alarms += 1
            elif delay is None:
                delay = (close - change_at) / 60
        alarmed = res is not None and res.alarm
        if delay is not None:
            break
    if delay is not None and delay * 60 > monitor.total_seconds():
        delay = None
    return SimResult(alarms, false_alarms, delay, last - first + 1)
