"""Exported bytes per span for each ``content_format`` (serialized OTLP protobuf, as sent to Phoenix).

Run on demand::

    python benchmarks/content_bytes.py            # the table of docs/benchmarks.md
    python benchmarks/content_bytes.py --turns 10 # a longer thread for the last row

Each agent of ``tests/agent_shapes.py`` runs once per format with content capture on (and once with
capture off, the floor); the finished spans are encoded with the OTLP exporter's own encoder
(``encode_spans(...).SerializeToString()``, the body of an OTLP/HTTP request). Figures: mean bytes
per span over all spans of the run, and mean bytes per model-call (LLM) span, whose messages are
what the formats duplicate. The last row is the final turn of a thread on a checkpointer, where the
model's input holds the whole conversation so far.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Optional

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import agent_shapes as shapes  # noqa: E402

from agenttrace import CallbackHandler  # noqa: E402

FORMATS = ("openinference", "genai", "both")


def _thread(turns: int) -> Callable[[list], Any]:
    def run(callbacks: list) -> Any:
        from langgraph.checkpoint.memory import InMemorySaver

        agent, inputs = shapes.react_agent()
        agent.checkpointer = InMemorySaver()
        config = {"callbacks": [], "configurable": {"thread_id": "bench"}}
        for i in range(turns - 1):  # earlier turns: untraced, they only fill the thread
            agent.invoke(shapes.ask(f"{shapes.QUESTION} (turn {i + 1})"), config)
        return agent.invoke(inputs, {**config, "callbacks": callbacks})

    return run


def _shape(factory: Callable[[], tuple]) -> Callable[[list], Any]:
    def run(callbacks: list) -> Any:
        runnable, inputs = factory()
        return runnable.invoke(inputs, {"callbacks": callbacks, "configurable": {"thread_id": "bench"}})

    return run


def agents(turns: int) -> dict[str, Callable[[list], Any]]:
    return {
        "create_react_agent": _shape(shapes.react_agent),
        "create_agent": _shape(shapes.langchain_agent),
        "AgentExecutor": _shape(shapes.agent_executor),
        "supervisor": _shape(shapes.supervisor),
        "swarm": _shape(shapes.swarm),
        "prompt → chat model": _shape(shapes.prompt_chain),
        f"create_react_agent, turn {turns} of a thread": _thread(turns),
    }


def measure(run: Callable[[list], Any], fmt: Optional[str]) -> tuple[float, float, int]:
    """(bytes per span, bytes per LLM span, spans) of one run; ``fmt`` None = capture off."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    handler = CallbackHandler(provider, capture_content=fmt is not None, content_format=fmt or "both")
    run([handler])
    spans = exporter.get_finished_spans()
    llm = [s for s in spans if s.attributes.get("openinference.span.kind") == "LLM"]
    size = len(encode_spans(spans).SerializeToString())
    llm_size = len(encode_spans(llm).SerializeToString()) if llm else 0
    return size / len(spans), llm_size / max(len(llm), 1), len(spans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=5, help="turns of the thread in the last row (default 5)")
    args = parser.parse_args()
    print("| agent | spans | capture off | " + " | ".join(FORMATS) + " |")
    print("|---|---|---|" + "---|" * len(FORMATS))
    totals = {f: [0.0, 0.0] for f in (None, *FORMATS)}
    for name, run in agents(args.turns).items():
        cells, spans = [], 0
        for fmt in (None, *FORMATS):
            per_span, per_llm, spans = measure(run, fmt)
            totals[fmt][0] += per_span
            totals[fmt][1] += per_llm
            cells.append(f"{per_span:,.0f} / {per_llm:,.0f}")
        print(f"| {name} | {spans} | " + " | ".join(cells) + " |")
    n = len(agents(args.turns))
    print("| **mean** | | " + " | ".join(f"**{t[0] / n:,.0f} / {t[1] / n:,.0f}**" for t in totals.values()) + " |")
    print("\nbytes per span / bytes per LLM span, serialized OTLP protobuf (ExportTraceServiceRequest)")


if __name__ == "__main__":
    main()
