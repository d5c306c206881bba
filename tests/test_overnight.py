"""The overnight-batch demo scenario: real LangGraph graphs, LangChain's RunnableRetry, the real OTel SDK."""

from __future__ import annotations

import json
import statistics
import time

import pytest
from click.testing import CliRunner
from langchain_core.runnables import RunnableLambda
from langchain_core.runnables.retry import RunnableRetry
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from tenacity import wait_exponential_jitter, wait_fixed

from agenttrace import semconv as sc
from agenttrace.cli import main as cli
from agenttrace_examples.marketing.overnight import (
    ATTEMPTS, CONTENT_CATEGORY, HEALTH_CLAIMS, FlatRetry, Section, briefs, policies, replay_agent, run_overnight)
from agenttrace_examples.marketing.provider import ContentPolicyError, Provider, RateLimitError
from conftest import Spans
from otlp_receivers import HttpReceiver

# LangChain's documented ``exponential_jitter_params={"initial": ...}`` (its params type has no "multiplier"); tenacity 9
# renamed it
pytestmark = pytest.mark.filterwarnings("ignore:The 'initial' parameter is deprecated:DeprecationWarning")




@pytest.fixture(scope="module")
def batch():
    """One 60-brief batch under both policies, its spans and how long it took."""
    exporter = InMemorySpanExporter()
    calls = []

    def per_policy(result, telemetry):
        calls.append((result.policy, telemetry.callback_handler is not None))
        return Section(f"after {result.policy}", [f"{result.completed} completed"])

    started = time.monotonic()
    summary = run_overnight(60, span_exporter=exporter, policy_sections=[per_policy],
                            batch_sections=[lambda s: Section("both", [f"{len(s.results)} policies"])])
    return summary, Spans(exporter.get_finished_spans()), time.monotonic() - started, calls


def _meta(span) -> dict:
    return json.loads(span.attributes.get(sc.OI_METADATA, "{}"))


def _attempts_by_run(s: Spans, policy: str) -> dict:
    """trace id → the run's attempt spans in order, for one policy."""
    runs: dict = {}
    for span in s.with_attr(sc.RETRY_ATTEMPT):
        if _meta(span)["retry_policy"] == policy:
            runs.setdefault(span.context.trace_id, []).append(span)
    return {t: sorted(a, key=lambda x: x.attributes[sc.RETRY_ATTEMPT]) for t, a in runs.items()}


def test_flat_retries_complete_fewer_briefs_than_backoff_with_jitter(batch):
    summary, _, seconds, _ = batch
    naive, recommended = summary.result("naive"), summary.result("recommended")
    assert naive.runs == recommended.runs == 60
    # the demo's tier: over 10 batches on 2 busy cores, naive 84.5–91.2% of the accepted briefs, recommended 100%
    # (docs/benchmarks.md); the bounds leave room for a differently loaded machine
    assert recommended.infrastructure_completion_rate >= 0.93
    assert naive.infrastructure_completion_rate <= recommended.infrastructure_completion_rate - 0.04
    assert naive.completion_rate < recommended.completion_rate
    assert naive.rate_limited > 0 and naive.rate_limited == naive.runs - naive.completed - naive.content_policy
    assert naive.rejected_429 > recommended.rejected_429
    assert seconds < 60 and all(r.seconds < 20 for r in summary.results)  # time compressed: a few seconds each


def test_the_content_policy_category_fails_with_400_and_only_the_naive_policy_retries_it(batch):
    summary, s, _, _ = batch
    flagged = [j for j in briefs(60) if j.config["metadata"]["client_category"] == CONTENT_CATEGORY]
    assert len(flagged) == 4 and all(any(p in j.inputs["benefit"] for p in HEALTH_CLAIMS) for j in flagged)
    recommended = summary.result("recommended")
    assert recommended.failed_by_category[CONTENT_CATEGORY] == 4 and recommended.content_policy >= 3  # or three 429s
    assert sum("content_policy_violation: request id req_" in recommended.errors[j.config["metadata"]["brief_id"]]
               for j in flagged) == recommended.content_policy
    for policy in ("recommended", "naive"):
        runs = [a for a in _attempts_by_run(s, policy).values() if _meta(a[0])["client_category"] == CONTENT_CATEGORY]
        assert len(runs) == 4
        for attempts in runs:
            codes = [a.attributes.get(sc.HTTP_STATUS_CODE) for a in attempts]
            assert set(codes) <= {400, 429}  # the tier may answer 429 before the safety system sees the request
            wrapper = s.parent(attempts[0])
            assert wrapper.attributes[sc.RETRY_COUNT] == len(attempts) - 1 and wrapper.attributes[sc.RETRY_EXHAUSTED] is True
            if policy == "recommended":  # a 400 is not retried: it ends the run
                assert 400 not in codes[:-1]
                assert codes[-1] == 429 or attempts[-1].attributes[sc.ERROR_TYPE].endswith("ContentPolicyError")
            else:
                assert len(attempts) == ATTEMPTS
        if policy == "recommended":
            assert sum(a[-1].attributes[sc.HTTP_STATUS_CODE] == 400 for a in runs) == summary.result(policy).content_policy
        else:  # retried like anything else
            assert any(code == 400 for attempts in runs for code in
                       [a.attributes.get(sc.HTTP_STATUS_CODE) for a in attempts[:-1]])
    # the other categories fail, under the naive policy, from 429s spread across them
    naive = summary.result("naive")
    assert sum(n for c, n in naive.failed_by_category.items() if c != CONTENT_CATEGORY) >= 3
    assert len(naive.failed_by_category) >= 3


def test_attempt_spans_show_flat_waits_for_the_naive_policy_and_growing_waits_for_the_recommended(batch):
    _, s, _, _ = batch

    def waits(policy, n):  # the wait before attempt n+1, from the spans
        return [(a[n].start_time - a[n - 1].end_time) / 1e9 for a in _attempts_by_run(s, policy).values() if len(a) > n]

    naive, recommended = (waits("naive", 1), waits("naive", 2)), (waits("recommended", 1), waits("recommended", 2))
    assert all(len(w) >= 3 for w in (*naive, recommended[0]))
    assert min(naive[0] + naive[1]) >= 1.0 and statistics.median(naive[0] + naive[1]) < 1.1  # 2 s at 0.5x, flat
    assert min(recommended[0]) >= 1.0 and statistics.median(recommended[0]) < 1.5  # 2 s + 0–1 s jitter at 0.5x
    assert statistics.pstdev(recommended[0]) > 0.05  # uniform over 0.5 s: 0.14
    assert all(w >= 2.0 for w in recommended[1])  # 4 s + 0–1 s
    retried = [a for runs in _attempts_by_run(s, "naive").values() for a in runs if a.attributes[sc.RETRY_ATTEMPT] > 1]
    assert retried and {s.parent(a).attributes[sc.RETRY_COUNT] for a in retried} <= {1, 2}
    assert any(a.attributes.get(sc.ERROR_TYPE, "").endswith("RateLimitError")
               and a.attributes.get(sc.HTTP_STATUS_CODE) == 429 for runs in _attempts_by_run(s, "naive").values() for a in runs)


def test_the_policies_are_langchains_retry_with_a_fixed_or_an_exponential_jittered_wait():
    model = Provider(0).chat_model("gpt-4o-mini", lambda request: ["Copy."])
    naive, recommended = (p.wrap(model) for p in policies())
    assert isinstance(naive, RunnableRetry) and isinstance(recommended, RunnableRetry)
    flat, backoff = naive._kwargs_retrying["wait"], recommended._kwargs_retrying["wait"]
    assert isinstance(flat, wait_fixed) and flat.wait_fixed == pytest.approx(1.0)
    assert isinstance(backoff, wait_exponential_jitter)
    assert (backoff.multiplier, backoff.exp_base, backoff.jitter) == (pytest.approx(1.0), 2, pytest.approx(0.5))
    assert naive.max_attempt_number == recommended.max_attempt_number == ATTEMPTS
    assert naive.retry_exception_types == (Exception,) and ContentPolicyError not in recommended.retry_exception_types


def test_every_run_is_labelled_with_its_category_brief_and_policy(batch):
    summary, s, _, _ = batch
    roots = s.roots()
    assert len(roots) == 120 and {r.name for r in roots} == {"invoke_workflow ad-copy-batch"}
    labels = [_meta(r) for r in roots]
    assert {m["retry_policy"] for m in labels} == {"naive", "recommended"}
    assert len({(m["retry_policy"], m["brief_id"]) for m in labels}) == 120
    assert {m["client_category"] for m in labels} == {"footwear", "outerwear", "packs", "camping", "hydration",
                                                      CONTENT_CATEGORY}
    failed = [r for r in roots if r.status.status_code is StatusCode.ERROR]
    assert len(failed) == sum(r.runs - r.completed for r in summary.results)
    assert summary.dropped == 0 and summary.spans == len(s.all)


def test_sections_from_hooks_are_printed_after_the_policies(batch):
    summary, _, _, calls = batch
    assert calls == [("naive", True), ("recommended", True)]
    text = summary.format()
    assert "2 s (run at 1 s)" in text and "side by side" in text
    naive, recommended = summary.result("naive"), summary.result("recommended")
    assert f"runs 60, completed {naive.completed} ({100 * naive.completed / 60:.1f}%" in text
    assert f"content-policy failures {recommended.content_policy}" in text
    assert text.index("  after naive") > text.index("  recommended") and text.rstrip().endswith("2 policies")


def test_briefs_lost_to_429_overnight_complete_when_replayed_through_the_daytime_agent(batch, handler, spans):
    summary, *_ = batch
    jobs = {j.config["metadata"]["brief_id"]: j for j in briefs(60)}
    lost = [brief for brief, error in summary.result("naive").errors.items()  # a supplement brief may also meet 429s
            if error.startswith("RateLimitError") and jobs[brief].config["metadata"]["client_category"] != CONTENT_CATEGORY]
    assert lost
    for brief in lost:
        out = replay_agent.invoke(jobs[brief].inputs, {"callbacks": [handler]})
        assert out["copy"] and jobs[brief].inputs["product"] in out["copy"]
    assert len(spans().roots()) == len(lost) and all(r.status.status_code is not StatusCode.ERROR for r in spans().roots())


def test_provider_rejects_flagged_prompts_with_a_400_after_taking_a_rate_limit_slot():
    provider = Provider(0, latency=(0.0, 0.0), burst=2, requests_per_second=1e-9, flagged_phrases=("Boost immunity",))
    model = provider.chat_model("gpt-4o-mini", lambda request: ["Fine copy."])
    with pytest.raises(ContentPolicyError) as err:
        model.invoke("Benefit: boost immunity at altitude")
    assert err.value.status_code == 400 and str(err.value).startswith("400 Bad Request: content_policy_violation: request id req_")
    assert model.invoke("Benefit: keep you dry").content == "Fine copy."
    with pytest.raises(RateLimitError):  # the rejected request used up a token like any other
        model.invoke("Benefit: keep you dry")
    assert (provider.requests, provider.flagged, provider.rate_limited) == (3, 1, 1)


def test_flat_retry_is_langchains_runnable_retry_with_a_fixed_wait(handler, spans):
    calls = []

    def flaky(x):
        calls.append(time.monotonic())
        raise RateLimitError(retry_after=1)

    retrying = FlatRetry(bound=RunnableLambda(flaky), kwargs={}, config={}, max_attempt_number=3,
                         retry_exception_types=(Exception,), wait_exponential_jitter=False, wait_seconds=0.05)
    with pytest.raises(RateLimitError):
        retrying.invoke("brief", config={"callbacks": [handler]})
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert len(calls) == 3 and all(0.05 <= g < 0.15 for g in gaps)
    s = spans()
    assert sorted(a.attributes[sc.RETRY_ATTEMPT] for a in s.with_attr(sc.RETRY_ATTEMPT)) == [1, 2, 3]
    assert s.with_attr(sc.RETRY_EXHAUSTED, True)


def test_cli_demo_overnight_prints_both_policies_and_sends_the_spans(monkeypatch, tmp_path):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
    monkeypatch.setenv("AGENTTRACE_DEAD_LETTER", str(tmp_path / "dead-letter.sqlite"))
    receiver = HttpReceiver()
    try:
        result = CliRunner().invoke(cli, ["demo", "--overnight", "--briefs", "20", "--endpoint", receiver.endpoint])
    finally:
        receiver.close()
    assert result.exit_code == 0, result.output
    received = [s for r in receiver.requests for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert "20 ad briefs sent at once" in result.output and "project 'agenttrace-overnight'" in result.output
    assert f"{len(received)} sent to {receiver.endpoint}" in result.output and ", 0 dropped" in result.output
    assert "  naive        flat 2 s (run at 1 s) wait" in result.output and "  recommended  " in result.output
    assert len([s for s in received if not s.parent_span_id]) == 40


def test_cli_demo_overnight_refuses_options_of_the_default_demo():
    result = CliRunner().invoke(cli, ["demo", "--overnight", "--days", "3", "--agents", "email"])
    assert result.exit_code == 2 and "not used with --overnight: --agents, --days" in result.output
    result = CliRunner().invoke(cli, ["demo", "--briefs", "5"])
    assert result.exit_code == 2 and "--briefs only applies with --overnight" in result.output


def test_cli_demo_overnight_shows_the_storm_dead_letters_and_clusters_and_the_replay_completes(monkeypatch, tmp_path):
    """The summary names the herd/storm the naive policy causes (no jitter), keeps the runs lost to
    429 in the dead-letter queue, and `agenttrace dlq replay` finishes them on the daytime agent."""
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
    monkeypatch.setenv("AGENTTRACE_DEAD_LETTER", str(tmp_path / "dead-letter.sqlite"))
    receiver = HttpReceiver()
    try:
        result = CliRunner().invoke(cli, ["demo", "--overnight", "--briefs", "60", "--endpoint", receiver.endpoint])
        assert result.exit_code == 0, result.output
        naive = result.output.split("retry monitor (naive)", 1)[1].split("retry monitor (recommended)", 1)[0]
        assert "on openai gpt-4o-mini: detected" in naive and "retries without jitter" in naive, result.output
        kept = int(result.output.split("dead-letter queue\n", 1)[1].split()[0])
        assert kept >= 1 and "agenttrace dlq replay" in result.output
        clusters = result.output.split("failure clusters\n", 1)[1]  # one content-policy cause, one capacity cause
        assert "content policy: " in clusters and "HTTP 400, client_category=supplements" in clusters, clusters
        assert "infrastructure: " in clusters and "HTTP 429" in clusters, clusters
        replay = CliRunner().invoke(cli, ["dlq", "replay", "--endpoint", receiver.endpoint])
    finally:
        receiver.close()
    replayed = replay.output.count("\nreplayed ") + replay.output.startswith("replayed ")
    failed = [line for line in replay.output.splitlines() if line.startswith("failed")]
    assert replayed + len(failed) == kept, replay.output
    assert all("content_policy_violation" in line for line in failed), replay.output  # only supplement briefs fail again
    assert replayed >= 1
