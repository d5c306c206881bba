"""Rows lost when an instrumented agent is killed with SIGKILL at steady traffic.

    python benchmarks/profile_kill_trials.py [--trials 20] [--bound 2.0] [--min-kill 2] [--max-kill 6]

Each trial starts a subprocess that runs the tests' LangGraph support agent (3 chat calls, 2 tool
calls) in a loop, traced by agenttrace with ``configure(profile_store=<dir>)`` (the
TrajectoryProcessor + a whylogs ProfileStore, default settings: ``sync_interval`` 1 s), and appends
each run's number and completion time to a side file once ``invoke`` returned. The parent kills it
with SIGKILL after a random 2-6 s (counted from the child's first completed run), then reads the
store with a fresh ``ProfileStore`` (which folds in the dead writer's journal) and compares the rows
found with the runs completed. A run completed more than ``--bound`` seconds before the kill must be
in the store; one completed later may be lost. Prints, per trial and in total: runs completed, rows
found, rows lost, lost runs that completed within / outside the bound, and how long before the kill
the oldest lost run completed.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")
TESTS = Path(__file__).resolve().parents[1] / "tests"

CHILD = """
import sys, time
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import agenttrace
from conftest import ask, build_agent
store, log = sys.argv[1], sys.argv[2]
at = agenttrace.configure(project="kill-trials", span_exporter=InMemorySpanExporter(), batch=False, set_global=False,
                          profile_store=store)
graph = build_agent()
with open(log, "a", buffering=1) as f:
    for i in range(10**9):
        graph.invoke(ask(), config={"callbacks": [at.callback_handler], "configurable": {"thread_id": f"t{i}"},
                                    "metadata": {"segment": "B" if i % 3 else "VIP"}})
        f.write(f"{i} {time.time()}\\n")
"""


def completed(log: Path) -> list[float]:
    if not log.exists():
        return []
    return [float(parts[1]) for parts in (line.split() for line in log.read_text().splitlines()) if len(parts) == 2]


def trial(work: Path, kill_after: float, bound: float) -> dict:
    from agenttrace_whylogs import ProfileStore
    from agenttrace_whylogs.store import rows

    store, log = work / "profiles", work / "runs.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CHILD), str(store), str(log)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not completed(log):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the agent process did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.02)
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
        killed = time.time()
        proc.wait(30)
    finally:
        proc.kill()
        proc.stderr.close()
    done = completed(log)
    now = datetime.now(timezone.utc)
    reader = ProfileStore(store)
    found = rows(reader.read(now - timedelta(days=2), now + timedelta(days=1)))
    lost = max(0, len(done) - found)
    # the runs that are missing are the newest ones (rows reach the journal in completion order)
    missing = sorted(done)[len(done) - lost:] if lost else []
    return {"runs": len(done), "rows": found, "lost": lost, "extra": max(0, found - len(done)),
            "lost_within": sum(t > killed - bound for t in missing), "lost_outside": sum(t <= killed - bound for t in missing),
            "oldest_lost": killed - min(missing) if missing else 0.0,
            "kill_after": kill_after, "problems": list(reader.problems)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--bound", type=float, default=2.0, help="seconds; runs older than this at the kill must survive")
    parser.add_argument("--min-kill", type=float, default=2.0)
    parser.add_argument("--max-kill", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    results = []
    print(f"{'trial':>5} {'kill after s':>12} {'runs':>6} {'rows':>6} {'lost':>5} {'lost within':>12} {'lost outside':>13} "
          f"{'oldest lost s':>14}")
    for i in range(args.trials):
        work = Path(tempfile.mkdtemp(prefix="agenttrace-kill-"))
        try:
            r = trial(work, rng.uniform(args.min_kill, args.max_kill), args.bound)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        results.append(r)
        print(f"{i + 1:>5} {r['kill_after']:>12.2f} {r['runs']:>6} {r['rows']:>6} {r['lost']:>5} {r['lost_within']:>12} "
              f"{r['lost_outside']:>13} {r['oldest_lost']:>14.2f}" + (f"  problems: {r['problems']}" if r["problems"] else ""))
    total = sum(r["runs"] for r in results)
    lost = sum(r["lost"] for r in results)
    print(f"\n{args.trials} trials, {total} runs completed, {lost} rows lost in total "
          f"({lost / max(1, total) * 100:.2f}%), at most {max(r['lost'] for r in results)} in one trial; "
          f"lost runs completed within {args.bound:g} s of the kill: {sum(r['lost_within'] for r in results)}, "
          f"earlier (a broken promise): {sum(r['lost_outside'] for r in results)}; the oldest lost run completed "
          f"{max(r['oldest_lost'] for r in results):.2f} s before its kill; "
          f"rows beyond the runs logged (a run done but not yet logged): {sum(r['extra'] for r in results)}")


if __name__ == "__main__":
    main()
