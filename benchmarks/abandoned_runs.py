"""Memory and trace separation over many runs when some runs never end (run on demand, not a test).

    python benchmarks/abandoned_runs.py                  # 20,000 runs, 1 in 20 abandoned half-way
    python benchmarks/abandoned_runs.py --runs 5000 --abandon-every 10

In one thread, a real LangGraph tool-calling agent runs ``--runs`` times; every ``--abandon-every``
run, a run is started and never ended first (the trigger that once made every later run in the
thread a child of the stuck one). Prints, every 20% of the way: process RSS and its growth since warm-up, open runs in the registry, and finally how many agent runs became separate traces and
how many got a trajectory profile row (TrajectoryProcessor with an in-memory sink).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import uuid
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult, SimpleSpanProcessor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from agenttrace import CallbackHandler  # noqa: E402
from agenttrace.profiling import TrajectoryProcessor  # noqa: E402
from conftest import ask, build_agent  # noqa: E402


class CountingExporter(SpanExporter):
    """Keeps only what the figures need: root agent spans and their trace ids."""

    def __init__(self):
        self.roots = 0
        self.parented_roots = 0
        self.traces: set = set()

    def export(self, spans):
        for s in spans:
            if s.name == "invoke_agent support-bot":
                self.roots += 1
                self.traces.add(s.context.trace_id)
                if s.parent is not None:
                    self.parented_roots += 1
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass


class Sink:
    def __init__(self):
        self.rows = 0

    def write(self, trajectories):
        self.rows += sum(1 for t in trajectories if t.segments.get("agent") == "support-bot")

    def flush(self):
        pass

    def close(self):
        pass


def rss_mib() -> float:
    """Current resident set size (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--abandon-every", type=int, default=20)
    parser.add_argument("--max-open-runs", type=int, default=10_000, help="the handler's registry bound (default as shipped)")
    args = parser.parse_args()

    exporter, sink = CountingExporter(), Sink()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    profiler = TrajectoryProcessor(sink, max_wait=0.2)
    provider.add_span_processor(profiler)
    handler = CallbackHandler(provider, max_open_runs=args.max_open_runs)
    graph = build_agent()
    config = {"callbacks": [handler]}

    graph.invoke(ask(), config=config)  # warm-up: imports, caches
    gc.collect()
    base = rss_mib()
    start = time.perf_counter()
    abandoned = 0
    print(f"RSS after warm-up: {base:.1f} MiB")
    print(f"{'runs':>7} {'RSS MiB':>8} {'growth MiB':>11} {'open runs':>10} {'s':>6}")
    for i in range(1, args.runs + 1):
        if i % args.abandon_every == 0:
            handler.on_chain_start({}, {}, run_id=uuid.uuid4(), name="abandoned")
            abandoned += 1
        graph.invoke(ask(), config=config)
        if i % max(1, args.runs // 5) == 0:
            gc.collect()
            rss = rss_mib()
            print(f"{i:>7} {rss:>8.1f} {rss - base:>11.1f} {len(handler.runs):>10} {time.perf_counter() - start:>6.1f}")
    profiler.force_flush()
    time.sleep(0.5)
    profiler.force_flush()
    print(f"\n{args.runs} agent runs, {abandoned} abandoned runs started in the same thread")
    print(f"separate traces: {len(exporter.traces)} of {exporter.roots} root agent spans "
          f"({exporter.parented_roots} parented under another span)")
    print(f"trajectory rows written: {sink.rows} of {args.runs}")
    print(f"expired runs: {handler.runs.expired}, internal errors: {handler.internal_errors}")


if __name__ == "__main__":
    main()
