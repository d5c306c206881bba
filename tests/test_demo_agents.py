"""The demo's marketing agents and ``agenttrace demo``: real LangGraph graphs, real OTel SDK, no mocks."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agenttrace import semconv as sc
from agenttrace.cli import main as cli
from agenttrace.testing import ScriptedChatModel
from agenttrace_examples.marketing import AGENTS, Provider, agent, run_demo
from agenttrace_examples.marketing.provider import HEDGE_OPENINGS, REFUSALS
from agenttrace_examples.marketing.router import complexity
from conftest import Spans, support_reply
from otlp_receivers import HttpReceiver

# the demo passes LangChain's documented ``exponential_jitter_params={"initial": ...}``; tenacity 9 renamed it
pytestmark = pytest.mark.filterwarnings("ignore:The 'initial' parameter is deprecated:DeprecationWarning")

OLD, NEW = "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2026-11-05"


@pytest.fixture
def fast() -> Provider:
    """The simulated provider without latency or rate limits (for structure tests)."""
    return Provider(seed=0, latency=(0.0, 0.0), requests_per_second=1e9, burst=10**9, max_concurrency=10**9)


def chats(s: Spans):
    return [x for x in s.all if x.attributes.get(sc.OPERATION) == "chat"]


def test_email_agent_spans_carry_models_and_labels(fast, handler, spans):
    a = agent("email")
    a.run(a.build(provider=fast), a.workload(4), {"callbacks": [handler], "metadata": {"model_endpoint": "sim/v1"}})
    s = spans()
    roots = s.roots()
    assert [r.name for r in roots] == ["invoke_workflow email-personalizer"] * 4  # a hand-written pipeline: the application drives it
    for root in roots:
        nodes = sorted((x for x in s.children(root) if sc.GRAPH_NODE in x.attributes), key=lambda x: x.start_time)
        assert [n.attributes[sc.GRAPH_NODE] for n in nodes] == ["segment", "subject_line", "opening_copy"]
    for chat in chats(s):
        a = chat.attributes
        assert chat.name == "chat gpt-4o-mini" and a[sc.REQUEST_MODEL] == "gpt-4o-mini"
        assert a[sc.RESPONSE_MODEL] == OLD and a[sc.SYSTEM_FINGERPRINT].startswith("fp_")
        assert a[sc.USAGE_INPUT_TOKENS] > 0 and a[sc.USAGE_OUTPUT_TOKENS] > 0
        assert s.node_of(chat) in ("subject_line", "opening_copy")
    assert len(chats(s)) == 8
    labels = [json.loads(x.attributes[sc.OI_METADATA]) for x in s.all]
    assert {(m["segment"], m["prompt_template"], m["model_endpoint"]) for m in labels} == {
        ("A", "subject-v2", "sim/v1"), ("B", "subject-v3", "sim/v1"), ("C", "subject-v2", "sim/v1"), ("D", "subject-v3", "sim/v1")}
    assert all("email" in x.attributes[sc.OI_TAGS] for x in s.all)


def test_email_copy_mentions_the_prompts_product_and_audience(fast):
    a = agent("email")
    job = a.workload(1)[0]
    out = a.build(provider=fast).invoke(job.inputs)
    assert job.inputs["product"] in out["opening"] and out["audience"] in out["opening"]


def test_support_agent_calls_tools_and_keeps_each_conversation_in_its_thread(fast, handler, spans):
    a = agent("support")
    jobs = a.workload(3)
    a.run(a.build(provider=fast), jobs, {"callbacks": [handler]})
    s = spans()
    roots = s.roots()
    assert len(roots) == sum(len(j.inputs) for j in jobs) and all(2 <= len(j.inputs) <= 3 for j in jobs)
    threads = {j.config["configurable"]["thread_id"] for j in jobs}
    assert {r.attributes[sc.CONVERSATION_ID] for r in roots} == threads
    for root in roots:  # every span of a turn carries its conversation's id
        trace_spans = [x for x in s.all if x.context.trace_id == root.context.trace_id]
        assert {x.attributes[sc.CONVERSATION_ID] for x in trace_spans} == {root.attributes[sc.CONVERSATION_ID]}
        assert {x.attributes[sc.OI_SESSION_ID] for x in trace_spans} == {root.attributes[sc.CONVERSATION_ID]}
    statuses, returns = s.named("execute_tool order_status"), s.named("execute_tool start_return")
    assert len(statuses) == len(returns) == 3
    assert all(t.attributes[sc.TOOL_NAME] in ("order_status", "start_return") and t.attributes[sc.TOOL_CALL_ID].startswith("call_")
               for t in statuses + returns)
    # the return turn names no order: the model found it in the thread's checkpointed history
    for job in jobs:
        thread = [x for x in returns if x.attributes[sc.CONVERSATION_ID] == job.config["configurable"]["thread_id"]]
        assert len(thread) == 1 and job.inputs[0].count("NW-") == 1 and "NW-" not in job.inputs[1]
    assert {c.attributes[sc.RESPONSE_FINISH_REASONS][0] for c in chats(s)} == {"tool_calls", "stop"}


def test_router_records_the_route_and_calls_the_chosen_model(fast, handler, spans):
    a = agent("router")
    jobs = a.workload(12)
    a.run(a.build(provider=fast), jobs, {"callbacks": [handler]})
    s = spans()
    routers = s.with_attr(sc.ROUTE_SOURCE, "triage")
    assert len(routers) == 12
    expected = {"capable" if complexity(j.inputs["question"]) >= 0.5 else "cheap" for j in jobs}
    assert expected == {"cheap", "capable"}  # the workload exercises both routes
    for router in routers:
        root = next(r for r in s.roots() if r.context.trace_id == router.context.trace_id)
        tier = router.attributes[sc.ROUTE_TARGET]
        (chat,) = [c for c in chats(s) if c.context.trace_id == root.context.trace_id]
        assert s.node_of(chat) == tier
        assert chat.attributes[sc.REQUEST_MODEL] == {"cheap": "gpt-4o-mini", "capable": "gpt-4.1"}[tier]
        assert chat.attributes[sc.RESPONSE_MODEL] == {"cheap": OLD, "capable": "gpt-4.1-2025-04-14"}[tier]


def test_ad_copy_batch_hits_rate_limits_and_retries(handler, spans):
    provider = Provider(seed=0, max_concurrency=4, requests_per_second=80, burst=10)
    a = agent("ad-copy")
    outcome = a.run(a.build(provider=provider), a.workload(240), {"callbacks": [handler]})
    s = spans()
    assert outcome.runs == 240 and provider.rate_limited > 0
    failed_attempts = [c for c in chats(s) if c.status.status_code is StatusCode.ERROR]
    assert len(failed_attempts) == provider.rate_limited
    assert all(c.attributes[sc.ERROR_TYPE].endswith("RateLimitError") and c.attributes[sc.HTTP_STATUS_CODE] == 429
               and c.status.description.endswith("RateLimitError") for c in failed_attempts)  # no message: capture is off
    assert any(c.attributes[sc.RETRY_ATTEMPT] > 1 for c in chats(s))
    wrappers = s.with_attr(sc.RETRY_COUNT)
    assert len(wrappers) == 240
    exhausted = [w for w in wrappers if w.attributes[sc.RETRY_EXHAUSTED]]
    roots = s.roots()
    ok = [r for r in roots if r.status.status_code is not StatusCode.ERROR]
    assert len(ok) + len(exhausted) == 240 and outcome.failed == len(exhausted)
    for w in wrappers:  # every wrapper counts exactly the attempts under it
        attempts = [c for c in s.children(w) if sc.RETRY_ATTEMPT in c.attributes]
        assert w.attributes[sc.RETRY_COUNT] == len(attempts) - 1


def test_alias_update_changes_the_version_and_raises_refusals(fast, handler, spans):
    a = agent("email")
    graph, jobs = a.build(provider=fast), a.workload(150)
    before = [graph.invoke(j.inputs, {"callbacks": [handler]}) for j in jobs]
    fast.update_alias()
    after = [graph.invoke(j.inputs, {"callbacks": [handler]}) for j in jobs]  # the same requests

    def refusal_share(outputs):
        texts = [o[k] for o in outputs for k in ("subject", "opening")]
        return sum(t in REFUSALS for t in texts) / len(texts)

    assert refusal_share(before) <= 0.04 and refusal_share(after) >= 0.18
    ordered = sorted(chats(spans()), key=lambda c: c.start_time)
    models = [(c.attributes[sc.RESPONSE_MODEL], c.attributes[sc.SYSTEM_FINGERPRINT]) for c in ordered]
    assert {m for m, _ in models[:300]} == {OLD} and {m for m, _ in models[300:]} == {NEW}
    assert len({f for _, f in models[:300]}) == len({f for _, f in models[300:]}) == 1 and models[0][1] != models[-1][1]
    assert all(c.attributes[sc.REQUEST_MODEL] == "gpt-4o-mini" for c in chats(spans()))
    openings = tuple(h.split("{", 1)[0] for h in HEDGE_OPENINGS)
    hedged = sum(o["opening"].startswith(openings) for o in after) / len(after)
    assert hedged > 0.2  # the new release hedges a lot more


def test_the_provider_is_deterministic_given_a_seed():
    def texts(seed):
        p = Provider(seed=seed, latency=(0.0, 0.0))
        a = agent("router")
        graph = a.build(provider=p)
        return [graph.invoke(j.inputs)["answer"] for j in a.workload(20, seed)]

    assert texts(3) == texts(3) != texts(4)


def test_every_agent_runs_on_any_langchain_chat_model(handler, spans):
    model = ScriptedChatModel(replies=[support_reply], model="my-model", response_model="my-model-001")
    for a in AGENTS:
        outcome = a.run(a.build(llm=model), a.workload(1), {"callbacks": [handler]})
        assert outcome.failed == 0, outcome.errors
    assert {c.attributes[sc.RESPONSE_MODEL] for c in chats(spans())} == {"my-model-001"}


def test_run_demo_summary_matches_the_exported_spans():
    exporter = InMemorySpanExporter()
    summary = run_demo(scale=0.1, span_exporter=exporter, heavy_metrics=False, progress=False)
    spans = Spans(exporter.get_finished_spans())
    assert summary.failed == 0 and summary.dropped == 0
    assert summary.spans == summary.spans_sent == len(spans.all)
    assert summary.traces == len(spans.roots()) == summary.runs
    # the support bot's model drives a tool loop (an agent); the other three are hand-written pipelines
    assert {r.name for r in spans.roots()} == {"invoke_agent support-bot"} | {f"invoke_workflow {n}" for n in
                                               ("email-personalizer", "ad-copy-batch", "model-router")}
    chat = chats(spans)
    assert summary.llm_calls == len(chat)
    assert summary.rate_limited == sum(c.status.status_code is StatusCode.ERROR for c in chat)
    assert summary.retries == sum(x.attributes.get(sc.RETRY_ATTEMPT, 0) > 1 for x in spans.all)
    assert set(summary.versions["before"]) == {OLD, "gpt-4.1-2025-04-14"}
    assert set(summary.versions["after"]) == {NEW, "gpt-4.1-2026-11-05"}
    assert all(sc.METRIC_PREFIX + "response_length" in c.attributes for c in chat if c.status.is_ok)  # light metrics ran
    assert all(x.resource.attributes[sc.OI_PROJECT_NAME] == "agenttrace-demo" for x in spans.all)
    text = summary.format()
    assert "before the alias update" in text and "gpt-4o-mini-2026-11-05" in text


def test_simulated_days_spread_the_runs_and_place_the_update():
    import time

    exporter = InMemorySpanExporter()
    now = time.time_ns()
    summary = run_demo(scale=0.2, span_exporter=exporter, heavy_metrics=False, progress=False, days=37, switch_at=32 / 37)
    spans = Spans(exporter.get_finished_spans())
    day = 86_400 * 10**9
    roots = spans.roots()
    assert len(roots) == summary.runs and "spread over 37 simulated days" in summary.format()
    ages = sorted((now - r.start_time) / day for r in roots)
    assert 0 < ages[0] < 2 and 35 < ages[-1] < 37.1
    assert sum(a < 7 for a in ages) > 0.1 * len(ages)  # the current week has its share of runs
    for c in chats(spans):
        if c.status.is_ok:  # every reply before the update came from the old release, every one after from the new
            age = (now - c.start_time) / day
            assert (c.attributes[sc.RESPONSE_MODEL] in (NEW, "gpt-4.1-2026-11-05")) == (age < 5), (age, c.attributes[sc.RESPONSE_MODEL])
    for s in spans.all:
        assert s.start_time <= s.end_time
        assert all(s.start_time <= e.timestamp <= s.end_time + 10**9 for e in s.events)


def test_cli_demo_help():
    result = CliRunner().invoke(cli, ["demo", "--help"])
    assert result.exit_code == 0
    for option in ("--agents", "--scale", "--switch-at", "--no-switch", "--seed", "--project", "--endpoint",
                   "--protocol", "--model", "--profiles", "--no-capture-content"):
        assert option in result.output


def test_cli_demo_router_sends_what_its_summary_says(monkeypatch, tmp_path):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
    receiver = HttpReceiver()
    try:
        result = CliRunner().invoke(cli, ["demo", "--agents", "router", "--scale", "small", "--endpoint", receiver.endpoint,
                                          "--light-metrics", "--no-progress", "--project", "demo-test",
                                          "--profile-store", str(tmp_path / "profiles")])
    finally:
        receiver.close()
    assert result.exit_code == 0, result.output
    received = [s for r in receiver.requests for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("  ")}
    assert f"{len(received)} sent to {receiver.endpoint}" in lines["spans"] and ", 0 dropped" in lines["spans"]
    roots = [s for s in received if not s.parent_span_id]
    assert len(roots) == 12 and lines["traces"].startswith(f"  traces       {len(roots)};")
    llm = sum(any(a.key == sc.OPERATION and a.value.string_value == "chat" for a in s.attributes) for s in received)
    assert f"LLM calls {llm}," in lines["traces"]
    projects = {a.value.string_value for r in receiver.requests for rs in r.resource_spans for a in rs.resource.attributes
                if a.key == sc.OI_PROJECT_NAME}
    assert projects == {"demo-test"}


def test_cli_demo_rejects_bad_options():
    runner = CliRunner()
    assert "unknown agent" in runner.invoke(cli, ["demo", "--agents", "poetry"]).output
    assert "--scale" in runner.invoke(cli, ["demo", "--scale", "huge"]).output
    assert "--runs" in runner.invoke(cli, ["demo", "--runs", "email=lots"]).output
    try:
        import langchain  # noqa: F401
    except ImportError:
        result = runner.invoke(cli, ["demo", "--model", "openai:gpt-4o-mini"])
        assert result.exit_code != 0 and "langchain" in result.output


def test_refusal_detector_flags_refusals_after_the_update_more_often():
    pytest.importorskip("agenttrace_langkit")
    exporter = InMemorySpanExporter()
    summary = run_demo(["email", "router"], counts={"email": 60, "router": 60}, span_exporter=exporter, progress=False)
    share = {p: summary.refusals.get(p, 0) / summary.replies[p] for p in ("before", "after")}
    assert share["after"] > 2 * share["before"] and share["after"] >= 0.15
    caught, langkit, refusals, others, false = 0, 0, 0, 0, 0
    for c in chats(Spans(exporter.get_finished_spans())):
        text = c.attributes[f"{sc.OI_LLM_OUTPUT_MESSAGES}.0.{sc.OI_MESSAGE_CONTENT}"]  # the default content format
        flagged = bool(c.attributes.get(sc.REVIEW_REQUIRED)) and "refusal" in c.attributes.get(sc.REVIEW_REASON, "")
        if text in REFUSALS:
            refusals += 1
            caught += flagged
            langkit += c.attributes["agenttrace.metric.refusal_similarity"] > 0.4
        else:
            others += 1
            false += flagged
    # the provider declines in seven phrasings: the detector misses one ("I'd rather not use urgency
    # wording like 'last chance'...": refusal_score 0.41), LangKit's 0.4 flag catches only the canned one
    assert refusals >= 20 and caught / refusals >= 0.75 and caught > 2 * langkit
    assert false / others <= 0.02  # copy and hedged copy: 1.0% flagged on the calibration run (profiles.toml)
