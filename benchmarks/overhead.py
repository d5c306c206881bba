"""Per-run tracing overhead of a LangGraph tool-calling agent: untraced vs agenttrace (GenAI metrics
off and on) vs OpenInference.

Run on demand (this is not a test)::

    pip install -e '.[bench]'
    python benchmarks/overhead.py                    # 5 rounds x 200 runs per mode
    python benchmarks/overhead.py --runs 50 --rounds 3

All three modes are measured in one process, interleaved: in every round each mode does ``--runs``
timed runs, alternating with the other modes every ``--slice`` runs, and the mode order rotates each
round, so that bursts of noise on a shared machine hit every mode alike. Both tracers export through the same
kind of pipeline (a BatchSpanProcessor into an InMemorySpanExporter, same queue size and schedule
delay), each on its own fresh SDK TracerProvider; neither is active while the other is measured.
"agenttrace + metrics" is the same agenttrace pipeline with ``configure(metrics=...)`` recording the
GenAI client metrics and agenttrace counters into an SDK MeterProvider (an in-memory reader, collected
once per block like a scrape: recording is the cost on the agent's thread whatever the exporter).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Optional

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agenttrace
from agenttrace.testing import ScriptedChatModel

FINAL_ANSWER = "It is 21 C in Paris; 21 + 2 = 23, so bring a light jacket."

# Same export pipeline settings for both tracers. The queue is large enough that no span is dropped
# within one measured block; the schedule delay is agenttrace's default (the SDK's is 5 s).
QUEUE_SIZE = 1 << 16
SCHEDULE_DELAY_MS = 1000
EXPORT_BATCH = 512


# ----------------------------------------------------------------------------- the agent


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: 21 C, light wind, no rain"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def lookup_user(user_id: str) -> dict:
    """Profile of a user."""
    return {"id": user_id, "name": "Ada", "city": "Paris"}


TOOLS = [get_weather, add, lookup_user]


def build_graph() -> Any:
    """agent -> tools -> agent -> tools -> agent: 3 model calls, 2 tool calls, 5 node steps per run."""
    model = ScriptedChatModel(
        model="gpt-4o-mini",
        replies=[
            AIMessage(content="", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_weather"}]),
            AIMessage(content="", tool_calls=[{"name": "add", "args": {"a": 21, "b": 2}, "id": "call_add"}]),
            FINAL_ANSWER,
        ],
    ).bind_tools(TOOLS)

    def agent(state: MessagesState) -> dict:
        return {"messages": [model.invoke(state["messages"])]}

    def route(state: MessagesState) -> str:
        last = state["messages"][-1]
        return "tools" if getattr(last, "tool_calls", None) else END

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode(TOOLS))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route, ["tools", END])
    builder.add_edge("tools", "agent")
    return builder.compile()


def make_inputs() -> dict:
    return {"messages": [HumanMessage(content="What's the weather in Paris, and what is that temperature plus 2?")]}


def check_result(result: dict) -> None:
    messages = result["messages"]
    kinds = [m.type for m in messages]
    expected = ["human", "ai", "tool", "ai", "tool", "ai"]
    if kinds != expected or messages[-1].content != FINAL_ANSWER:
        raise SystemExit(f"unexpected agent run: {kinds} / {messages[-1].content!r} (expected {expected})")


# ----------------------------------------------------------------------------- the modes


def fresh_pipeline() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=QUEUE_SIZE,
                                                   schedule_delay_millis=SCHEDULE_DELAY_MS,
                                                   max_export_batch_size=EXPORT_BATCH))
    return provider, exporter


@dataclass
class Mode:
    name: str
    label: str
    enter: Callable[[], None] = lambda: None  # switch this mode's tracing on (not timed)
    leave: Callable[[], None] = lambda: None  # switch it off again (not timed)
    config: Optional[dict] = None
    flush: Callable[[], bool] = lambda: True
    exporter: Optional[InMemorySpanExporter] = None
    times_ns: list = field(default_factory=list)
    round_medians_ns: list = field(default_factory=list)
    runs: int = 0
    spans: int = 0
    attributes: int = 0
    attr_chars: int = 0
    events: int = 0


def make_modes(capture_content: bool) -> tuple[list[Mode], Any, Any]:
    untraced = Mode("untraced", "untraced")

    # agenttrace: configure() adds its own batch processor (a bounded wrapper around the SDK's
    # BatchSpanProcessor) to the provider we pass; same queue size and delay as OpenInference's.
    at_exporter = InMemorySpanExporter()
    at_provider = TracerProvider()
    telemetry = agenttrace.configure(project="bench", span_exporter=at_exporter, tracer_provider=at_provider,
                                     set_global=False, capture_content=capture_content,
                                     max_queue_size=QUEUE_SIZE, schedule_delay_millis=SCHEDULE_DELAY_MS)
    at = Mode("agenttrace", "agenttrace (callback)", config={"callbacks": [telemetry.callback_handler]},
              flush=lambda: telemetry.flush(30.0), exporter=at_exporter)

    from openinference.instrumentation.langchain import LangChainInstrumentor

    oi_provider, oi_exporter = fresh_pipeline()

    def oi_enter() -> None:
        LangChainInstrumentor().instrument(tracer_provider=oi_provider)

    def oi_leave() -> None:
        LangChainInstrumentor().uninstrument()

    oi = Mode("openinference", "OpenInference (instrumentor)", enter=oi_enter, leave=oi_leave,
              flush=lambda: oi_provider.force_flush(30_000), exporter=oi_exporter)

    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    atm_exporter = InMemorySpanExporter()
    atm = agenttrace.configure(project="bench", span_exporter=atm_exporter, tracer_provider=TracerProvider(),
                               set_global=False, capture_content=capture_content, max_queue_size=QUEUE_SIZE,
                               schedule_delay_millis=SCHEDULE_DELAY_MS, metrics=MeterProvider(metric_readers=[reader]))
    with_metrics = Mode("agenttrace+metrics", "agenttrace + GenAI metrics", config={"callbacks": [atm.callback_handler]},
                        flush=lambda: atm.flush(30.0) and reader.collect() is None, exporter=atm_exporter)
    return [untraced, at, oi, with_metrics], telemetry, LangChainInstrumentor


def run_block(mode: Mode, graph: Any, runs: int, count: bool, all_modes: list[Mode]) -> list[int]:
    """``runs`` timed invocations of one mode; tracing is switched on/off outside the timed region."""
    before = {m.name: len(m.exporter.get_finished_spans()) for m in all_modes if m.exporter is not None}
    mode.enter()
    try:
        times = []
        config = mode.config
        for _ in range(runs):
            inputs = make_inputs()
            t0 = time.perf_counter_ns()
            result = graph.invoke(inputs, config=config) if config is not None else graph.invoke(inputs)
            times.append(time.perf_counter_ns() - t0)
            check_result(result)
    finally:
        mode.leave()
    for m in all_modes:
        if not m.flush():
            print(f"warning: {m.name} flush timed out", file=sys.stderr)
    # isolation: only the measured mode's exporter may have received spans during this block
    for m in all_modes:
        if m.exporter is None:
            continue
        got = len(m.exporter.get_finished_spans()) - before[m.name]
        if m is not mode and got:
            raise SystemExit(f"isolation broken: {m.name} emitted {got} span(s) while {mode.name} was measured")
        if m is mode and got == 0:
            raise SystemExit(f"{mode.name} emitted no spans")
    if mode.exporter is not None:
        spans = mode.exporter.get_finished_spans()
        if count:
            mode.spans += len(spans)
            for s in spans:
                attrs = s.attributes or {}
                mode.attributes += len(attrs)
                mode.attr_chars += sum(len(str(v)) for v in attrs.values())
                mode.events += len(s.events)
        mode.exporter.clear()
    if count:
        mode.runs += runs
    return times


# ----------------------------------------------------------------------------- reporting


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def ms(ns: float) -> str:
    return f"{ns / 1e6:.3f}"


def report(modes: list[Mode], args: argparse.Namespace, telemetry: Any, elapsed: float) -> None:
    untraced, at, oi = modes[:3]
    med = {m.name: statistics.median(m.times_ns) for m in modes}
    added = {m.name: med[m.name] - med["untraced"] for m in modes}

    rows = []
    for m in modes:
        lo, hi = min(m.round_medians_ns), max(m.round_medians_ns)
        p90 = statistics.quantiles(m.times_ns, n=10)[-1]
        per_run = (lambda v: f"{v / m.runs:.1f}") if m.runs else (lambda v: "0")
        rows.append([
            m.label,
            ms(med[m.name]),
            f"{ms(lo)}-{ms(hi)}",
            ms(p90),
            "-" if m is untraced else f"{added[m.name] / 1e6:+.3f}",
            "-" if m is untraced else f"{med[m.name] / med['untraced']:.2f}x",
            per_run(m.spans) if m.exporter else "-",
            per_run(m.attributes) if m.exporter else "-",
            per_run(m.attr_chars) if m.exporter else "-",
            per_run(m.events) if m.exporter else "-",
        ])
    headers = ["mode", "median ms/run", "round medians (min-max)", "p90 ms", "added ms/run", "vs untraced",
               "spans/run", "attrs/run", "attr chars/run", "events/run"]

    pv = sys.version.split()[0]
    print()
    print(f"python {pv} ({platform.python_implementation()}, {platform.machine()}, {os.cpu_count()} CPUs)  "
          f"langchain-core {version('langchain-core')}  langgraph {version('langgraph')}  "
          f"openinference-instrumentation-langchain {version('openinference-instrumentation-langchain')}  "
          f"opentelemetry-sdk {version('opentelemetry-sdk')}  agenttrace {version('agenttrace')}")
    print(f"agent: LangGraph StateGraph agent<->ToolNode, ScriptedChatModel; per run 3 model calls, 2 tool calls, "
          f"5 node steps")
    print(f"{args.rounds} rounds x {args.runs} runs per mode; modes alternate every {args.slice} runs, order rotated "
          f"per round; {args.warmup} warm-up runs per mode; {elapsed:.0f} s total")
    print(f"export: BatchSpanProcessor(max_queue_size={QUEUE_SIZE}, schedule_delay={SCHEDULE_DELAY_MS} ms) -> "
          f"InMemorySpanExporter for both tracers, each on its own TracerProvider")
    print(f"content capture: agenttrace {'on' if args.capture_content else 'off (its default)'}, "
          f"OpenInference on (its default)")
    print()
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(show_lines=False)
        for i, h in enumerate(headers):
            table.add_column(h, justify="left" if i == 0 else "right")
        for r in rows:
            table.add_row(*r)
        Console(width=200).print(table)
    except ImportError:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
        print(line(headers))
        print(line(["-" * w for w in widths]))
        for r in rows:
            print(line(r))
    print()
    if added["openinference"] > 0:
        print(f"agenttrace added time / OpenInference added time: {added['agenttrace'] / added['openinference']:.2f}")
    else:
        print("OpenInference added no measurable time; ratio of added times undefined")
    if at.spans and oi.spans:
        print(f"agenttrace emits {at.spans / oi.spans:.2f}x the spans and {at.attributes / oi.attributes:.2f}x the "
              f"attributes of OpenInference; added time per span: agenttrace "
              f"{added['agenttrace'] / 1e3 / (at.spans / at.runs):.1f} us, OpenInference "
              f"{added['openinference'] / 1e3 / (oi.spans / oi.runs):.1f} us")
    if len(modes) > 3:
        print(f"GenAI metrics: added ms/run with metrics off {added['agenttrace'] / 1e6:+.3f}, on "
              f"{added['agenttrace+metrics'] / 1e6:+.3f}; metrics cost {(med['agenttrace+metrics'] - med['agenttrace']) / 1e3:+.1f} us/run "
              f"({(med['agenttrace+metrics'] - med['agenttrace']) / 1e3 / 3:+.1f} us per model call, 3 per run)")
    handler = telemetry.callback_handler
    print(f"agenttrace dropped spans: {telemetry.dropped_spans}, internal errors: {handler.internal_errors}")


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs per mode per round (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the mode order rotates each round (default 5)")
    parser.add_argument("--slice", type=int, default=25,
                        help="within a round the modes alternate every this many runs (default 25)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed warm-up runs per mode (default 20)")
    parser.add_argument("--capture-content", action="store_true",
                        help="let agenttrace export prompts/responses too (OpenInference always does)")
    args = parser.parse_args(argv)
    if min(args.runs, args.rounds, args.slice) < 1:
        parser.error("--runs, --rounds and --slice must be >= 1")

    graph = build_graph()
    modes, telemetry, instrumentor = make_modes(args.capture_content)
    started = time.perf_counter()

    for mode in modes:  # warm up every code path (imports, caches, tracer creation)
        run_block(mode, graph, args.warmup, count=False, all_modes=modes)

    for r in range(args.rounds):
        order = modes[r % len(modes):] + modes[: r % len(modes)]
        round_times: dict = {m.name: [] for m in modes}
        done = 0
        while done < args.runs:  # within a round the modes alternate in short slices
            n = min(args.slice, args.runs - done)
            for mode in order:
                gc.collect()
                round_times[mode.name].extend(run_block(mode, graph, n, count=True, all_modes=modes))
            done += n
        for mode in modes:
            mode.times_ns.extend(round_times[mode.name])
            mode.round_medians_ns.append(statistics.median(round_times[mode.name]))
        print(f"round {r + 1}/{args.rounds}: " + "  ".join(
            f"{m.name} {ms(m.round_medians_ns[-1])} ms" for m in modes), flush=True)

    report(modes, args, telemetry, time.perf_counter() - started)
    telemetry.shutdown()
    if instrumentor().is_instrumented_by_opentelemetry:
        instrumentor().uninstrument()


if __name__ == "__main__":
    main()
