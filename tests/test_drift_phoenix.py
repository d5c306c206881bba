"""Drift and Phoenix, end to end against the real server of the test session (phoenix_fixtures.py).

Real LangGraph agents are traced by agenttrace on a simulated clock (runs spread over days) and
exported over OTLP/HTTP; the same runs are also profiled live (a sink that keeps the rows), so
the trajectories rebuilt from Phoenix's spans can be compared with what the agents did. Then
findings are written back as annotations and read and filtered in Phoenix.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from langchain_core.messages import AIMessage
from phoenix.client.types.spans import SpanQuery

import agenttrace
from agenttrace.cli import main
from agenttrace.testing import ScriptedChatModel
from agenttrace_phoenix.annotations import annotate_findings
from agenttrace_phoenix.trajectories import iter_trajectories
from agenttrace_whylogs.from_phoenix import build_store_from_phoenix
from agenttrace_whylogs.rules import Finding
from conftest import ask, build_agent, support_reply

pytestmark = pytest.mark.phoenix

DAY_NS = 86_400 * 10**9
# simulated "now" of these tests: a fixed midnight, so windows and days are exact
NOW = datetime(2026, 6, 30, tzinfo=timezone.utc)


class SimClock:
    """Span timestamps at a simulated time: real durations, shifted to ``at(ns)``."""

    def __init__(self):
        self.offset = 0

    def __call__(self) -> int:
        return time.time_ns() + self.offset

    def at(self, when_ns: int) -> None:
        self.offset = when_ns - time.time_ns()


class ListSink:
    def __init__(self):
        self.rows, self.lock = [], threading.Lock()

    def write(self, trajectories):
        with self.lock:
            self.rows.extend(trajectories)

    def flush(self):
        pass

    def close(self):
        pass


def sim_ns(days_before_now: float) -> int:
    return int(NOW.timestamp() * 1e9) - int(days_before_now * DAY_NS)


def billing_model(response_model: str = "gpt-4o-mini-2024-07-18") -> ScriptedChatModel:
    return ScriptedChatModel(replies=[AIMessage("Your invoice is attached.")], model="gpt-4o-mini",
                             response_model=response_model, system_fingerprint="fp_b1")


def export(phoenix_server, phoenix_store, plan):
    """Run ``plan`` — (days before NOW, graph, metadata) items — into a fresh project; returns
    (project, live trajectories) once Phoenix has stored every span."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    project = f"drift-{uuid.uuid4().hex[:8]}"
    clock, sink, memory = SimClock(), ListSink(), InMemorySpanExporter()
    at = agenttrace.configure(project=project, endpoint=phoenix_server.otlp_http_endpoint, set_global=False,
                              profile_store=sink, clock=clock)
    at.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    for days, graph, metadata in sorted(plan, key=lambda p: -p[0]):
        clock.at(sim_ns(days))
        graph.invoke(ask(), config={"callbacks": [at.callback_handler], "metadata": metadata})
    assert at.flush(60)
    at.shutdown()
    assert at.dropped_spans == 0
    phoenix_store.wait_for_spans(project, len(memory.get_finished_spans()), timeout=120)
    return project, sorted(sink.rows, key=lambda t: t.end_time)


def comparable(t):
    f = dict(t.features)
    f.pop("latency_ms")  # Phoenix keeps microseconds, the SDK nanoseconds
    return t.trace_id, t.span_id, t.segments, f


@pytest.fixture(scope="module")
def small_project(phoenix_server, phoenix_store):
    """3 support runs (segment returns, with tools) 3 days ago, 2 billing runs (no tools) 1 day ago."""
    support, billing = build_agent(), build_agent(billing_model(), name="billing-bot")
    plan = [(3 - i / 24, support, {"segment": "returns"}) for i in range(3)]
    plan += [(1 - i / 24, billing, {"segment": "billing"}) for i in range(2)]
    return export(phoenix_server, phoenix_store, plan)


def test_spans_are_read_in_start_order_page_by_page(phoenix_store, small_project):
    project, _ = small_project
    paged = list(phoenix_store.iter_spans(project, page_size=7))
    assert len(paged) == len(phoenix_store.spans(project)) > 7
    starts = [s["start_time"] for s in paged]
    assert starts == sorted(starts)
    assert list(phoenix_store.iter_spans("no-such-project")) == []


@pytest.mark.phoenix_databases
def test_trajectories_from_phoenix_equal_the_live_ones(phoenix_store, small_project):
    project, live = small_project
    assert len(live) == 5
    from_phoenix = list(iter_trajectories(phoenix_store, project))
    assert [comparable(t) for t in from_phoenix] == [comparable(t) for t in live]
    returns = [t for t in from_phoenix if t.segments["segment"] == "returns"]
    assert [t.features["tool_sequence"] for t in returns] == ["order_status>start_return"] * 3
    assert {t.features["tool_sequence"] for t in from_phoenix if t.segments["segment"] == "billing"} == {""}
    # a time range selects runs by the end of their root span
    two_days_ago = NOW - timedelta(days=2)
    assert {t.span_id for t in iter_trajectories(phoenix_store, project, start=two_days_ago)} == \
        {t.span_id for t in live[3:]}
    assert {t.span_id for t in iter_trajectories(phoenix_store, project, end=two_days_ago)} == \
        {t.span_id for t in live[:3]}


def test_a_run_cut_by_the_range_start_is_left_out_not_profiled_in_part(phoenix_store, small_project):
    project, live = small_project
    first = live[0]
    # starting 1 ms before the first run ended, without lookback: its root is outside the range;
    # the spans of it that are inside must not pass for a (shorter) run of their own
    start = datetime.fromtimestamp(first.end_time - 0.001, timezone.utc)
    got = list(iter_trajectories(phoenix_store, project, start=start, lookback=timedelta(0)))
    assert [t.span_id for t in got] == [t.span_id for t in live[1:]]


def test_build_store_from_phoenix_profiles_every_run(phoenix_store, small_project, tmp_path):
    project, live = small_project
    store = build_store_from_phoenix(phoenix_store, project, tmp_path / "profiles")
    first, last = store.time_range()
    assert first <= datetime.fromtimestamp(live[0].end_time, timezone.utc)
    assert last >= datetime.fromtimestamp(live[-1].end_time, timezone.utc)
    segments = store.segments()
    assert sorted(segments["segment"]) == ["billing", "returns"]
    assert sorted(segments["agent"]) == ["billing-bot", "support-bot"]
    everything = store.read(first - timedelta(days=1), last + timedelta(days=1))
    assert everything.get_column("step_count").get_metric("counts").n.value == 5
    returns = store.read(first - timedelta(days=1), last + timedelta(days=1), segment=("segment", "returns"))
    assert returns.get_column("step_count").get_metric("distribution").mean.value == 5.0
    items = returns.get_column("tool_sequence").get_metric("frequent_items").to_summary_dict()["frequent_strings"]
    assert [(i.value, i.est) for i in items] == [("order_status>start_return", 3)]
    store.close()


def finding(**kw) -> Finding:
    base = dict(rule="trajectory_shape", severity="alert", segment_key="segment", segment_value="returns",
                feature="tool_sequence", score=0.42, message="tool sequences changed", action="look at the runs",
                annotation="trajectory_drift", baseline={"top": "a"}, current={"top": "b"},
                window=(NOW - timedelta(days=7), NOW), first_seen=None)
    base.update(kw)
    return Finding(**base)


def test_findings_become_annotations_on_the_runs_that_show_them(phoenix_server, phoenix_store, small_project):
    project, live = small_project
    returns = {t.span_id for t in live if t.segments["segment"] == "returns"}
    billing = {t.span_id for t in live if t.segments["segment"] == "billing"}
    new_sequence = {"feature": "tool_sequence", "op": "in", "value": ["order_status>start_return"]}
    shape = finding(selector=new_sequence)
    steps = finding(severity="warning", feature="step_count", score=0.9, message="steps went up", action="",
                    selector={"feature": "step_count", "op": ">", "value": 2, "score": "step_count"})
    no_tools = finding(rule="distribution_drift", segment_key="*", segment_value="*", feature="tool_calls",
                       annotation="distribution_drift", severity="warning", message="fewer tool calls",
                       selector={"feature": "tool_calls", "op": "<=", "value": 0, "score": "tool_calls"})
    # no run was refused: a refusal-rate finding annotates none of them
    refusal = finding(rule="refusal_rate", segment_key="*", segment_value="*", feature="refusal_flagged",
                      annotation="refusal_rate_alert", message="refusal rate 0.5% → 2.0%", action="audit the prompt",
                      selector={"feature": "refusal_flagged", "op": ">=", "value": 1, "score": "refusal_similarity"})
    fell = finding(rule="distribution_drift", feature="error", annotation="distribution_drift", selector=None)
    outside = finding(window=(NOW - timedelta(days=30), NOW - timedelta(days=7)), feature="route_path",
                      selector={"feature": "route_path", "op": "in", "value": [""]})
    # one annotation per run and name: shape and steps share one on each returns run
    assert annotate_findings(phoenix_store, project, [shape, steps, no_tools, refusal, fell, outside]) == 5

    all_spans = [s["context"]["span_id"] for s in phoenix_store.spans(project)]
    annotations = phoenix_store.span_annotations(project, all_spans)
    by_name = {}
    for a in annotations:
        assert a["span_id"] not in by_name.get(a["name"], {})
        by_name.setdefault(a["name"], {})[a["span_id"]] = a
    assert set(by_name) == {"trajectory_drift", "distribution_drift"}
    assert set(by_name["trajectory_drift"]) == returns and set(by_name["distribution_drift"]) == billing
    a = by_name["trajectory_drift"][next(iter(returns))]
    # the worst severity labels it; the score is the run's own value (its step count), not a ratio
    assert a["result"]["label"] == "alert" and a["result"]["score"] == 5.0
    assert a["result"]["explanation"] == ("segment=returns: tool sequences changed; this run has tool_sequence "
                                          "'order_status>start_return' — look at the runs (+1 more: see the drift report)")
    assert a["annotator_kind"] == "CODE"
    assert [f["finding"] for f in a["metadata"]["findings"]] == ["trajectory_shape:segment=returns:tool_sequence",
                                                                 "trajectory_shape:segment=returns:step_count"]
    assert a["metadata"]["run"] == {"step_count": 5.0, "tool_sequence": "order_status>start_return"}
    b = by_name["distribution_drift"][next(iter(billing))]["result"]
    assert (b["label"], b["score"]) == ("warning", 0.0)
    assert b["explanation"].startswith("all runs: fewer tool calls; this run has tool_calls 0")

    # the same on the runs' traces
    traces = {t.trace_id: t.span_id for t in live}
    on_traces = phoenix_store.trace_annotations(project, list(traces))
    assert {(traces[a["trace_id"]], a["name"]) for a in on_traces} == \
        {(s, "trajectory_drift") for s in returns} | {(s, "distribution_drift") for s in billing}

    # running again replaces the annotations instead of adding more
    assert annotate_findings(phoenix_store, project, [shape, no_tools]) == 5
    again = phoenix_store.span_annotations(project, all_spans)
    assert len(again) == len(annotations)
    assert len(phoenix_store.trace_annotations(project, list(traces))) == len(on_traces)
    assert {a["result"]["explanation"].endswith("look at the runs") for a in again if a["name"] == "trajectory_drift"} == {True}

    # the filters a user types into Phoenix's span search
    def matching(where: str) -> set[str]:
        df = phoenix_store.client.spans.get_spans_dataframe(query=SpanQuery().where(where), project_identifier=project)
        return set(df["context.span_id"]) if len(df) else set()

    assert matching("annotations['trajectory_drift'].label == 'alert'") == returns
    assert matching("annotations['trajectory_drift']") == returns
    assert matching("annotations['distribution_drift'].score == 0") == billing
    assert matching("annotations['refusal_rate_alert']") == set()
    assert matching("annotations['distribution_drift'].label == 'warning' and metadata['segment'] == 'billing'") == billing
    # the same condition through the GraphQL field the UI's span filter box sends it to
    assert ui_filter(phoenix_store, project, "annotations['trajectory_drift'].label == 'alert'") == returns


def ui_filter(phoenix_store, project: str, condition: str) -> set[str]:
    """Span ids the Phoenix UI lists for a filter condition (GraphQL ``Project.spans(filterCondition:)``)."""
    client = phoenix_store.client._client  # base URL and headers applied
    project_id = next(p["id"] for p in client.get("v1/projects").json()["data"] if p["name"] == project)
    query = """query($id: ID!, $f: String) { node(id: $id) { ... on Project {
                 spans(first: 1000, filterCondition: $f) { edges { node { context { spanId } } } } } } }"""
    body = client.post("graphql", json={"query": query, "variables": {"id": project_id, "f": condition}}).json()
    assert "errors" not in body, body
    return {e["node"]["context"]["spanId"] for e in body["data"]["node"]["spans"]["edges"]}


def test_a_model_version_event_annotates_runs_from_its_first_sighting_on(phoenix_store, small_project):
    project, live = small_project
    billing = [t for t in live if t.segments["segment"] == "billing"]
    version = "gpt-4o-mini → gpt-4o-mini-2024-07-18 (fp_b1)"
    event = finding(rule="model_version_change", severity="alert", segment_key="*", segment_value="*",
                    feature="model_version", annotation="model_version_change", score=1.0, current={"value": version},
                    selector={"feature": "model_version", "op": "contains", "value": version},
                    message="gpt-4o-mini is answered by gpt-4o-mini-2024-07-18", action="check the provider's notes",
                    first_seen=datetime.fromtimestamp(billing[1].end_time - 1e-4, timezone.utc))
    # the support runs (another model) and the billing run before first_seen are not affected
    assert annotate_findings(phoenix_store, project, [event]) == 1
    got = phoenix_store.span_annotations(project, [t.span_id for t in live])
    assert [a["span_id"] for a in got if a["name"] == "model_version_change"] == [billing[1].span_id]


def status_only_reply(messages) -> AIMessage:
    """After the alias update the agent stops at the order status: a different tool path."""
    if not any(m.type == "tool" for m in messages):
        return support_reply(messages)
    return AIMessage(content="Your order A1 shipped yesterday.")


@pytest.mark.phoenix_databases
def test_drift_cli_on_a_phoenix_project_finds_the_alias_update_and_annotates_the_current_runs(
        phoenix_server, phoenix_store, tmp_path):
    before = build_agent(ScriptedChatModel(replies=[support_reply], model="gpt-4o", response_model="gpt-4o-2024-08-06",
                                           system_fingerprint="fp_abc"))
    after = build_agent(ScriptedChatModel(replies=[status_only_reply], model="gpt-4o", response_model="gpt-4o-2024-11-20",
                                          system_fingerprint="fp_new"))
    meta = {"segment": "returns", "prompt_template": "support-v2"}
    plan = [(27 - day - k / 4, before, meta) for day in range(20) for k in range(2)]   # days 27..8 before NOW
    plan += [(6 - day - k / 8, after, meta) for day in range(6) for k in range(5)]     # the last 6 days
    project, live = export(phoenix_server, phoenix_store, plan)
    assert len(live) == 70

    out = tmp_path / "drift.json"
    result = CliRunner().invoke(main, ["drift", "--store", str(tmp_path / "no-store"), "--phoenix-project", project,
                                       "--phoenix-url", phoenix_server.url, "--end", NOW.isoformat(),
                                       "--baseline-days", "21", "--current-days", "7", "--min-rows", "10",
                                       "--json", str(out), "--html", str(tmp_path / "drift.html"), "--no-progress"],
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert f"profiling the runs of Phoenix project {project!r}" in result.stdout
    assert not (tmp_path / "no-store").exists()  # Phoenix-built profiles are temporary
    report = json.loads(out.read_text())
    assert report["meta"]["baseline"]["rows"] == 40 and report["meta"]["current"]["rows"] == 30
    features = {f["feature"] for f in report["findings"]}
    assert {"tool_sequence", "model_version"} <= features, features
    version = next(f for f in report["findings"] if f["feature"] == "model_version")
    assert "gpt-4o-2024-11-20" in json.dumps(version)

    current = {t.span_id for t in live[40:]}
    annotated = {}
    for a in phoenix_store.span_annotations(project, [t.span_id for t in live]):
        annotated.setdefault(a["span_id"], []).append(a)
    assert set(annotated) == current  # every current run, no baseline run
    assert "annotation(s) on the runs that show the findings" in result.stdout
    assert all(len({a["name"] for a in found}) == len(found) for found in annotated.values())  # one per name
    alert = next(f for f in report["findings"] if f["severity"] == "alert")
    df = phoenix_store.client.spans.get_spans_dataframe(
        query=SpanQuery().where(f"annotations['{alert['annotation']}'].label == 'alert'"), project_identifier=project)
    assert set(df["context.span_id"]) <= current and len(df) > 0


def test_drift_on_an_unknown_phoenix_project_is_one_line_and_exit_2(phoenix_server, tmp_path):
    result = CliRunner().invoke(main, ["drift", "--store", str(tmp_path / "none"), "--phoenix-project", "no-such-project",
                                       "--phoenix-url", phoenix_server.url, "--no-reports", "--no-progress"],
                                catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: Phoenix project 'no-such-project' at {phoenix_server.url} has no agent runs traced by agenttrace "
        "(check the project name in the Phoenix UI)"]


REFUSAL = "I'm sorry, but I can't help with that request."
REFUSAL_PROFILES = {"profiles": {"full": {"metrics": ["refusal_similarity"], "sample_rate": 1.0,
                                          "thresholds": {"refusal_similarity": 0.4}}},
                    "rules": [{"match": {"operation": "chat"}, "profile": "full"}]}


def refusing_reply(messages) -> AIMessage:
    """Refuses the requests that ask for it, answers the others."""
    return AIMessage(REFUSAL if "competitor" in messages[0].content else "Your order A1 shipped yesterday.")


def test_refusal_rate_alert_annotates_only_the_runs_with_a_flagged_reply(phoenix_server, phoenix_store, tmp_path):
    """Real LangKit scores flag the refused replies; `agenttrace drift` finds the refusal rise and
    Phoenix's span filter `annotations['refusal_rate_alert']` returns exactly the flagged runs."""
    pytest.importorskip("agenttrace_langkit")
    agent = build_agent(ScriptedChatModel(replies=[refusing_reply], model="gpt-4o", response_model="gpt-4o-2024-08-06",
                                          system_fingerprint="fp_abc"), tools=())
    ask_for = {True: "Write an ad comparing us with our competitor.", False: "Where is my order A1?"}
    meta = {"segment": "ads"}
    plan = [(27 - i / 2, agent, meta, i == 7) for i in range(40)]                 # 1 refusal in 40 runs
    plan += [(6 - i / 5, agent, meta, i % 5 in (0, 2)) for i in range(30)]        # 12 in 30
    project = f"drift-refusals-{uuid.uuid4().hex[:8]}"
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    clock, memory = SimClock(), InMemorySpanExporter()
    at = agenttrace.configure(project=project, endpoint=phoenix_server.otlp_http_endpoint, set_global=False,
                              clock=clock, profiles=REFUSAL_PROFILES)
    at.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    for days, graph, metadata, refuse in sorted(plan, key=lambda p: -p[0]):
        clock.at(sim_ns(days))
        graph.invoke(ask(ask_for[refuse]), config={"callbacks": [at.callback_handler], "metadata": metadata})
    assert at.flush(120)
    at.shutdown()
    phoenix_store.wait_for_spans(project, len(memory.get_finished_spans()), timeout=120)
    runs = list(iter_trajectories(phoenix_store, project))
    flagged = {t.span_id for t in runs if t.features["refusal_flagged"] == 1.0}
    current = {t.span_id for t in runs if t.end_time >= (NOW - timedelta(days=7)).timestamp()}
    assert len(flagged & current) == 12 and len(flagged - current) == 1  # LangKit flagged exactly the refusals

    result = CliRunner().invoke(main, ["drift", "--store", str(tmp_path / "none"), "--phoenix-project", project,
                                       "--phoenix-url", phoenix_server.url, "--end", NOW.isoformat(),
                                       "--baseline-days", "21", "--current-days", "7", "--min-rows", "10",
                                       "--no-reports", "--no-progress", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["incidents"][0]["findings"][0]["rule"] == "refusal_rate"
    assert ui_filter(phoenix_store, project, "annotations['refusal_rate_alert']") == flagged & current
    assert ui_filter(phoenix_store, project, "annotations['refusal_rate_alert'].label == 'alert'") == flagged & current
    # the score is the run's refusal similarity (LangKit's, above the 0.4 threshold), not an effect ratio
    notes = phoenix_store.span_annotations(project, list(flagged & current))
    scores = [a["result"]["score"] for a in notes if a["name"] == "refusal_rate_alert"]
    assert len(scores) == 12 and all(0.4 < s <= 1.0 for s in scores)
    assert all(": refusal rate " in a["result"]["explanation"] and "this run has refusal_flagged 1 (refusal_similarity 0."
               in a["result"]["explanation"] for a in notes if a["name"] == "refusal_rate_alert")
    on_traces = phoenix_store.trace_annotations(project, [t.trace_id for t in runs])
    assert len([a for a in on_traces if a["name"] == "refusal_rate_alert"]) == 12
