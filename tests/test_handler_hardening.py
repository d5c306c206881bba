"""One bad run never takes over a thread; secrets never leave through errors; every string encodes.

Each trigger below once left its span as the thread's current OTel context, so that later runs in
the thread were parented under it (one trace swallowing thousands of runs)."""

from __future__ import annotations

import threading
import uuid

import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.tools import tool
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.trace import StatusCode

import agent_shapes as shapes
from agenttrace import CallbackHandler
from agenttrace import semconv as sc
from agenttrace.testing import ScriptedChatModel
from conftest import ask, build_agent


class Boom:
    def __getattr__(self, name):
        raise RuntimeError("attribute access fails")


class BadDocs:
    def __iter__(self):
        raise RuntimeError("iteration fails")


def _llm_result(usage: dict) -> LLMResult:
    return LLMResult(generations=[[ChatGeneration(message=AIMessage(content="hi"))]], llm_output={"token_usage": usage})


TRIGGERS = {
    "nan_tokens": lambda h, rid: (h.on_chat_model_start({}, [[]], run_id=rid), h.on_llm_end(_llm_result({"prompt_tokens": float("nan"), "completion_tokens": float("inf")}), run_id=rid)),
    "raising_documents": lambda h, rid: (h.on_retriever_start({}, "q", run_id=rid), h.on_retriever_end(BadDocs(), run_id=rid)),
    "raising_tool_output": lambda h, rid: (h.on_tool_start({"name": "t"}, "x", run_id=rid), h.on_tool_end(Boom(), run_id=rid)),
    "duplicate_run_id": lambda h, rid: (h.on_chain_start({}, {}, run_id=rid), h.on_chain_start({}, {}, run_id=rid), h.on_chain_end({}, run_id=rid)),
    "unhashable_run_id": lambda h, rid: (h.on_chain_start({}, {}, run_id=[rid]), h.on_chain_end({}, run_id=[rid])),
    "never_ended": lambda h, rid: h.on_chain_start({}, {}, run_id=rid, name="stuck"),
}


@pytest.mark.parametrize("trigger", sorted(TRIGGERS))
def test_a_bad_run_never_captures_later_runs(trigger, provider, spans):
    handler = CallbackHandler(provider, capture_content=True)
    TRIGGERS[trigger](handler, uuid.uuid4())
    try:
        graph = build_agent()
        for _ in range(5):
            graph.invoke(ask(), config={"callbacks": [handler]})
        roots = spans().named("invoke_agent support-bot")
        assert len(roots) == 5 and all(r.parent is None for r in roots), [r.parent for r in roots]
        assert len({r.context.trace_id for r in roots}) == 5
    finally:
        handler.runs.sweep(float("inf"))  # a run that never ended expires ...
        build_agent().invoke(ask(), config={"callbacks": [handler]})  # ... and the next run detaches its context
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert len(handler.runs) == 0  # every span the trigger started was ended
    if trigger == "never_ended":
        assert spans().one("invoke_workflow stuck").attributes[sc.RUN_EXPIRED] is True
    else:
        assert handler.internal_errors <= 1 and not handler.runs.expired


def test_a_paused_stream_does_not_adopt_invokes_in_the_same_thread(handler, spans):
    graph, inputs = shapes.react_agent()
    stream = graph.stream(inputs, config={"callbacks": [handler]}, stream_mode="updates")
    next(stream)  # paused half-way: its root span is the thread's current context right now
    other = build_agent()
    for _ in range(5):
        other.invoke(ask(), config={"callbacks": [handler]})
    for _ in stream:  # finish the stream afterwards
        pass
    s = spans()
    streamed = s.one("invoke_agent react-support")
    invoked = s.named("invoke_agent support-bot")
    assert len(invoked) == 5 and all(r.parent is None for r in invoked)
    assert streamed.context.trace_id not in {r.context.trace_id for r in invoked}
    assert len(s.children(streamed)) >= 3  # the stream's own steps still nest under it


def test_a_root_run_keeps_the_application_span_as_parent_when_a_run_is_stuck(provider, spans):
    handler = CallbackHandler(provider)
    app_tracer = provider.get_tracer("app")
    with app_tracer.start_as_current_span("POST /chat") as request:
        handler.on_chain_start({}, {}, run_id=uuid.uuid4(), name="stuck")  # never ends
        build_agent().invoke(ask(), config={"callbacks": [handler]})
        # parented where the stuck run was started: the application's request span
        root = spans().one("invoke_agent support-bot")
        assert root.parent.span_id == request.get_span_context().span_id
        handler.runs.sweep(float("inf"))
        build_agent().invoke(ask(), config={"callbacks": [handler]})  # detaches the expired run's context
        assert trace.get_current_span() is request


def test_memory_and_profiles_hold_with_abandoned_runs(provider, spans):
    """Many runs, every tenth abandoned half-way: the registry stays bounded and every finished run
    is still its own trace (the issue saw 4 of 20,000 runs profiled; a benchmark measures memory)."""
    handler = CallbackHandler(provider, max_open_runs=150)
    graph = build_agent()
    for i in range(400):
        if i % 2 == 0:  # 200 abandoned runs stacked in this thread's context, more than the registry keeps
            handler.on_chain_start({}, {}, run_id=uuid.uuid4(), name="abandoned")
        graph.invoke(ask(), config={"callbacks": [handler]})
    roots = spans().named("invoke_agent support-bot")
    assert len(roots) == 400 and all(r.parent is None for r in roots)
    assert len({r.context.trace_id for r in roots}) == 400
    assert len(handler.runs) <= 151 and handler.runs.expired >= 50
    handler.runs.sweep(float("inf"))
    graph.invoke(ask(), config={"callbacks": [handler]})  # restores the application's context
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_runs_abandoned_in_discarded_contexts_are_freed(provider, spans):
    """A run abandoned inside a context nobody uses again (a cancelled task's copy): once it expires,
    nothing of it is kept (its bookkeeping never holds the span it is keyed by)."""
    import contextvars
    import gc

    handler = CallbackHandler(provider)
    for _ in range(50):
        contextvars.copy_context().run(handler.on_chain_start, {}, {}, run_id=uuid.uuid4(), name="abandoned")
    assert len(handler.runs) == 50
    handler.runs.sweep(float("inf"))
    gc.collect()
    assert len(handler.runs) == 0 and len(handler.life._outer) == 0
    assert len(spans().with_attr(sc.RUN_EXPIRED, True)) == 50


def test_concurrent_threads_with_stuck_runs_stay_separate(provider, spans):
    handler = CallbackHandler(provider)
    graph = build_agent()

    def work():
        handler.on_chain_start({}, {}, run_id=uuid.uuid4(), name="stuck")
        for _ in range(10):
            graph.invoke(ask(), config={"callbacks": [handler]})

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    roots = spans().named("invoke_agent support-bot")
    assert len(roots) == 80 and all(r.parent is None for r in roots)
    handler.runs.sweep(float("inf"))


# --- secrets never leave through errors ---------------------------------------------------------

SECRET = "sk-live-7Hq2SECRETxyz"


@tool
def charge(card_number: int) -> str:
    """Charge a card."""
    return "charged"


def _everything(spans) -> str:
    parts = []
    for s in spans:
        parts += [s.name, str(dict(s.attributes)), s.status.description or ""]
        parts += [f"{e.name}{dict(e.attributes)}" for e in s.events]
    return "\n".join(parts)


def _secret_everywhere(handler):
    """A secret in a tool argument that fails validation, an error message, metadata, tags, the
    thread id, a user id, a run name and a tool description."""
    secret_tool = charge.model_copy(update={"description": f"Charge a card (key {SECRET})"})

    def reply(messages):
        if any(m.type == "tool" for m in messages):
            raise ValueError(f"provider rejected token {SECRET}")
        return AIMessage(content="", tool_calls=[{"name": "charge", "args": {"card_number": SECRET}, "id": "c1"}])

    graph = build_agent(ScriptedChatModel(replies=[reply], model="gpt-4o"), tools=[secret_tool])
    with pytest.raises(ValueError):
        graph.invoke(ask(f"my key is {SECRET}"), config={
            "callbacks": [handler], "run_name": f"agent-{SECRET}", "tags": [f"tag-{SECRET}"],
            "metadata": {"user_id": SECRET, "api_key": SECRET}, "configurable": {"thread_id": f"thread-{SECRET}"}})


def test_capture_off_exports_no_error_message(provider, spans):
    handler = CallbackHandler(provider, capture_content=False)
    graph = build_agent(ScriptedChatModel(replies=[lambda m: AIMessage(content="", tool_calls=[
        {"name": "charge", "args": {"card_number": SECRET}, "id": "c1"}]), "done"], model="gpt-4o"), tools=[charge])
    graph.invoke(ask(), config={"callbacks": [handler]})
    text = _everything(spans().all)
    assert SECRET not in text  # the pydantic validation error quotes the argument; it is not exported
    failed = [s for s in spans().all if s.status.status_code is StatusCode.ERROR]
    assert failed and all(s.status.description == s.attributes[sc.ERROR_TYPE].rsplit(".", 1)[-1] or
                          s.status.description == s.attributes[sc.ERROR_TYPE] for s in failed)
    event = next(e for s in failed for e in s.events if e.name == "exception")
    assert "exception.message" not in event.attributes and "File " in event.attributes["exception.stacktrace"]


@pytest.mark.parametrize("capture", [True, False])
def test_redaction_hook_sees_every_exported_string(capture, provider, spans):
    seen = set()

    def redact(key, text):
        seen.add(key)
        return text.replace(SECRET, "[KEY]")

    _secret_everywhere(CallbackHandler(provider, capture_content=capture, redact=redact))
    text = _everything(spans().all)
    assert SECRET not in text
    assert "[KEY]" in text
    assert {"metadata", "tag.tags", "session.id", "span.name", "exception.stacktrace"} <= seen
    if capture:
        assert "exception.message" in seen and "gen_ai.tool.description" in seen


# --- one bad character never drops a batch -----------------------------------------------------


def test_lone_surrogates_in_names_and_errors_still_encode(provider, spans):
    handler = CallbackHandler(provider, capture_content=True)
    bad = "\ud800"

    @tool
    def lookup_tool(q: str) -> str:
        """Look something up."""
        raise RuntimeError(f"failed on {bad}")

    lookup = lookup_tool.model_copy(update={"name": f"lookup{bad}"})

    graph = build_agent(ScriptedChatModel(replies=[lambda m: AIMessage(content="", tool_calls=[
        {"name": f"lookup{bad}", "args": {"q": bad}, "id": "c1"}]), "done"], model="gpt-4o"), tools=[lookup])
    with pytest.raises(RuntimeError):
        graph.invoke(ask(f"hello {bad}"), config={"callbacks": [handler], "metadata": {"k": bad}, "tags": [bad]})
    everything = spans().all
    assert len(everything) >= 5
    encode_spans(everything).SerializeToString()  # raised "surrogates not allowed" on one span before
    tool_span = next(s for s in everything if s.attributes.get(sc.OPERATION) == "execute_tool")
    assert tool_span.status.status_code is StatusCode.ERROR and "\ud800" not in tool_span.name
