"""Failures clustered by cause (``agenttrace retries``): real LangChain retries over a scripted chat
model raising provider errors (tests/retry_traffic.py), traced by the real OTel SDK; templates mined
by drain3; the retries drift rule on real whylogs profiles; the command against the real Phoenix
of the test session, with annotations read back."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

pytest.importorskip("whylogs")
pytest.importorskip("drain3")

from click.testing import CliRunner  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from agenttrace.handler import CallbackHandler  # noqa: E402
from agenttrace.trajectory import Trajectory  # noqa: E402
from agenttrace_whylogs import DriftConfig, ProfileStore, detect  # noqa: E402
from agenttrace_whylogs.retry_clusters import classify, cluster  # noqa: E402
from agenttrace_whylogs.retry_failures import from_sdk_spans  # noqa: E402
from retry_traffic import run_batch  # noqa: E402
from test_drift_phoenix import SimClock  # noqa: E402

MIDNIGHT = datetime(2026, 6, 30, tzinfo=timezone.utc)


def minute_clock():
    """A simulated clock (test_drift_phoenix.SimClock) and a function setting it to a minute after MIDNIGHT."""
    clock = SimClock()
    return clock, lambda minute: clock.at(int((MIDNIGHT.timestamp() + 60 * minute) * 1e9))


@pytest.fixture(scope="module")
def batch_spans():
    exporter, provider, (clock, at_minute) = InMemorySpanExporter(), TracerProvider(), minute_clock()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    handler = CallbackHandler(provider, capture_content=True, clock=clock)
    run_batch(handler, at_minute)
    provider.shutdown()
    return exporter.get_finished_spans()


def test_failures_cluster_into_rate_limits_and_content_policy(batch_spans):
    runs, failures = from_sdk_spans(batch_spans)
    assert len(runs) == 102
    clusters = cluster(failures, runs)
    assert [c.kind for c in clusters] == ["content_policy", "infrastructure"] or \
        [c.kind for c in clusters] == ["infrastructure", "content_policy"]
    by_kind = {c.kind: c for c in clusters}
    limit, policy = by_kind["infrastructure"], by_kind["content_policy"]
    # request ids, numbers and counts are masked: one template per cause
    assert "<ID>" in limit.template and "Rate limit reached" in limit.template and "req_" not in limit.template
    assert "<NUM>" in limit.template
    assert "safety system" in policy.template and "<ID>" in policy.template
    assert (limit.status, policy.status) == (429, 400)
    assert limit.provider == "openai" and limit.model == "gpt-4o"
    assert limit.error_type.endswith("RateLimitError") and policy.error_type.endswith("BadRequestError")
    # every failed run exhausted its 3 attempts
    assert limit.exhausted == limit.failures >= 8 and policy.exhausted == policy.failures >= 5
    assert limit.retries == 2 * limit.failures
    # ranked by exhausted retries
    assert clusters[0].exhausted >= clusters[1].exhausted
    # the content-policy cluster sits in one category and template; the rate limits hit every template, at 02:00
    assert policy.concentrated in (("prompt_template", "creative_brief"), ("client_category", "swimwear"))
    assert {v for v, _ in policy.breakdown["client_category"]} == {"swimwear"}
    assert limit.concentrated is None and len(limit.breakdown["prompt_template"]) == 3
    assert limit.bunched and not policy.bunched
    assert "backoff with jitter" in limit.next_step
    assert "content policy" in policy.next_step and "non-retryable" in policy.next_step
    assert len(limit.runs) == limit.failures and all(len(t) == 32 and len(s) == 16 for t, s in limit.runs)


def test_classification_of_statuses_and_messages():
    assert classify("Service Unavailable <NUM>", 503) == "infrastructure"
    assert classify("Request timed out.", None, "httpx.ReadTimeout") == "infrastructure"
    assert classify("Rate limit reached for <*>", None) == "infrastructure"
    assert classify("Output blocked by content filtering policy", 400) == "content_policy"
    assert classify("The model refused to answer", None) == "content_policy"
    assert classify("Invalid value for 'temperature'", 422) == "content_policy"
    assert classify("Incorrect API key provided", 401) == "other"
    assert classify("KeyError: 'title'", None, "KeyError") == "other"


def _runs(n: int, start: datetime, hours: float, seed_retries, exhausted_every: int = 0, category: str = "toys"):
    out = []
    for i in range(n):
        retries = float(seed_retries(i))
        out.append(Trajectory(f"{uuid.uuid4().hex}", uuid.uuid4().hex[:16],
                              (start + timedelta(hours=hours * i / n)).timestamp(),
                              {"client_category": category},
                              {"retry_count": retries, "llm_calls": 1.0 + retries,
                               "retry_exhausted": float(bool(exhausted_every) and i % exhausted_every == 0),
                               "error": float(bool(exhausted_every) and i % exhausted_every == 0)}))
    return out


def test_retries_rule_flags_amplification_and_exhausted_rate(tmp_path):
    store = ProfileStore(tmp_path / "p", window=timedelta(hours=1), segment_keys=("client_category",))
    day0 = MIDNIGHT - timedelta(days=2)
    day1 = MIDNIGHT - timedelta(days=1)
    # baseline: both categories retry now and then; current: toys' retries triple and a fifth exhaust
    store.write(_runs(300, day0, 20, lambda i: i % 10 == 0, 100, "toys"))
    store.write(_runs(300, day0, 20, lambda i: i % 10 == 0, 100, "garden"))
    store.write(_runs(300, day1, 20, lambda i: 2 if i % 3 == 0 else 0, 5, "toys"))
    store.write(_runs(300, day1, 20, lambda i: i % 10 == 0, 100, "garden"))
    store.flush()
    result = detect(store, baseline=(day0, day1), current=(day1, MIDNIGHT), config=DriftConfig())
    retries = {(f.segment_value, f.feature): f for f in result.findings if f.rule == "retries"}
    assert set(retries) >= {("toys", "retry_amplification"), ("toys", "retry_exhausted_rate")}
    assert not any(seg == "garden" for seg, _ in retries)
    amp = retries[("toys", "retry_amplification")]
    assert amp.severity == "alert" and amp.annotation == "retry_cascade"
    assert amp.baseline["amplification"] == pytest.approx(1.1, abs=0.01)
    assert amp.current["amplification"] == pytest.approx(500 / 300, rel=0.02)  # 300 calls, 200 retries
    assert "attempts per call" in amp.message and amp.selector["feature"] == "retry_count"
    assert retries[("toys", "retry_exhausted_rate")].current["rate"] == pytest.approx(0.2)
    # the retries findings replace distribution_drift's on the features they cover
    assert not [f for f in result.findings if f.rule == "distribution_drift" and f.segment_value == "toys"
                and f.feature in ("retry_count", "retry_exhausted")]


def test_retries_rule_is_quiet_without_a_change(tmp_path):
    store = ProfileStore(tmp_path / "p", window=timedelta(hours=1), segment_keys=("client_category",))
    day0, day1 = MIDNIGHT - timedelta(days=2), MIDNIGHT - timedelta(days=1)
    store.write(_runs(300, day0, 20, lambda i: i % 10 == 0, 100))
    store.write(_runs(300, day1, 20, lambda i: i % 10 == 0, 100))
    store.flush()
    result = detect(store, baseline=(day0, day1), current=(day1, MIDNIGHT))
    assert result.tests.get("retries", 0) >= 2
    assert not [f for f in result.findings if f.rule == "retries"]


@pytest.mark.phoenix
def test_retries_command_over_store_and_phoenix_annotates_clusters(phoenix_server, phoenix_store, tmp_path):
    import agenttrace
    from agenttrace.cli import main

    project, (clock, at_minute), memory = f"retries-{uuid.uuid4().hex[:8]}", minute_clock(), InMemorySpanExporter()
    at = agenttrace.configure(project=project, endpoint=phoenix_server.otlp_http_endpoint, set_global=False,
                              profile_store=str(tmp_path / "profiles"), profile_window=3600, capture_content=True,
                              clock=clock)
    at.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    run_batch(at.callback_handler, at_minute)
    assert at.flush(60)
    at.shutdown()
    phoenix_store.wait_for_spans(project, len(memory.get_finished_spans()), timeout=120)

    out_json, out_html = tmp_path / "retries.json", tmp_path / "retries.html"
    result = CliRunner().invoke(main, ["retries", "--store", str(tmp_path / "profiles"), "--phoenix-project", project,
                                       "--phoenix-url", phoenix_server.url, "--json", str(out_json),
                                       "--html", str(out_html)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("infrastructure" in line and "429" in line for line in lines)
    assert any("content_policy" in line and "400" in line for line in lines)
    report = json.loads(out_json.read_text())
    kinds = {c["kind"]: c for c in report["clusters"]}
    assert set(kinds) == {"infrastructure", "content_policy"}
    assert kinds["content_policy"]["breakdown"]["client_category"] == [["swimwear", kinds["content_policy"]["failures"]]]
    # the timeline comes from the profile store's hourly windows: the 02:00 window is the storm
    timeline = {p["start"][11:16]: p for p in report["timeline"]}
    assert len(timeline) == 8 and timeline["02:00"]["amplification"] == max(p["amplification"] for p in report["timeline"])
    assert timeline["02:00"]["exhausted_rate"] > 0.5 and timeline["01:00"]["amplification"] == pytest.approx(1.0)
    html = out_html.read_text()
    assert "Retries over time" in html and "<img" in html and "safety system" in html

    # every run of each cluster carries its annotation, on its root span
    for kind, c in kinds.items():
        got = phoenix_store.span_annotations(project, [r["span_id"] for r in c["runs"]])
        mine = [a for a in got if a["name"] == "retry_cluster"]
        assert len(mine) == len(c["runs"]) and {a["result"]["label"] for a in mine} == {kind}
        assert all(c["id"] in a["result"]["explanation"] for a in mine)


def test_retries_command_without_a_source_is_one_error_line(tmp_path):
    from agenttrace.cli import main

    result = CliRunner().invoke(main, ["retries", "--store", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: no profile store") and len(result.output.strip().splitlines()) == 1


def test_without_content_capture_the_template_is_the_exception_type():
    exporter, provider, (clock, at_minute) = InMemorySpanExporter(), TracerProvider(), minute_clock()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    run_batch(CallbackHandler(provider, capture_content=False, clock=clock), at_minute)
    provider.shutdown()
    runs, failures = from_sdk_spans(exporter.get_finished_spans())
    clusters = {c.template: c for c in cluster(failures, runs)}
    assert set(clusters) == {"retry_traffic.RateLimitError", "retry_traffic.BadRequestError"}
    assert all("req_" not in f.message and "safety" not in f.message for f in failures)  # no content leaked
    # the status comes from the attempt spans' http.response.status_code, which needs no content
    assert (clusters["retry_traffic.RateLimitError"].status, clusters["retry_traffic.BadRequestError"].status) == (429, 400)
    assert clusters["retry_traffic.RateLimitError"].kind == "infrastructure"
    assert clusters["retry_traffic.BadRequestError"].kind == "content_policy"


def test_retries_help_names_the_classes():
    from agenttrace.cli import main

    result = CliRunner().invoke(main, ["retries", "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert "content_policy" in result.output and "infrastructure" in result.output and "drain3" in result.output
