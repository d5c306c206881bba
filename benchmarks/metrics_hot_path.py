"""Hot-path cost of metrics: the same agent with metrics off vs the full profile on every step.

    python benchmarks/metrics_hot_path.py [--runs 200]

The tests' LangGraph support agent (3 chat calls, 2 tool calls per run) is traced with agenttrace
into memory, once without metric profiles and once with refusal + relevance + light metrics on
every chat and tool step (sample rate 1.0, LangKitScorer on the background worker). Modes are
interleaved run by run in one process. Prints the median wall time per run of each and the added
time per LLM call at the median. Scoring itself happens on the worker thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import ask, build_agent  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agenttrace import CallbackHandler
    from agenttrace.metrics import MetricsEngine, load
    from agenttrace_langkit import LangKitScorer

    profiles = load({"profiles": {"full": {"metrics": ["refusal_similarity", "relevance", "response_length", "empty_output", "latency_ms"],
                                           "thresholds": {"refusal_similarity": 0.4}}},
                     "rules": [{"match": {"kind": "llm"}, "profile": "full"}, {"match": {"kind": "tool"}, "profile": "full"}]})
    scorer = LangKitScorer()
    scorer.score([("warm", "up")], ["relevance", "refusal_similarity"])

    def handler(metrics):
        tp = TracerProvider()
        tp.add_span_processor(BatchSpanProcessor(InMemorySpanExporter(), max_queue_size=1_000_000))
        return CallbackHandler(tp, metrics=metrics), tp

    off, _ = handler(None)
    engine = MetricsEngine(profiles, scorer, queue_size=1_000_000)
    on, _ = handler(engine)
    graph = build_agent()
    times = {"metrics off": [], "full profile": []}
    for _ in range(20):
        graph.invoke(ask(), config={"callbacks": [off]})
        graph.invoke(ask(), config={"callbacks": [on]})
    engine.flush(120)
    for i in range(args.runs):
        order = [("metrics off", off), ("full profile", on)] if i % 2 == 0 else [("full profile", on), ("metrics off", off)]
        for name, h in order:
            t0 = time.perf_counter()
            graph.invoke(ask(f"Where is my order A{i}?"), config={"callbacks": [h]})
            times[name].append(time.perf_counter() - t0)
    engine.flush(300)
    base = statistics.median(times["metrics off"])
    full = statistics.median(times["full profile"])
    print(f"{'mode':<16}{'median ms/run':>15}")
    for name, values in times.items():
        print(f"{name:<16}{statistics.median(values) * 1e3:>15.3f}")
    print(f"added per run: {(full - base) * 1e3:.3f} ms; per LLM call (3 per run): {(full - base) * 1e3 / 3:.3f} ms "
          f"(5 scored steps per run: {(full - base) * 1e3 / 5:.3f} ms per step)")
    print(f"steps scored on the worker: {engine.scored}, skipped: {engine.skipped}, failed: {engine.failed}")


if __name__ == "__main__":
    main()
