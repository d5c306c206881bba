"""End to end against a real Phoenix server (started once per test session, see phoenix_fixtures.py).

A real LangGraph agent (retriever + embeddings, an LLM with tools, a conditional edge) is traced
by agenttrace and exported over OTLP/HTTP or OTLP/gRPC; every span is also kept in memory, so
what Phoenix stored can be compared span by span with what the agent did.
"""

from __future__ import annotations

import json
import uuid

import pytest
from langchain_core.documents import Document
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableLambda
from langgraph.graph import START, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agenttrace
from conftest import AgentState, Catalog, HashEmbeddings, order_status, start_return, support_model

pytestmark = [pytest.mark.phoenix, pytest.mark.phoenix_databases]  # also against PostgreSQL-backed Phoenix

LIGHT_PROFILE = {
    "profiles": {"copy": {"metrics": ["response_length", "latency_ms", "output_tokens"], "thresholds": {"response_length": 30}}},
    "rules": [{"match": {"operation": "chat"}, "profile": "copy"}],
}


def build_agent(tracer_provider):
    """retrieve (retriever → embeddings) → agent ⇄ tools, a conditional edge between them."""
    catalog = Catalog(docs=[Document("Returns: 30 days, free for shoes"), Document("Shipping: 2 days")],
                      embeddings=agenttrace.traced_embeddings(HashEmbeddings(), tracer_provider=tracer_provider))
    model = support_model()

    def retrieve(state: AgentState, config):
        docs = catalog.invoke(state["messages"][-1].content, config)
        return {"messages": [HumanMessage(f"policy: {' | '.join(d.page_content for d in docs)}")]}

    def agent(state: AgentState, config):
        return {"messages": [model.invoke(state["messages"], config)]}

    g = StateGraph(AgentState)
    g.add_node("retrieve", RunnableLambda(retrieve, name="retrieve"))
    g.add_node("agent", RunnableLambda(agent, name="agent"))
    g.add_node("tools", ToolNode([order_status, start_return]))
    g.add_edge(START, "retrieve")
    g.add_edge("retrieve", "agent")
    g.add_conditional_edges("agent", tools_condition)
    g.add_edge("tools", "agent")
    return g.compile(name="support-bot")


def run_agent(phoenix_server, protocol: str, *, sessions=("s-1", "s-2"), capture_content=True):
    """Run the agent once per session into a fresh Phoenix project; returns (project, local spans)."""
    project = f"e2e-{protocol.split('/')[0]}-{uuid.uuid4().hex[:8]}"
    endpoint = phoenix_server.otlp_http_endpoint if protocol == "http/protobuf" else phoenix_server.otlp_grpc_endpoint
    memory = InMemorySpanExporter()
    at = agenttrace.configure(project=project, endpoint=endpoint, protocol=protocol, capture_content=capture_content,
                              profiles=LIGHT_PROFILE, set_global=False)
    at.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    graph = build_agent(at.tracer_provider)
    for session in sessions:
        graph.invoke({"messages": [HumanMessage("Where is my order A1? I want to return the shoes.")]},
                     config={"callbacks": [at.callback_handler], "configurable": {"thread_id": session},
                             "metadata": {"segment": "returns", "prompt_template": "support-v2"}, "tags": ["e2e"]})
    assert at.flush(30)
    at.shutdown()
    assert at.dropped_spans == 0
    return project, memory.get_finished_spans()


def hexid(n: int, width: int) -> str:
    return format(n, f"0{width}x")


def assert_same_tree(local, stored):
    """Every local span arrived once, with the same name, trace and parent."""
    by_id = {s["context"]["span_id"]: s for s in stored}
    assert len(by_id) == len(stored) == len(local)
    for span in local:
        got = by_id[hexid(span.context.span_id, 16)]
        assert got["name"] == span.name
        assert got["context"]["trace_id"] == hexid(span.context.trace_id, 32)
        parent = hexid(span.parent.span_id, 16) if span.parent is not None else None
        assert got["parent_id"] == parent, f"{span.name}: parent {got['parent_id']} != {parent}"


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_every_span_kind_arrives_with_the_agents_tree(phoenix_server, phoenix_store, protocol):
    project, local = run_agent(phoenix_server, protocol)
    stored = phoenix_store.wait_for_spans(project, len(local), timeout=60)
    assert_same_tree(local, stored)
    kinds = {s["span_kind"] for s in stored}
    assert {"AGENT", "CHAIN", "LLM", "TOOL", "RETRIEVER", "EMBEDDING"} <= kinds
    roots = [s for s in stored if s["parent_id"] is None]
    assert len(roots) == 2 and {r["name"] for r in roots} == {"invoke_agent support-bot"}
    assert {r["span_kind"] for r in roots} == {"AGENT"}
    # graph nodes are CHAIN spans directly under the agent, with the tool/LLM spans inside them
    by_id = {s["context"]["span_id"]: s for s in stored}
    for s in stored:
        if s["span_kind"] == "TOOL":
            assert by_id[s["parent_id"]]["name"] == "tools"
        if s["span_kind"] == "EMBEDDING":
            assert by_id[s["parent_id"]]["span_kind"] == "RETRIEVER"


def test_llm_and_tool_spans_render_with_model_tokens_and_arguments(phoenix_server, phoenix_store):
    project, local = run_agent(phoenix_server, "http/protobuf", sessions=("s-1",))
    stored = phoenix_store.wait_for_spans(project, len(local), timeout=60)
    llm = [s for s in stored if s["span_kind"] == "LLM"]
    assert len(llm) == 3
    for s in llm:
        a = s["attributes"]
        assert s["name"] == "chat gpt-4o"
        assert a["llm.model_name"] == "gpt-4o-2024-08-06" and a["gen_ai.request.model"] == "gpt-4o"
        assert a["llm.token_count.prompt"] > 0 and a["llm.token_count.total"] >= a["llm.token_count.prompt"]
        assert "input.value" in a and "output.value" in a
    tools = {s["attributes"]["tool.name"]: s["attributes"] for s in stored if s["span_kind"] == "TOOL"}
    assert set(tools) == {"order_status", "start_return"}
    assert json.loads(tools["start_return"]["input.value"]) == {"order_id": "A1", "reason": "too small"}
    assert tools["order_status"]["output.value"] == "order A1 shipped yesterday"
    agent_root = next(s for s in stored if s["span_kind"] == "AGENT")
    assert agent_root["attributes"]["gen_ai.agent.name"] == "support-bot"
    assert agent_root["attributes"]["metadata.segment"] == "returns"
    # the run's summed usage is on the agent span for GenAI backends, while Phoenix (which adds the LLM
    # spans' counts up the tree itself, and would derive them from gen_ai.usage.*) sees 0 of its own
    a = agent_root["attributes"]
    assert a["gen_ai.usage.input_tokens"] == sum(s["attributes"]["llm.token_count.prompt"] for s in llm) > 0
    assert a["gen_ai.provider.name"] == "openai" and a["gen_ai.request.model"] == "gpt-4o"
    assert a["llm.token_count.prompt"] == 0 and a["llm.token_count.completion"] == 0


def test_without_opt_in_no_content_reaches_phoenix(phoenix_server, phoenix_store):
    project, local = run_agent(phoenix_server, "http/protobuf", sessions=("s-1",), capture_content=False)
    stored = phoenix_store.wait_for_spans(project, len(local), timeout=60)
    assert len(stored) == len(local)
    text = json.dumps([s["attributes"] for s in stored])
    for secret in ("Where is my order", "shipped yesterday", "too small", "Returns: 30 days"):
        assert secret not in text
    assert all("input.value" not in s["attributes"] for s in stored)
    # the structure still renders: names, kinds, models and token counts are not content
    assert {s["attributes"].get("tool.name") for s in stored if s["span_kind"] == "TOOL"} == {"order_status", "start_return"}
    assert all(s["attributes"]["llm.token_count.total"] > 0 for s in stored if s["span_kind"] == "LLM")


def test_metric_attributes_metadata_and_sessions_are_queryable(phoenix_server, phoenix_store):
    from phoenix.client import Client
    from phoenix.client.types.spans import SpanQuery

    project, local = run_agent(phoenix_server, "http/protobuf", sessions=("conv-a", "conv-b", "conv-a"))
    phoenix_store.wait_for_spans(project, len(local), timeout=60)
    client = Client(base_url=phoenix_server.url)

    def count(where: str) -> int:
        return len(client.spans.get_spans_dataframe(query=SpanQuery().where(where), project_identifier=project))

    local_llm = [s for s in local if s.attributes.get("gen_ai.operation.name") == "chat"]
    flagged = [s for s in local_llm if s.attributes.get("agenttrace.review.required")]
    assert 0 < len(flagged) < len(local_llm)  # tool-call turns are short, the final answer is long
    assert count("agenttrace.metric.response_length >= 0") == len(local_llm)
    assert count("agenttrace.metric.response_length > 30") == len(flagged)
    assert count("agenttrace.review.required == True") == len(flagged)
    assert count("span_kind == 'LLM' and llm.token_count.total > 0") == len(local_llm)
    assert count("metadata['segment'] == 'returns'") == len(local) - sum(1 for s in local if s.name.startswith("embeddings"))

    sessions = {s["session_id"]: s for s in client.sessions.list(project_name=project)}
    assert set(sessions) == {"conv-a", "conv-b"}
    assert len(sessions["conv-a"]["traces"]) == 2 and len(sessions["conv-b"]["traces"]) == 1
    local_traces = {hexid(s.context.trace_id, 32) for s in local if s.parent is None and "conv-b" == s.attributes.get("session.id")}
    assert {t["trace_id"] for t in sessions["conv-b"]["traces"]} == local_traces
