"""Agent latency when the OTLP backend is healthy, down, refusing (503) or slow — side by side.

    python benchmarks/export_failure.py [--runs 100]

Each mode runs the same LangGraph tool-calling agent (scripted model, 5 steps) with agenttrace
exporting over OTLP/HTTP to a receiver on 127.0.0.1 (or to a closed port). Prints the median
per-run time of each mode and its ratio to the untraced agent and to the healthy backend, plus
spans dropped and the export queue's high-water mark. Spans are never exported on the agent's
thread, so all ratios to the healthy backend should be ~1.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import agenttrace  # noqa: E402
from conftest import ask, build_agent  # noqa: E402  (the tests' real LangGraph agent)
from otlp_receivers import HttpReceiver, closed_port_endpoint  # noqa: E402


def timed_runs(graph, runs: int, callbacks) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        graph.invoke(ask(), config={"callbacks": callbacks})
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    graph = build_agent()
    for _ in range(20):
        graph.invoke(ask())

    receivers = {"healthy": HttpReceiver("ok"), "503": HttpReceiver("503"), "slow (2 s)": HttpReceiver("slow", delay=2.0)}
    endpoints = {"healthy": receivers["healthy"].endpoint, "down (closed port)": closed_port_endpoint(),
                 "503": receivers["503"].endpoint, "slow (2 s)": receivers["slow (2 s)"].endpoint}
    results = {"untraced": timed_runs(graph, args.runs, [])}
    extra = {}
    for mode, endpoint in endpoints.items():
        t = agenttrace.configure(project="bench", endpoint=endpoint, set_global=False, max_queue_size=2048,
                                 schedule_delay_millis=200, export_timeout=2)
        times, high = [], 0
        for _ in range(args.runs):
            t0 = time.perf_counter()
            graph.invoke(ask(), config={"callbacks": [t.callback_handler]})
            times.append(time.perf_counter() - t0)
            high = max(high, t.processor.queued)
        results[mode] = times
        t.tracer_provider.shutdown()
        extra[mode] = (t.dropped_spans, high)

    base = statistics.median(results["untraced"])
    healthy = statistics.median(results["healthy"])
    print(f"{'mode':<20}{'median ms/run':>15}{'× untraced':>12}{'× healthy':>11}{'dropped':>9}{'max queued':>12}")
    for mode, times in results.items():
        m = statistics.median(times)
        dropped, high = extra.get(mode, ("-", "-"))
        print(f"{mode:<20}{m * 1e3:>15.2f}{m / base:>12.2f}{m / healthy:>11.2f}{dropped!s:>9}{high!s:>12}")
    for r in receivers.values():
        r.close()


if __name__ == "__main__":
    main()
