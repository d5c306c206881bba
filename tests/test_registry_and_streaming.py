"""Bounded run registry; streaming runs (sync, async, astream_events); instrument()."""

from __future__ import annotations

import asyncio
import contextvars
import time
import uuid

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableLambda
from opentelemetry import trace

import agenttrace
from agenttrace import CallbackHandler
from agenttrace import semconv as sc
from agenttrace.testing import ScriptedChatModel
from conftest import ask, build_agent


def test_runs_that_never_end_expire_and_are_exported_marked(provider, spans):
    handler = CallbackHandler(provider, run_ttl=0.05)
    for _ in range(20):  # like cancelled tasks: each run starts in its own context and never ends
        contextvars.copy_context().run(handler.on_chain_start, {}, {}, run_id=uuid.uuid4(), name="orphan")
    assert len(handler.runs) == 20
    time.sleep(0.06)
    contextvars.copy_context().run(handler.on_chain_start, {}, {}, run_id=uuid.uuid4(), name="fresh")
    assert len(handler.runs) == 1
    expired = spans().with_attr(sc.RUN_EXPIRED, True)
    assert len(expired) == 20 and handler.runs.expired == 20


def test_a_run_orphaned_in_this_context_does_not_adopt_later_runs(provider, spans):
    handler = CallbackHandler(provider, run_ttl=0.01)
    ctx = contextvars.copy_context()
    ctx.run(handler.on_chain_start, {}, {}, run_id=uuid.uuid4(), name="orphan")  # its context stays attached
    time.sleep(0.02)
    handler.runs.sweep()
    ctx.run(build_agent().invoke, ask(), {"callbacks": [handler]})
    s = spans()
    assert s.one("invoke_agent support-bot").parent is None


def test_registry_is_capped_in_size(provider, spans):
    handler = CallbackHandler(provider, max_open_runs=100)
    for _ in range(1_000):
        contextvars.copy_context().run(handler.on_tool_start, {"name": "t"}, "", run_id=uuid.uuid4())
    assert len(handler.runs) <= 100
    assert len(spans().with_attr(sc.RUN_EXPIRED, True)) >= 900


def test_registry_is_empty_after_many_runs(handler):
    graph = build_agent()
    for _ in range(30):
        graph.invoke(ask(), config={"callbacks": [handler]})
    assert len(handler.runs) == 0


def _streaming_model():
    return ScriptedChatModel(replies=["Fresh spring offers for you"], model="gpt-4o-mini", response_model="gpt-4o-mini-2024-07-18")


def _check_streamed_chat(span):
    a = span.attributes
    assert a[sc.RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    assert a[sc.STREAMED_CHUNKS] >= 5
    assert a[sc.USAGE_OUTPUT_TOKENS] == 5 and a[sc.USAGE_INPUT_TOKENS] > 0  # usage survives streaming
    assert a[sc.RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert a[sc.RESPONSE_FINISH_REASONS] == ("stop",)


def test_sync_stream(handler, spans):
    chunks = list(_streaming_model().stream([HumanMessage("offer")], config={"callbacks": [handler]}))
    assert "".join(c.content for c in chunks) == "Fresh spring offers for you"
    _check_streamed_chat(spans().one("chat gpt-4o-mini"))
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_astream_and_astream_events_of_a_graph(handler, spans):
    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    model = _streaming_model()

    class S(TypedDict):
        text: str

    async def write(state, config):
        out = ""
        async for chunk in model.astream("offer", config):
            out += chunk.content
        return {"text": out}

    g = StateGraph(S)
    g.add_node("write", write)
    g.add_edge(START, "write")
    graph = g.compile(name="writer")

    async def main():
        updates = [u async for u in graph.astream({"text": ""}, config={"callbacks": [handler]}, stream_mode="messages")]
        events = [e async for e in graph.astream_events({"text": ""}, config={"callbacks": [handler]}, version="v2")]
        return updates, events

    updates, events = asyncio.run(main())
    assert updates and any(e["event"] == "on_chat_model_stream" for e in events)
    s = spans()
    chats = s.named("chat gpt-4o-mini")
    assert len(chats) == 2
    for chat in chats:
        _check_streamed_chat(chat)
        assert s.node_of(chat) == "write"
    assert len(s.named("invoke_workflow writer")) == 2  # hand-written graph, no tool loop: a workflow


def test_instrument_traces_without_passing_callbacks(provider, spans):
    handler = CallbackHandler(provider)
    agenttrace.instrument(handler)
    try:
        chain = RunnableLambda(lambda x: x + 1, name="plus_one")
        assert chain.invoke(1) == 2
        assert chain.invoke(1, config={"callbacks": [handler]}) == 2  # passed as well: not traced twice
        asyncio.run(chain.ainvoke(1))
        build_agent().invoke(ask())
    finally:
        agenttrace.uninstrument()
    s = spans()
    assert len(s.named("invoke_workflow plus_one")) == 3
    assert len(s.named("invoke_agent support-bot")) == 1
    count = len(s.all)
    RunnableLambda(lambda x: x, name="after").invoke(1)
    assert len(spans().all) == count  # uninstrument() stopped it
