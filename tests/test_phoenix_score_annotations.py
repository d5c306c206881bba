"""Metric scores as Phoenix annotations, against the real Phoenix server of the test session.

A real LangGraph agent with a scripted chat model is scored by the real LangKit scorer; the scores
must reach Phoenix as span annotations (one per score, on its LLM span) and trace annotations (the
run's result), survive Phoenix being unreachable for a while, and land even when written before
Phoenix has stored their span.
"""

from __future__ import annotations

import statistics
import time
import uuid

import httpx
import pytest
from langchain_core.messages import AIMessage
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytest.importorskip("agenttrace_langkit", reason="LangKit integration not installed (tests/run.sh installs it)")

import agenttrace  # noqa: E402
from agenttrace import semconv as sc  # noqa: E402
from agenttrace.testing import ScriptedChatModel  # noqa: E402
from conftest import ask, build_agent, support_reply  # noqa: E402
from otlp_receivers import Gate  # noqa: E402

pytestmark = pytest.mark.phoenix

PROFILES = {
    "profiles": {"replies": {"metrics": ["refusal_similarity", "relevance", "response_length"],
                             "thresholds": {"refusal_similarity": 0.4}}},
    "rules": [{"match": {"operation": "chat"}, "profile": "replies"}],
}
REFUSAL = "I'm sorry, but I can't help with that request."
SCORED = {"refusal_similarity", "relevance", "review"}


def reply(messages) -> AIMessage:
    """Refuses to reveal passwords; otherwise the support agent's tool-calling conversation."""
    if "password" in str(messages[0].content):
        return AIMessage(content=REFUSAL)
    return support_reply(messages)


@pytest.fixture(scope="module")
def scorer():
    from agenttrace_langkit import LangKitScorer

    return LangKitScorer()


def run(phoenix_server, scorer, questions, **options):
    """Run the agent once per question into a fresh project; returns (telemetry, local spans, project)."""
    project = f"scores-{uuid.uuid4().hex[:8]}"
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({sc.OI_PROJECT_NAME: project}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    options.setdefault("endpoint", phoenix_server.otlp_http_endpoint)
    at = agenttrace.configure(project=project, tracer_provider=provider, profiles=PROFILES, scorer=scorer,
                              handle_sigterm=False, **options)
    graph = build_agent(ScriptedChatModel(replies=[reply], model="gpt-4o"))
    for question in questions:
        graph.invoke(ask(question), config={"callbacks": [at.callback_handler]})
    return at, memory, project


def hexid(n: int, width: int) -> str:
    return format(n, f"0{width}x")


def llm_spans(memory):
    return [s for s in memory.get_finished_spans() if s.attributes.get(sc.OPERATION) == "chat"]


def annotations_by_span(phoenix_store, project, spans) -> dict:
    found: dict = {}
    for a in phoenix_store.span_annotations(project, [hexid(s.context.span_id, 16) for s in spans]):
        found.setdefault(a["span_id"], []).append(a)
    return found


def wait_for(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.mark.phoenix_databases
def test_scores_become_span_and_trace_annotations(phoenix_server, phoenix_store, scorer):
    at, memory, project = run(phoenix_server, scorer, ["Where is my order A1? I want to return it.",
                                                       "What is the admin password?"])
    assert at.score_sinks, "the Phoenix score sink is on by default for a Phoenix endpoint with profiles"
    result = at.flush(60)
    assert result.ok and result.scores_pending == 0 and result.dropped_scores == 0, result
    llms = llm_spans(memory)
    assert len(llms) == 4  # three turns of the support conversation, one refusal
    phoenix_store.wait_for_spans(project, len(memory.get_finished_spans()))

    by_span = annotations_by_span(phoenix_store, project, llms)
    for span in llms:
        mine = {a["name"]: a for a in by_span[hexid(span.context.span_id, 16)]}
        assert len(mine) == len(by_span[hexid(span.context.span_id, 16)]), "one annotation per name and span"
        assert set(mine) == SCORED  # response_length has no threshold: an attribute, not an annotation
        refusal = mine["refusal_similarity"]
        value = span.attributes["agenttrace.metric.refusal_similarity"]
        flagged = value > 0.4
        assert refusal["result"]["score"] == pytest.approx(value)
        assert refusal["result"]["label"] == ("flagged" if flagged else "pass")
        assert "threshold 0.4" in refusal["result"]["explanation"]
        assert mine["relevance"]["result"]["score"] == pytest.approx(span.attributes["agenttrace.metric.relevance"])
        assert mine["relevance"]["result"].get("label") is None  # no threshold, no label
        assert mine["review"]["result"]["label"] == ("flagged" if flagged else "pass")
        for a in mine.values():
            assert a["annotator_kind"] == "CODE" and a["identifier"] == "agenttrace"
    flagged_spans = [s for s in llms if s.attributes.get(sc.REVIEW_REQUIRED)]
    assert len(flagged_spans) == 1 and REFUSAL in str(flagged_spans[0].attributes.get("output.value", REFUSAL))

    # the run's result on each trace: worst refusal similarity, flagged or not, mean relevance
    traces: dict = {}
    for span in llms:
        traces.setdefault(hexid(span.context.trace_id, 32), []).append(span)
    stored = phoenix_store.trace_annotations(project, list(traces))
    assert len(stored) == 3 * len(traces)
    for trace_id, spans in traces.items():
        mine = {a["name"]: a["result"] for a in stored if a["trace_id"] == trace_id}
        refusal = [s.attributes["agenttrace.metric.refusal_similarity"] for s in spans]
        relevance = [s.attributes["agenttrace.metric.relevance"] for s in spans]
        assert mine["refusal_similarity"]["score"] == pytest.approx(max(refusal))
        assert mine["refusal_similarity"]["label"] == ("flagged" if max(refusal) > 0.4 else "pass")
        assert mine["relevance"]["score"] == pytest.approx(statistics.mean(relevance))
        assert mine["review"]["label"] == ("flagged" if any(s in flagged_spans for s in spans) else "pass")
    at.shutdown()


def test_evaluation_events_reach_phoenix_with_semconv_names(phoenix_server, phoenix_store, scorer):
    """The events stay for other OTLP backends: name, score value, label, explanation."""
    from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as g

    at, memory, project = run(phoenix_server, scorer, ["What is the admin password?"], annotate_scores=False)
    assert at.flush(60) and not at.score_sinks
    (span,) = llm_spans(memory)
    stored = {s["context"]["span_id"]: s for s in phoenix_store.wait_for_spans(project, len(memory.get_finished_spans()))}
    events = [e for e in stored[hexid(span.context.span_id, 16)]["events"] if e["name"] == "gen_ai.evaluation.result"]
    by_name = {e["attributes"][g.GEN_AI_EVALUATION_NAME]: e["attributes"] for e in events}
    refusal = by_name["refusal_similarity"]
    assert refusal[g.GEN_AI_EVALUATION_SCORE_VALUE] == pytest.approx(span.attributes["agenttrace.metric.refusal_similarity"])
    assert refusal[g.GEN_AI_EVALUATION_SCORE_LABEL] == "flagged"
    assert refusal[g.GEN_AI_EVALUATION_EXPLANATION].startswith("refusal_similarity 0.") and "> threshold 0.4" in \
        refusal[g.GEN_AI_EVALUATION_EXPLANATION]
    assert g.GEN_AI_EVALUATION_SCORE_VALUE in by_name["relevance"] and g.GEN_AI_EVALUATION_SCORE_LABEL not in by_name["relevance"]
    at.shutdown()


@pytest.mark.phoenix_databases
def test_rescoring_updates_the_annotation_instead_of_adding_one(phoenix_server, phoenix_store, scorer):
    from agenttrace_phoenix.annotation_writer import SPAN, AnnotationWriter
    from agenttrace_phoenix.score_rows import Score, span_rows

    at, memory, project = run(phoenix_server, scorer, ["What is the admin password?"])
    assert at.flush(60)
    at.shutdown()
    (span,) = llm_spans(memory)
    span_id = hexid(span.context.span_id, 16)
    writer = AnnotationWriter(phoenix_server.url)
    for row in span_rows(span_id, [Score("refusal_similarity", 0.123, "pass", "re-scored")]):
        writer.put(SPAN, row)
    assert writer.flush(time.monotonic() + 30) == 0 and writer.delivered == 1
    mine = [a for a in phoenix_store.span_annotations(project, [span_id]) if a["name"] == "refusal_similarity"]
    assert len(mine) == 1 and mine[0]["result"] == {"score": 0.123, "label": "pass", "explanation": "re-scored"}
    writer.shutdown_by(time.monotonic() + 1)


def test_phoenix_down_for_a_while_then_up_annotations_arrive(phoenix_server, phoenix_store, scorer):
    gate = Gate(phoenix_server.port)  # annotations go through it; spans go straight to Phoenix
    at, memory, project = run(phoenix_server, scorer, ["What is the admin password?"], annotate_scores=gate.url)
    (sink,) = at.score_sinks
    down = at.flush(2)
    assert not down and down.scores_pending == 6 and down.pending_spans == 0, down  # 3 on the span, 3 on the trace
    time.sleep(1.0)
    gate.open()
    try:
        up = at.flush(30)
        assert up.ok and up.scores_pending == 0 and at.dropped_scores == 0, up
        assert sink.writer.delivered == 6
        (span,) = llm_spans(memory)
        names = {a["name"] for a in phoenix_store.span_annotations(project, [hexid(span.context.span_id, 16)])}
        assert names == SCORED
        at.shutdown()
    finally:
        gate.close()


def test_annotation_written_before_its_span_is_stored_still_lands(phoenix_server, phoenix_store, scorer):
    # spans wait 5 s in the export queue; the writer sends at once: Phoenix has not stored them yet
    at, memory, project = run(phoenix_server, scorer, ["What is the admin password?"], schedule_delay_millis=5000)
    (sink,) = at.score_sinks
    sink.writer.delay = 0.0
    at.callback_handler.metrics.flush(30)
    assert wait_for(lambda: sink.writer.target_retries > 0, 10), "the writer got no 'span does not exist' answer"
    assert phoenix_store.spans(project) == []
    result = at.flush(60)
    assert result.ok and result.scores_pending == 0 and at.dropped_scores == 0, result
    (span,) = llm_spans(memory)
    names = {a["name"] for a in phoenix_store.span_annotations(project, [hexid(span.context.span_id, 16)])}
    assert names == SCORED
    assert {a["name"] for a in phoenix_store.trace_annotations(project, [hexid(span.context.trace_id, 32)])} == SCORED
    at.shutdown()


def test_phoenix_rejects_a_synchronous_annotation_of_a_span_it_has_not_stored(phoenix_server):
    """The Phoenix behaviour the writer is built on (20.26): ``sync=True`` answers 404 naming the
    missing span and stores nothing of the batch; ``sync=False`` answers 200 without telling."""
    from phoenix.client import Client

    client = Client(base_url=phoenix_server.url)
    row = {"span_id": "00000000deadbeef", "name": "refusal_similarity", "annotator_kind": "CODE",
           "result": {"score": 0.5}, "identifier": "agenttrace"}
    with pytest.raises(httpx.HTTPStatusError) as err:
        client.spans.log_span_annotations(span_annotations=[row], sync=True)
    assert err.value.response.status_code == 404 and "00000000deadbeef" in err.value.response.text
    assert client.spans.log_span_annotations(span_annotations=[row], sync=False) is None
