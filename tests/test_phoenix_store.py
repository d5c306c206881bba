"""Spans exported by agenttrace to a real Phoenix come back intact; annotations round-trip."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from langchain_core.prompts import ChatPromptTemplate

import agenttrace
from agenttrace.testing import ScriptedChatModel
from agenttrace_phoenix import PhoenixError

pytestmark = pytest.mark.phoenix_databases  # also against PostgreSQL-backed Phoenix


@pytest.fixture(scope="module")
def exported(phoenix_server, phoenix_store):
    """Two runs of a prompt | chat-model chain exported to a fresh project; (project, stored spans)."""
    project = f"test-store-{uuid.uuid4().hex[:8]}"
    telemetry = agenttrace.configure(project=project, endpoint=phoenix_server.otlp_http_endpoint, set_global=False)
    chain = ChatPromptTemplate.from_messages([("human", "{question}")]) | ScriptedChatModel(replies=["It shipped."])
    for question in ("Where is my order?", "And the other one?"):
        chain.invoke({"question": question}, config={"callbacks": [telemetry.callback_handler]})
    assert telemetry.flush(timeout=10)
    telemetry.shutdown()
    return project, phoenix_store.wait_for_spans(project, 6, timeout=30)


def test_spans_come_back_with_ids_names_and_parents(exported, phoenix_store):
    project, spans = exported
    assert len(spans) == 6
    traces = phoenix_store.traces(project)
    assert len(traces) == 2
    for trace_id, trace in traces.items():
        names = [s["name"] for s in trace]
        assert names == ["invoke_workflow RunnableSequence", "ChatPromptTemplate", "chat scripted-model"]
        root, prompt, chat = trace
        assert root["parent_id"] is None
        assert prompt["parent_id"] == chat["parent_id"] == root["context"]["span_id"]
        assert all(s["context"]["trace_id"] == trace_id and len(s["context"]["span_id"]) == 16 for s in trace)
        assert chat["span_kind"] == "LLM"
        assert chat["attributes"]["gen_ai.request.model"] == "scripted-model"


def test_time_window_and_unknown_project(exported, phoenix_store):
    project, spans = exported
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert phoenix_store.spans(project, start=future) == []
    assert len(phoenix_store.spans(project, end=future)) == len(spans)
    assert phoenix_store.spans(project, limit=2) == spans[:2]
    missing = f"no-such-project-{uuid.uuid4().hex[:8]}"
    assert phoenix_store.spans(missing) == []
    assert phoenix_store.span_annotations(missing, ["0" * 16]) == []
    assert phoenix_store.trace_annotations(missing, ["0" * 32]) == []
    with pytest.raises(PhoenixError, match="only 0 of 1 spans"):
        phoenix_store.wait_for_spans(missing, 1, timeout=0.5)


def test_span_and_trace_annotations_round_trip(exported, phoenix_store):
    project, spans = exported
    chats = [s for s in spans if s["span_kind"] == "LLM"]
    chat_ids = [s["context"]["span_id"] for s in chats]
    trace_ids = sorted({s["context"]["trace_id"] for s in spans})

    one = phoenix_store.annotate_span(chat_ids[0], "helpfulness", score=0.25, label="poor",
                                      explanation="did not say when", metadata={"judge": "rule-7"})
    bulk = phoenix_store.annotate_spans([{"span_id": sid, "name": "reply_words", "score": 2.0} for sid in chat_ids])
    assert isinstance(one, str) and len(bulk) == 2
    phoenix_store.annotate_trace(trace_ids[0], "resolved", score=1.0, label="yes", explanation="order found")

    got = {(a["name"], a["span_id"]): a for a in phoenix_store.span_annotations(project, chat_ids)}
    assert set(got) == {("helpfulness", chat_ids[0])} | {("reply_words", sid) for sid in chat_ids}
    helpful = got["helpfulness", chat_ids[0]]
    assert helpful["result"] == {"score": 0.25, "label": "poor", "explanation": "did not say when"}
    assert helpful["annotator_kind"] == "CODE" and helpful["metadata"] == {"judge": "rule-7"} and helpful["id"] == one

    (resolved,) = phoenix_store.trace_annotations(project, trace_ids)
    assert resolved["trace_id"] == trace_ids[0] and resolved["name"] == "resolved"
    assert resolved["result"] == {"score": 1.0, "label": "yes", "explanation": "order found"}

    # one annotation per (name, span): writing again overwrites it
    assert phoenix_store.annotate_span(chat_ids[0], "helpfulness", score=0.9) == one
    (again,) = [a for a in phoenix_store.span_annotations(project, chat_ids[:1]) if a["name"] == "helpfulness"]
    assert again["result"]["score"] == 0.9


def test_annotation_errors(phoenix_store):
    with pytest.raises(PhoenixError, match="404"):
        phoenix_store.annotate_span("0" * 16, "quality", score=1.0)
    with pytest.raises(ValueError, match="at least one of score, label, explanation"):
        phoenix_store.annotate_trace("0" * 32, "quality")
