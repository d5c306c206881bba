"""Hot-path cost of the retry monitor with no failures: the same agent with and without it.

    python benchmarks/retry_monitor_hot_path.py [--runs 400]

The tests' LangGraph support agent (3 chat calls, 2 tool calls, 5 node steps: 14 spans per run)
is traced by agenttrace into memory, once with ``retry_monitor=False`` and once with the monitor on
(the default). Modes are interleaved run by run in one process; prints the median wall time per run
of each and the added time per run. The agent's thread only appends finished spans to the monitor's
queue (and, while a storm is under way, looks up the span's provider/model at start); deciding
happens on the monitor's thread.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import ask, build_agent  # noqa: E402


def callbacks(graph, runs: int = 300) -> None:
    """What the monitor's own callbacks cost on the agent's thread: on_start + on_end for the spans
    of one run, timed directly (no storm; and while a storm on the agent's model is under way)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agenttrace import CallbackHandler
    from agenttrace.retry_monitor import RetryMonitor

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    graph.invoke(ask(), config={"callbacks": [CallbackHandler(provider)]})
    spans = exporter.get_finished_spans()
    live = [provider.get_tracer("bench").start_span(s.name, attributes=s.attributes) for s in spans]
    for storm in (False, True):
        monitor = RetryMonitor(start=False)
        if storm:
            monitor._marks = {("openai", "gpt-4o-mini"): {"agenttrace.retry_storm.kind": "storm"},
                              ("openai", "other"): {"agenttrace.retry_storm.kind": "storm"}}
        t0 = time.perf_counter()
        for _ in range(runs):
            for span, done in zip(live, spans):
                monitor.on_start(span)
                monitor.on_end(done)
            monitor._queue.clear()
        per_run = (time.perf_counter() - t0) / runs
        print(f"monitor callbacks on the agent's thread ({len(spans)} spans/run, "
              f"{'storm under way: events added' if storm else 'no storm'}): {per_run * 1e3:.4f} ms per run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=400)
    args = parser.parse_args()

    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import agenttrace

    def make(monitor):
        return agenttrace.configure(project="bench", span_exporter=InMemorySpanExporter(), set_global=False,
                                    handle_sigterm=False, retry_monitor=monitor)

    modes = {"monitor off": make(False), "monitor on": make(True)}
    graph = build_agent()
    for _ in range(20):
        for t in modes.values():
            graph.invoke(ask(), config={"callbacks": [t.callback_handler]})
    times = {name: [] for name in modes}
    for i in range(args.runs):
        order = list(modes.items()) if i % 2 == 0 else list(reversed(modes.items()))
        for name, t in order:
            t0 = time.perf_counter()
            graph.invoke(ask(f"Where is my order A{i}?"), config={"callbacks": [t.callback_handler]})
            times[name].append(time.perf_counter() - t0)
    on = modes["monitor on"]
    on.retry_monitor.force_flush()
    base, full = (statistics.median(times[k]) for k in ("monitor off", "monitor on"))
    paired = statistics.median(b - a for a, b in zip(times["monitor off"], times["monitor on"]))
    print(f"{'mode':<14}{'median ms/run':>15}")
    for name, values in times.items():
        print(f"{name:<14}{statistics.median(values) * 1e3:>15.3f}")
    print(f"added per run: {(full - base) * 1e3:.4f} ms (difference of medians), {paired * 1e3:.4f} ms "
          f"(median of run-by-run differences); target <= 0.05 ms")
    callbacks(graph)
    snapshot = on.retry_monitor.snapshot()
    print(f"monitor saw {snapshot['totals']['calls']} model calls, {snapshot['totals']['attempts']} attempts, "
          f"storms {snapshot['storms']}, herds {snapshot['herds']}, dropped {snapshot['dropped']}")
    for t in modes.values():
        t.shutdown()


if __name__ == "__main__":
    main()
