"""The score-sink plug-in without a Phoenix: when it is on, what it writes, its bounds.

(Against a real Phoenix: tests/test_phoenix_score_annotations.py.)
"""

from __future__ import annotations

import logging
import time

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agenttrace
from agenttrace import semconv as sc
from agenttrace.metrics import MetricsEngine, load
from conftest import ask, build_agent, run_python
from otlp_receivers import HttpReceiver, closed_port_endpoint

pytest.importorskip("agenttrace_phoenix", reason="the Phoenix integration is not installed (tests/run.sh installs it)")

from agenttrace_phoenix.score_rows import Score, TraceScores  # noqa: E402
from agenttrace_phoenix.score_sink import phoenix_url  # noqa: E402

LIGHT = {
    "profiles": {"copy": {"metrics": ["response_length", "latency_ms"], "thresholds": {"response_length": 30}}},
    "rules": [{"match": {"operation": "chat"}, "profile": "copy"}],
}


def configure(**options):
    options.setdefault("span_exporter", None if "endpoint" in options else InMemorySpanExporter())
    options.setdefault("profiles", LIGHT)
    return agenttrace.configure(project="scores", set_global=False, handle_sigterm=False, **options)


def test_thresholded_scores_are_evaluation_events_with_label_and_explanation(provider, spans):
    """The gen_ai.evaluation.result event of a score with a threshold says why it is flagged or not."""
    from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as g

    handler = agenttrace.CallbackHandler(provider, metrics=MetricsEngine(load(LIGHT)))
    build_agent().invoke(ask(), config={"callbacks": [handler]})
    chats = spans().named("chat gpt-4o")
    assert len(chats) == 3
    for chat in chats:
        (event,) = [e for e in chat.events if e.name == "gen_ai.evaluation.result"]
        a = event.attributes
        length = chat.attributes["agenttrace.metric.response_length"]
        assert a[g.GEN_AI_EVALUATION_NAME] == "response_length" and a[g.GEN_AI_EVALUATION_SCORE_VALUE] == length
        flagged = length > 30
        assert a[g.GEN_AI_EVALUATION_SCORE_LABEL] == ("flagged" if flagged else "pass")
        assert a[g.GEN_AI_EVALUATION_EXPLANATION] == f"response_length {length:.3f} {'>' if flagged else '≤'} threshold 30"
    assert {e.attributes[g.GEN_AI_EVALUATION_SCORE_LABEL] for c in chats for e in c.events} == {"flagged", "pass"}


@pytest.mark.parametrize("endpoint, protocol, expected", [
    ("http://localhost:6006/v1/traces", "http/protobuf", "http://localhost:6006"),
    ("https://phoenix.example.com/prefix/v1/traces", "http/protobuf", "https://phoenix.example.com/prefix"),
    ("http://collector:4318/v1/other", "http/protobuf", None),
    ("http://localhost:4317", "grpc", None),  # where its REST API is cannot be told from a gRPC port
    (None, None, None),
])
def test_phoenix_url_from_the_export_target(endpoint, protocol, expected, monkeypatch):
    monkeypatch.delenv("PHOENIX_COLLECTOR_ENDPOINT", raising=False)
    assert phoenix_url(endpoint, protocol) == expected


def test_phoenix_url_for_grpc_prefers_phoenix_collector_endpoint(monkeypatch):
    monkeypatch.setenv("PHOENIX_COLLECTOR_ENDPOINT", "http://phoenix:6006")
    assert phoenix_url("http://phoenix:4317", "grpc") == "http://phoenix:6006"


def test_when_the_writer_is_on():
    assert configure().score_sinks == ()  # a span exporter: no Phoenix to write to
    assert configure(endpoint="http://127.0.0.1:9/v1/traces", profiles=None).score_sinks == ()  # nothing scored
    assert len(configure(endpoint="http://127.0.0.1:9/v1/traces").score_sinks) == 1  # a possible Phoenix: probe it
    assert configure(endpoint="http://127.0.0.1:9/v1/traces", annotate_scores=False).score_sinks == ()
    forced = configure(annotate_scores="http://127.0.0.1:9")
    assert forced.score_sinks[0].writer.state == "on" and forced.score_sinks[0].writer.base_url == "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="cannot be told from the export target"):
        configure(annotate_scores=True)
    with pytest.raises(ValueError, match="annotate_scores='phoenix' is not valid"):
        configure(annotate_scores="phoenix")
    forced.shutdown(timeout=0.1)


def test_an_otlp_backend_that_is_not_phoenix_turns_the_writer_off(caplog):
    receiver = HttpReceiver()
    try:
        at = configure(endpoint=receiver.endpoint)
        (sink,) = at.score_sinks
        with caplog.at_level(logging.INFO, logger="agenttrace"):
            build_agent().invoke(ask(), config={"callbacks": [at.callback_handler]})
            result = at.flush(10)
        assert result.ok and result.scores_pending == 0 and at.dropped_scores == 0, result
        assert sink.writer.state == "off" and sink.writer.delivered == 0
        assert sum("does not answer as an Arize Phoenix" in r.getMessage() for r in caplog.records) == 1
        assert len(receiver.names) > 0  # the spans were exported as usual
        at.shutdown(timeout=1)
    finally:
        receiver.close()


def test_full_annotation_queue_drops_and_counts_and_never_touches_the_agent(caplog):
    at = configure(annotate_scores=closed_port_endpoint().removesuffix("/v1/traces"))  # Phoenix down
    (sink,) = at.score_sinks
    sink.writer.max_queue = 2
    with caplog.at_level(logging.WARNING, logger="agenttrace"):
        for _ in range(3):
            out = build_agent().invoke(ask(), config={"callbacks": [at.callback_handler]})
            assert out["messages"][-1].content == "Your order A1 shipped and a return is started."
        rows = 3 * (3 * 2 + 2)  # per run: 3 chat spans × (response_length, review) + the trace's 2
        result = at.flush(0.5)
        assert not result and result.scores_pending == 2 and result.dropped_scores == rows - 2, result
        assert sink.writer.drops.counts["queue_full"] == rows - 2
        assert at.callback_handler.internal_errors == 0 and sink.internal_errors == 0
        at.shutdown(timeout=0.5)
    assert at.dropped_scores == rows and sink.writer.drops.counts["abandoned"] == 2
    messages = [r.getMessage() for r in caplog.records]
    assert sum("annotation(s) dropped (the annotation queue was full)" in m for m in messages) == 1
    assert f"{rows} Phoenix annotation(s) were dropped in total ({rows - 2} queue full, 2 abandoned)" in " ".join(messages)


def scores(*values: float, name: str = "refusal_similarity") -> list[Score]:
    return [Score(name, v, "flagged" if v > 0.4 else "pass") for v in values]


def test_trace_result_waits_for_every_open_span_and_merges_late_ones():
    traces = TraceScores()
    for _ in range(3):
        traces.start(7)  # root, an LLM step, a second LLM step
    assert traces.end(7, scores(0.2)) is None
    assert traces.end(7, []) is None  # the root ends before the last step's scores
    (row,) = traces.end(7, scores(0.7))
    assert row["trace_id"] == format(7, "032x") and row["result"]["score"] == 0.7 and row["result"]["label"] == "flagged"
    traces.start(7)  # a span that starts after the trace looked complete adds to the same result
    (row,) = traces.end(7, scores(0.1))
    assert row["metadata"]["steps"] == 3 and row["result"]["score"] == 0.7
    assert traces.open_traces == 0


def test_a_metric_with_a_floor_reports_its_lowest_score_on_the_trace():
    traces = TraceScores()
    traces.start(9)
    traces.start(9)
    traces.end(9, [Score("relevance", 0.55, "pass", "relevance 0.550 ≥ floor 0.3")])
    (row,) = traces.end(9, [Score("relevance", 0.12, "flagged", "relevance 0.120 < floor 0.3")])
    assert row["result"]["score"] == 0.12 and row["result"]["label"] == "flagged"
    assert row["metadata"]["aggregate"] == "min"


def test_trace_results_are_bounded_in_memory():
    traces = TraceScores(max_open=100, max_closed=10)
    for t in range(1, 151):
        traces.start(t)
    assert traces.open_traces == 100 and traces.untracked == 50
    for t in range(1, 151):
        traces.end(t, scores(0.5, name="relevance"))
    assert traces.open_traces == 0 and len(traces._closed) == 10
    mean = TraceScores()
    mean.start(1)
    mean.start(1)
    mean.end(1, [Score("relevance", 0.2)])
    (row,) = mean.end(1, [Score("relevance", 0.6)])
    assert row["result"] == {"score": pytest.approx(0.4), "explanation": "mean of 2 scored steps"}


def test_the_core_finds_the_writer_through_its_entry_point_only():
    code = """
import sys
import agenttrace
assert "agenttrace_phoenix" not in sys.modules, "import agenttrace imported the Phoenix integration"
profiles = {"profiles": {"p": {"metrics": ["response_length"]}}, "rules": [{"match": {"kind": "llm"}, "profile": "p"}]}
agenttrace.configure(profiles=profiles, annotate_scores=False, set_global=False, handle_sigterm=False)
assert "agenttrace_phoenix" not in sys.modules, "annotate_scores=False loaded the integration"
at = agenttrace.configure(profiles=profiles, set_global=False, handle_sigterm=False)
assert type(at.score_sinks[0]).__module__ == "agenttrace_phoenix.score_sink", at.score_sinks
assert "phoenix.client" not in sys.modules, "configure() imported phoenix.client on the application's thread"
print("ok")
"""
    done = run_python(code)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
