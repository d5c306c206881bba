"""Head sampling (OTEL_TRACES_SAMPLER): honoured by configure(), while trajectory profiles, the retry
monitor and review flags still count every run — only the export is sampled."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agenttrace
from conftest import ask, build_agent
from test_profiling import ListSink

RUNS = 40
FLAG_PROFILES = {"profiles": {"p": {"metrics": ["response_length"], "thresholds": {"response_length": 1}}},
                 "rules": [{"match": {"operation": "chat"}, "profile": "p"}]}


@pytest.fixture
def sampled_env(monkeypatch):
    def set_rate(rate: float):
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", str(rate))
    return set_rate


def run_agents(check_flush=True, **kw):
    sink, exporter = ListSink(), InMemorySpanExporter()
    at = agenttrace.configure(project="sampling", span_exporter=exporter, batch=False, set_global=False,
                              profile_store=sink, **kw)
    graph = build_agent()
    for _ in range(RUNS):
        graph.invoke(ask(), config={"callbacks": [at.callback_handler]})
    flushed = at.flush(10 if check_flush else 2)
    assert flushed or not check_flush
    return at, sink, exporter


def test_the_sampler_from_the_environment_is_honoured(sampled_env):
    sampled_env(0.0)
    at, _, exporter = run_agents()
    assert exporter.get_finished_spans() == ()
    assert "TraceIdRatioBased{0.0}" in at.tracer_provider.sampler.get_description()
    at.shutdown()


def test_a_ratio_exports_whole_traces_about_that_share(sampled_env):
    sampled_env(0.5)
    at, _, exporter = run_agents()
    spans = exporter.get_finished_spans()
    traces = {s.context.trace_id for s in spans}
    assert 5 <= len(traces) <= RUNS - 5  # 40 runs at 0.5: outside [5, 35] has probability < 1e-6
    roots = {s.context.trace_id for s in spans if s.parent is None}
    assert roots == traces  # parent-based: a sampled trace is exported whole, an unsampled one not at all
    at.shutdown()


def test_unsampled_runs_are_still_profiled_and_seen_by_the_retry_monitor(sampled_env):
    rows, calls = {}, {}
    for rate in (1.0, 0.0):
        sampled_env(rate)
        at, sink, exporter = run_agents()
        assert bool(exporter.get_finished_spans()) == bool(rate)
        at.retry_monitor.force_flush()
        rows[rate], calls[rate] = len(sink.rows), at.retry_monitor.snapshot()["totals"]["calls"]
        at.shutdown()
    assert rows[0.0] == rows[1.0] == RUNS  # one trajectory row per run, exported or not
    assert calls[0.0] == calls[1.0] >= RUNS  # every model call of every run


def test_unsampled_runs_are_still_flagged_for_review(sampled_env):
    flagged = {}
    for rate in (1.0, 0.0):
        sampled_env(rate)
        at, _, exporter = run_agents(profiles=FLAG_PROFILES)
        assert bool(exporter.get_finished_spans()) == bool(rate)
        flagged[rate] = sum(at.callback_handler.metrics.flags.values())
        at.shutdown()
    assert flagged[0.0] == flagged[1.0] >= RUNS


def test_unsampled_spans_get_no_phoenix_annotations(sampled_env):
    """Their spans never reach Phoenix: annotating them could only fail (a dead URL makes every
    attempted write a counted drop, so the sampled control shows the test can fail)."""
    dropped = {}
    for rate in (1.0, 0.0):
        sampled_env(rate)
        at, _, _ = run_agents(False, profiles=FLAG_PROFILES, annotate_scores="http://127.0.0.1:9")
        at.shutdown(timeout=1)
        dropped[rate] = at.dropped_scores
    assert dropped[1.0] > 0
    assert dropped[0.0] == 0
