"""A small offline support agent, traced by agenttrace, printed as a span tree.

    python examples/console_tree.py            # spans in memory, printed as a tree
    python examples/console_tree.py --otlp     # also export to OTEL_EXPORTER_OTLP_* / local Phoenix

The agent is a real LangGraph graph: an LLM node (a scripted chat model, so it runs offline),
a tool node, a conditional edge between them, and a flaky provider call wrapped in with_retry.
"""

from __future__ import annotations

import argparse
import operator
from typing import Annotated

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, tools_condition
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from typing_extensions import TypedDict

import agenttrace
from agenttrace.testing import ScriptedChatModel, span_tree


@tool
def order_status(order_id: str) -> str:
    """Look up the shipping status of an order."""
    return f"order {order_id} shipped yesterday"


@tool
def start_return(order_id: str, reason: str) -> str:
    """Start a return for an order."""
    return f"return started for {order_id}"


def reply(messages):
    done = sum(1 for m in messages if m.type == "tool")
    if done == 0:
        return AIMessage(content="", tool_calls=[{"name": "order_status", "args": {"order_id": "A1"}, "id": "call_1"}])
    if done == 1:
        return AIMessage(content="", tool_calls=[{"name": "start_return", "args": {"order_id": "A1", "reason": "size"}, "id": "call_2"}])
    return AIMessage(content="Your order A1 shipped; I started the return.")


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    attempts: Annotated[int, operator.add]


def build_agent():
    model = ScriptedChatModel(replies=[reply], model="gpt-4o", response_model="gpt-4o-2024-08-06", system_fingerprint="fp_demo")
    calls = {"n": 0}

    def call_provider(messages):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("429 Too Many Requests")  # the first call is rate-limited
        return model.invoke(messages)

    provider = RunnableLambda(call_provider, name="provider").with_retry(stop_after_attempt=3, wait_exponential_jitter=False)

    def agent(state: State):
        return {"messages": [provider.invoke(state["messages"])], "attempts": 1}

    g = StateGraph(State)
    g.add_node("agent", agent)
    g.add_node("tools", ToolNode([order_status, start_return]))
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", tools_condition)
    g.add_edge("tools", "agent")
    return g.compile(name="support-bot")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--otlp", action="store_true", help="also export over OTLP (OTEL_EXPORTER_OTLP_* or local Phoenix)")
    parser.add_argument("--no-content", action="store_true", help="do not capture prompts/responses")
    args = parser.parse_args()

    memory = InMemorySpanExporter()
    if args.otlp:
        telemetry = agenttrace.configure(project="agenttrace-example", capture_content=not args.no_content)
        telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    else:
        telemetry = agenttrace.configure(project="agenttrace-example", span_exporter=memory, batch=False,
                                         capture_content=not args.no_content)

    result = build_agent().invoke(
        {"messages": [HumanMessage("Where is my order A1? I'd like to return it.")], "attempts": 0},
        config={"callbacks": [telemetry.callback_handler], "metadata": {"segment": "returns", "prompt_template": "support-v2"},
                "configurable": {"thread_id": "demo-session-1"}},
    )
    telemetry.flush()
    print("agent answered:", result["messages"][-1].content)
    print()
    print(span_tree(memory.get_finished_spans(), [
        "gen_ai.response.model", "gen_ai.tool.call.id", "agenttrace.retry.attempt", "agenttrace.retry.count",
        "agenttrace.route.target", "gen_ai.usage.output_tokens",
    ]))
    if args.otlp:
        print(f"\nalso exported to {telemetry.endpoint} ({telemetry.protocol}); dropped spans: {telemetry.dropped_spans}")
    telemetry.shutdown()


if __name__ == "__main__":
    main()
