"""Hot-path cost of always-on trajectory profiling: the same agent with and without a profile store.

    python benchmarks/profiling_hot_path.py [--runs 300]

The tests' LangGraph support agent (3 chat calls, 2 tool calls, 5 node steps: 14 spans per run)
is traced by agenttrace into memory, once without profiling and once with ``profile_store=`` (the
TrajectoryProcessor + a whylogs ProfileStore in a temporary directory). Modes are interleaved run
by run in one process; prints the median wall time per run of each, the added time per run and
per span, and what the worker profiled. Feature extraction and whylogs logging happen on the
profiler's worker thread; the agent's thread only enqueues span start/end events.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import ask, build_agent  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()

    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import agenttrace

    store = tempfile.mkdtemp(prefix="agenttrace-profiles-")
    off = agenttrace.configure(project="bench", span_exporter=InMemorySpanExporter(), set_global=False)
    on = agenttrace.configure(project="bench", span_exporter=InMemorySpanExporter(), set_global=False, profile_store=store)
    graph = build_agent()
    times = {"profiling off": [], "profiling on": []}
    for _ in range(20):
        for t in (off, on):
            graph.invoke(ask(), config={"callbacks": [t.callback_handler]})
    for i in range(args.runs):
        order = [("profiling off", off), ("profiling on", on)] if i % 2 == 0 else [("profiling on", on), ("profiling off", off)]
        for name, t in order:
            t0 = time.perf_counter()
            graph.invoke(ask(f"Where is my order A{i}?"), config={"callbacks": [t.callback_handler],
                                                                 "metadata": {"segment": "B" if i % 3 else "VIP"}})
            times[name].append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    on.flush(120)
    drain = time.perf_counter() - t0
    base, full = (statistics.median(times[k]) for k in ("profiling off", "profiling on"))
    print(f"{'mode':<16}{'median ms/run':>15}")
    for name, values in times.items():
        print(f"{name:<16}{statistics.median(values) * 1e3:>15.3f}")
    print(f"added per run: {(full - base) * 1e3:.3f} ms ({(full / base - 1) * 100:+.1f}%); per span (14 per run): "
          f"{(full - base) * 1e6 / 14:.1f} µs")
    print(f"profiled on the worker: {on.profiler.rows} trajectories, dropped events: {on.profiler.dropped}; "
          f"flush after the last run took {drain:.2f} s; store: {store}")
    on.shutdown()
    off.shutdown()


if __name__ == "__main__":
    main()
