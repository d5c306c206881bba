"""What the GenAI metrics cost per model-call span: on the agent's thread (``on_end``: a deque append)
and on the background thread (recording the histogram points and counters into the SDK).

Run on demand (this is not a test)::

    python benchmarks/genai_metrics_hot_path.py            # 2,000 real model-call spans, 7 rounds
"""

from __future__ import annotations

import argparse
import statistics
import time

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agenttrace
from agenttrace import semconv as sc
from agenttrace.export import DropCounter
from agenttrace.genai_metrics import GenAIMetrics
from agenttrace.testing import ScriptedChatModel


def model_spans(count: int) -> list:
    """``count`` finished chat spans as agenttrace exports them (two models, token usage, attributes)."""
    provider, exporter = TracerProvider(), InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = agenttrace.configure(tracer_provider=provider, set_global=False, handle_sigterm=False, retry_monitor=False)
    models = [ScriptedChatModel(model=name, replies=["Your order shipped yesterday."]) for name in ("gpt-4o", "gpt-4o-mini")]
    for i in range(count):
        models[i % 2].invoke("Where is my order?", config={"callbacks": [telemetry.callback_handler]})
    return [s for s in exporter.get_finished_spans() if s.attributes.get(sc.OPERATION) == sc.OP_CHAT]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    spans = model_spans(args.spans)
    recorder = GenAIMetrics(MeterProvider(metric_readers=[InMemoryMetricReader()]), DropCounter(), start=False)
    agent, background = [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter_ns()
        for span in spans:
            recorder.on_end(span)
        t1 = time.perf_counter_ns()
        recorder.drain()
        t2 = time.perf_counter_ns()
        agent.append((t1 - t0) / len(spans))
        background.append((t2 - t1) / len(spans))
    print(f"{len(spans)} chat spans x {args.rounds} rounds (per span: 1 duration point, 2 token-usage points)")
    print(f"agent's thread (on_end):        median {statistics.median(agent) / 1e3:.2f} us/span "
          f"(min {min(agent) / 1e3:.2f})")
    print(f"background thread (recording):  median {statistics.median(background) / 1e3:.1f} us/span "
          f"(min {min(background) / 1e3:.1f})")


if __name__ == "__main__":
    main()
