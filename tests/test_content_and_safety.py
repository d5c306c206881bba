"""Privacy (content off by default, opt-in, redaction) and robustness on odd payloads."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableLambda
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agenttrace import CallbackHandler
from agenttrace import semconv as sc
from agenttrace.testing import ScriptedChatModel
from conftest import ask, build_agent

CONTENT_KEYS = (sc.INPUT_MESSAGES, sc.OUTPUT_MESSAGES, sc.SYSTEM_INSTRUCTIONS, sc.TOOL_CALL_ARGUMENTS, sc.TOOL_CALL_RESULT,
                sc.OI_INPUT_VALUE, sc.OI_OUTPUT_VALUE, sc.RETRIEVAL_QUERY_TEXT)
SECRET = "my card is 4111 1111 1111 1111"


def _has_content(span) -> bool:
    return any(k in span.attributes or k.startswith("llm.input_messages") for k in CONTENT_KEYS) or any(
        k.startswith(("llm.input_messages", "llm.output_messages")) for k in span.attributes
    )


def test_content_is_not_exported_by_default(monkeypatch, provider, spans):
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    handler = CallbackHandler(provider)
    build_agent().invoke(ask(SECRET), config={"callbacks": [handler]})
    s = spans()
    assert s.all and not any(_has_content(sp) for sp in s.all)
    assert all(SECRET not in str(dict(sp.attributes)) for sp in s.all)


@pytest.mark.parametrize("value", ["true", "SPAN_ONLY"])
def test_content_opt_in_by_env(monkeypatch, provider, spans, value):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value)
    monkeypatch.setenv("AGENTTRACE_CONTENT_FORMAT", "genai")  # the GenAI conventions' attributes, checked below
    build_agent().invoke(ask(SECRET), config={"callbacks": [CallbackHandler(provider)]})
    s = spans()
    chat = s.named("chat gpt-4o")[0]
    messages = json.loads(chat.attributes[sc.INPUT_MESSAGES])
    assert messages[0] == {"role": "user", "parts": [{"type": "text", "content": SECRET}]}
    tool = s.one("execute_tool order_status")
    assert json.loads(tool.attributes[sc.TOOL_CALL_ARGUMENTS]) == {"order_id": "A1"}
    assert tool.attributes[sc.TOOL_CALL_RESULT] == "order A1 shipped yesterday"
    final = sorted(s.named("chat gpt-4o"), key=lambda sp: sp.start_time)[-1]
    out = json.loads(final.attributes[sc.OUTPUT_MESSAGES])
    assert out[0]["parts"][0]["content"].startswith("Your order A1 shipped") and out[0]["finish_reason"] == "stop"


def test_redaction_hook_and_failing_redactor(provider, spans):
    seen = []

    def redact(key, text):
        seen.append(key)
        return text.replace("4111 1111 1111 1111", "[CARD]")

    build_agent().invoke(ask(SECRET), config={"callbacks": [CallbackHandler(provider, capture_content=True, content_format="both", redact=redact)]})
    s = spans()
    assert seen and all("4111" not in str(dict(sp.attributes)) for sp in s.all)
    assert "[CARD]" in s.named("chat gpt-4o")[0].attributes[sc.INPUT_MESSAGES]

    def broken(key, text):
        raise RuntimeError("redactor bug")

    s.all.clear()
    out = build_agent().invoke(ask(SECRET), config={"callbacks": [CallbackHandler(provider, capture_content=True, redact=broken)]})
    assert out["messages"][-1].content.startswith("Your order")
    assert all("4111" not in str(dict(sp.attributes)) for sp in spans().all)  # dropped, not leaked
    assert any(sp.attributes.get(sc.REDACTION_FAILED) for sp in spans().all)


class Unserialisable:
    def __repr__(self):
        raise ValueError("no repr for you")

    def __str__(self):
        raise ValueError("no str either")


ODD_OUTPUTS = [
    None,
    b"\xff\xfe not utf-8 \x80",
    "\ud800 lone surrogate",
    "x" * 2_000_000,
    Unserialisable(),
    {"nested": [Unserialisable(), {1, 2}, b"\x00\x01"]},
    float("nan"),
]


@pytest.mark.parametrize("output", ODD_OUTPUTS, ids=["none", "bytes", "surrogate", "huge", "unserialisable", "nested", "nan"])
def test_odd_payloads_never_change_the_result(content_handler, spans, output):
    chain = RunnableLambda(lambda x: output, name="odd")
    result = chain.invoke({"input": output}, config={"callbacks": [content_handler]})
    assert result is output
    (span,) = spans().all
    value = span.attributes.get(sc.OI_OUTPUT_VALUE)
    if output is not None:
        assert isinstance(value, str) and len(value) <= content_handler.content.max_length
        value.encode("utf-8")  # exportable
    if isinstance(output, str) and len(output) > content_handler.content.max_length:
        assert span.attributes[sc.CONTENT_TRUNCATED] is True


def test_multimodal_and_non_string_message_content(content_handler, spans):
    model = ScriptedChatModel(replies=[AIMessage(content=[{"type": "text", "text": "A red shoe."}, {"type": "reasoning", "reasoning": "looked"}])])
    msg = HumanMessage(content=[
        {"type": "text", "text": "Describe this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image", "url": "https://example.invalid/shoe.png", "mime_type": "image/png"},
    ])
    out = model.invoke([msg], config={"callbacks": [content_handler]})
    assert out.content[0]["text"] == "A red shoe."
    (span,) = spans().all
    parts = json.loads(span.attributes[sc.INPUT_MESSAGES])[0]["parts"]
    assert parts[0] == {"type": "text", "content": "Describe this"}
    assert parts[1]["modality"] == "image" and "iVBOR" not in json.dumps(parts)  # no inline binary
    assert parts[2]["uri"] == "https://example.invalid/shoe.png"
    out_parts = json.loads(span.attributes[sc.OUTPUT_MESSAGES])[0]["parts"]
    assert out_parts[0] == {"type": "text", "content": "A red shoe."} and out_parts[1]["type"] == "reasoning"


class ExplodingProcessor(SpanProcessor):
    """A real SDK span processor that fails: the SDK propagates its exceptions into start_span."""

    def on_start(self, span, parent_context=None):
        raise RuntimeError("processor exploded")

    def on_end(self, span):
        raise RuntimeError("processor exploded on end")


def test_exceptions_inside_tracing_never_reach_the_agent(caplog):
    tp = TracerProvider()
    tp.add_span_processor(ExplodingProcessor())
    handler = CallbackHandler(tp)
    expected = build_agent().invoke(ask())
    with caplog.at_level("WARNING", logger="agenttrace"):
        got = build_agent().invoke(ask(), config={"callbacks": [handler]})
    assert [m.content for m in got["messages"]] == [m.content for m in expected["messages"]]
    assert handler.internal_errors > 0
    warnings = [r for r in caplog.records if r.name == "agenttrace" and "internal error" in r.getMessage()]
    assert 1 <= len(warnings) <= 10  # one per callback kind, not one per event


def test_callbacks_with_garbage_arguments_do_not_raise(handler):
    import uuid

    rid = uuid.uuid4()
    handler.on_chain_start(None, object(), run_id=rid, tags=[None, 3], metadata={"thread_id": Unserialisable()})
    handler.on_chain_end(Unserialisable(), run_id=rid)
    handler.on_llm_end(object(), run_id=uuid.uuid4())
    handler.on_tool_start({"name": None}, None, run_id=rid, parent_run_id=uuid.uuid4(), inputs=Unserialisable())
    handler.on_tool_end(None, run_id=rid)
    handler.on_chat_model_start({}, [[HumanMessage("hi")]], run_id=rid, invocation_params=None, metadata=None)
    handler.on_llm_end(None, run_id=rid)
    assert len(handler.runs) == 0
