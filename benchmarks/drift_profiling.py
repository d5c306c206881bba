"""Drift profiling at scale: profile N synthetic trajectory rows, run the drift rules, and check that
profiles written by several processes give the same findings as one process.

    python benchmarks/drift_profiling.py [--rows 1000000] [--processes 4] [--days 37]

1. One process streams the rows (time-ordered, 37 days by default: a 30-day baseline and a 7-day
   current window) through ``ProfileStore.write`` in batches, calling ``flush_closed()`` after each
   batch as a profiling worker would, then ``close()``. Prints rows/s (row generation excluded),
   files written and the store's size.
2. ``detect`` on that store, in a fresh process: wall time, peak RSS of that process; then again
   under tracemalloc for the peak of Python allocations (slower, timed separately).
3. ``--processes`` processes write the same rows into a second store, row i going to process
   i % P (interleaved, as P app processes behind a load balancer), each with its own writer id.
   ``detect`` on it; prints both finding lists as (rule, segment, feature, severity) and whether
   they are equal.

The last 7 days carry injected changes so that there is something to find: the gpt-4o alias moves
to a new model version on day 33, refusals rise to 4% for client_category=finance, billing latency
goes up 50%, and the support agent's tool mix changes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")
TESTS = str(Path(__file__).resolve().parents[1] / "tests")
sys.path.insert(0, TESTS)

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
CHUNKS_PER_DAY = 4
SUPPORT_TOOLS = {"support": {"search_kb>order_status": 0.4, "order_status": 0.2, "search_kb": 0.15, "": 0.25}}


def chunks(rows: int, days: int):
    """(start, end, n, seed, changes) per quarter day, in time order: the same rows for every caller."""
    n_chunks = days * CHUNKS_PER_DAY
    step = timedelta(days=1) / CHUNKS_PER_DAY
    drift_from = START + timedelta(days=days - 7)
    new_model_at = START + timedelta(days=days - 4, hours=9)
    for i in range(n_chunks):
        start = START + i * step
        n = rows // n_chunks + (1 if i < rows % n_chunks else 0)
        changes = {}
        if start >= drift_from:
            changes = {"new_model_at": new_model_at}
        yield start, start + step, n, 1000 + i, changes


CHANGES = [({"client_category": "finance"}, {"refusal_rate": 0.04}),
           ({"agent": "billing"}, {"latency_scale": 1.5}),
           ({"agent": "support"}, {"tool_mix": SUPPORT_TOOLS})]


def drifted(n: int, start: datetime, end: datetime, seed: int, changes: dict):
    from drift_traffic import generate

    if not changes:
        return generate(n, start, end, seed)
    return generate(n, start, end, seed, changes=CHANGES, **changes)


def profile(root: str, rows: int, days: int, batch: int, part: int = 0, parts: int = 1) -> dict:
    """Write this process's share of the rows into the store; returns timings."""
    from agenttrace_whylogs import ProfileStore

    store = ProfileStore(root, writer_id=f"proc{part}")
    busy = generating = 0.0
    written = 0
    for start, end, n, seed, changes in chunks(rows, days):
        t0 = time.perf_counter()
        mine = drifted(n, start, end, seed, changes)[part::parts] if parts > 1 else drifted(n, start, end, seed, changes)
        t1 = time.perf_counter()
        for i in range(0, len(mine), batch):
            store.write(mine[i:i + batch])
            store.flush_closed()
        busy += time.perf_counter() - t1
        generating += t1 - t0
        written += len(mine)
    t0 = time.perf_counter()
    store.close()
    busy += time.perf_counter() - t0
    return {"rows": written, "seconds": busy, "generating": generating}


def _profile_star(args):
    return profile(*args)


DETECT = r"""
import json, os, resource, sys, time, tracemalloc
os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")
from agenttrace_whylogs import ProfileStore, detect
root, traced = sys.argv[1], sys.argv[2] == "1"
import whylogs.viz.drift.column_drift_algorithms  # imports outside the timing
if traced:
    tracemalloc.start()
t0 = time.perf_counter()
result = detect(ProfileStore(root))
seconds = time.perf_counter() - t0
peak = tracemalloc.get_traced_memory()[1] if traced else None
print(json.dumps({"seconds": seconds, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "tracemalloc_peak": peak,
                  "rows_baseline": result.rows_baseline, "rows_current": result.rows_current, "tests": result.tests,
                  "segments": result.segments, "notes": result.notes,
                  "findings": [[f.rule, f.segment_key, f.segment_value, f.feature, f.severity, f.score, f.message] for f in result.findings]}))
"""


def run_detect(root: str, traced: bool = False) -> dict:
    out = subprocess.run([sys.executable, "-c", DETECT, root, "1" if traced else "0"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")])})
    if out.returncode != 0:
        raise SystemExit(f"detect failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def size_of(root: str) -> tuple[int, int]:
    files = total = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.endswith(".bin"):
                files += 1
                total += os.path.getsize(os.path.join(dirpath, name))
    return files, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--days", type=int, default=37, help="time span of the rows (the last 7 days are the current window)")
    parser.add_argument("--batch", type=int, default=5000, help="rows per ProfileStore.write call")
    parser.add_argument("--root", help="directory for the two stores (default: a temporary directory, removed at the end)")
    args = parser.parse_args()
    if args.days < 8:
        parser.error("--days must be at least 8 (7-day current window plus a baseline)")
    root = Path(args.root or tempfile.mkdtemp(prefix="agenttrace-drift-bench-"))
    one, many = str(root / "one-process"), str(root / f"{args.processes}-processes")
    for d in (one, many):
        shutil.rmtree(d, ignore_errors=True)
    print(f"{args.rows:,} rows over {args.days} days (hourly windows, 5 segment keys / 16 segment values + overall), "
          f"batches of {args.batch:,}; stores under {root}")

    # 1. one process
    stats = profile(one, args.rows, args.days, args.batch)
    files, size = size_of(one)
    print(f"\n[1 process] profiled {stats['rows']:,} rows in {stats['seconds']:.1f} s: {stats['rows'] / stats['seconds']:,.0f} rows/s "
          f"(row generation, {stats['generating']:.1f} s, not counted); {files:,} profile files, {size / 2**20:,.0f} MiB")

    # 2. detect, in fresh processes
    first = run_detect(one)
    print(f"[detect]    {first['seconds']:.1f} s, peak RSS {first['maxrss_kb'] / 1024:.0f} MiB; {first['segments']} segments, "
          f"{sum(first['tests'].values())} tests, {first['rows_baseline']:,} baseline / {first['rows_current']:,} current rows, "
          f"{len(first['findings'])} findings ({sum(f[4] == 'alert' for f in first['findings'])} alerts)")
    traced = run_detect(one, traced=True)
    print(f"[detect]    under tracemalloc: peak of Python allocations {traced['tracemalloc_peak'] / 2**20:.0f} MiB ({traced['seconds']:.1f} s)")
    for f in first["findings"][:12]:
        print(f"    {f[4]:<8}{f[0]:<21}{f[1]}={f[2]:<28}{f[3]:<16}{f[6][:110]}")
    if len(first["findings"]) > 12:
        print(f"    ... {len(first['findings']) - 12} more")

    # 3. the same rows from several processes into one store
    t0 = time.perf_counter()
    ctx = mp.get_context("spawn")
    with ctx.Pool(args.processes) as pool:
        parts = pool.map(_profile_star, [(many, args.rows, args.days, args.batch, i, args.processes) for i in range(args.processes)])
    wall = time.perf_counter() - t0
    files, size = size_of(many)
    total = sum(p["rows"] for p in parts)
    busy = ", ".join(f"{p['seconds']:.0f}" for p in parts)
    print(f"\n[{args.processes} processes] profiled {total:,} rows; busy {busy} s per process "
          f"({total / max(p['seconds'] for p in parts):,.0f} rows/s together on {os.cpu_count()} cores; wall {wall:.0f} s with row generation); "
          f"{files:,} profile files, {size / 2**20:,.0f} MiB")
    second = run_detect(many)
    print(f"[detect]    {second['seconds']:.1f} s, peak RSS {second['maxrss_kb'] / 1024:.0f} MiB, "
          f"{second['rows_baseline']:,} baseline / {second['rows_current']:,} current rows")
    a = {tuple(f[:5]) for f in first["findings"]}
    b = {tuple(f[:5]) for f in second["findings"]}
    print("\nfindings (rule, segment key, segment value, feature, severity):")
    for f in sorted(a | b):
        print(f"    {'1 process' if f in a else '         '}  {f'{args.processes} processes' if f in b else ' ' * 11}  {f}")
    print(f"\nsame findings from 1 process and {args.processes} processes: {a == b} ({len(a)} vs {len(b)})")
    if not args.root:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
