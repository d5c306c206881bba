"""``agenttrace golden create`` and ``golden run`` against the session's real Phoenix, with real
LangGraph agents (tests/golden_agents.py) traced by agenttrace."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from click.testing import CliRunner
from phoenix.client import Client

import agenttrace
import agenttrace.testing
from agenttrace.cli import main
from agenttrace_phoenix.golden.results import load_run
from conftest import ask
import golden_agents

pytestmark = pytest.mark.phoenix


def export(phoenix_server, phoenix_store, plan, *, capture=True):
    """Run ``plan`` — (graph, metadata) items — traced into a fresh project; returns the project
    and the root span ids in run order, once Phoenix has stored every span."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    project = f"golden-src-{uuid.uuid4().hex[:8]}"
    memory = InMemorySpanExporter()
    at = agenttrace.configure(project=project, endpoint=phoenix_server.otlp_http_endpoint, set_global=False,
                              capture_content=capture)
    at.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    for graph, metadata in plan:
        graph.invoke(ask(), config={"callbacks": [at.callback_handler], "metadata": metadata})
    assert at.flush(60)
    at.shutdown()
    spans = memory.get_finished_spans()
    phoenix_store.wait_for_spans(project, len(spans), timeout=120)
    roots = [format(s.context.span_id, "016x") for s in sorted(spans, key=lambda s: s.start_time) if s.parent is None]
    return project, roots


def cli(*args):
    result = CliRunner().invoke(main, ["golden", *args], catch_exceptions=False)
    return result


def suite_file(tmp_path, rows):
    path = tmp_path / "suite.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


REFERENCE = {"tool_calls": [{"name": "order_status", "args": {"order_id": "A1"}},
                            {"name": "start_return", "args": {"order_id": "A1", "reason": "too small"}}],
             "route_path": ["tools", "tools", "__end__"]}


def test_create_from_phoenix_covers_every_route_and_prefers_runs_annotated_good(phoenix_server, phoenix_store, tmp_path):
    plan = [(golden_agents.support(), {"prompt_template": "returns-v1", "segment": "eu"}) for _ in range(5)]
    plan += [(golden_agents.status_only(), {"prompt_template": "status-v2", "segment": "us"}) for _ in range(4)]
    project, roots = export(phoenix_server, phoenix_store, plan)
    good = roots[1]  # an older support run a person marked good: picked before the newer ones
    phoenix_store.annotate_span(good, "quality", label="good", annotator_kind="HUMAN")
    phoenix_store.annotate_span(roots[0], "quality", label="bad", annotator_kind="HUMAN")
    name = f"suite-{uuid.uuid4().hex[:6]}"
    result = cli("create", name, "--from-phoenix", project, "--size", "3", "--phoenix-url", phoenix_server.url)
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    assert "3 examples, 2 strata, 2 route paths, 2 tool sequences" in result.output

    dataset = Client(base_url=phoenix_server.url).datasets.get_dataset(dataset=name)
    rows = list(dataset.examples)
    assert len(rows) == 3
    routes = {tuple(r["output"]["reference_trajectory"]["route_path"]) for r in rows}
    assert routes == {("tools", "tools", "__end__"), ("tools", "__end__")}
    sources = {r["metadata"]["source_span_id"] for r in rows}
    assert good in sources and roots[0] not in sources
    support_row = next(r for r in rows if r["metadata"]["source_span_id"] == good)
    assert support_row["input"] == {"input": "Where is my order A1? I want to return it."}
    assert support_row["output"]["reference_output"] == "Your order A1 shipped and a return is started."
    assert support_row["output"]["reference_trajectory"] == REFERENCE
    assert support_row["metadata"]["agent"] == "support-bot"
    assert support_row["metadata"]["prompt_template"] == "returns-v1" and support_row["metadata"]["segment"] == "eu"
    assert support_row["metadata"]["model"] == "gpt-4o" and support_row["metadata"]["id"] == "support-bot-001"

    only = cli("create", f"{name}-s", "--from-phoenix", project, "--agent", "status-bot", "--phoenix-url", phoenix_server.url)
    assert only.exit_code == 0, only.output
    assert "4 examples, 1 strata, 1 route paths, 1 tool sequences" in only.output


def test_create_without_content_capture_is_one_clear_error(phoenix_server, phoenix_store):
    project, _ = export(phoenix_server, phoenix_store, [(golden_agents.support(), {})], capture=False)
    result = CliRunner().invoke(main, ["golden", "create", "x", "--from-phoenix", project, "--phoenix-url", phoenix_server.url])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "content capture is off" in lines[0]


def test_create_from_file_and_run_three_times_as_an_experiment(phoenix_server, phoenix_store, tmp_path):
    name = f"support-{uuid.uuid4().hex[:6]}"
    rows = [{"id": f"ret-{i}", "input": "Where is my order A1? I want to return it.",
             "reference_output": "Your order A1 shipped and a return is started.", "reference_trajectory": REFERENCE,
             "metadata": {"agent": "support-bot", "required_phrases": ["A1"], "max_length": 120}} for i in range(2)]
    created = cli("create", name, "--from-file", str(suite_file(tmp_path, rows)), "--phoenix-url", phoenix_server.url)
    assert created.exit_code == 0, created.output
    client = Client(base_url=phoenix_server.url)
    dataset = client.datasets.get_dataset(dataset=name)
    assert sorted(e["metadata"]["id"] for e in dataset.examples) == ["ret-0", "ret-1"]

    result = cli("run", name, "--agent", "golden_agents:support", "--repeat", "3", "--run-name", "baseline",
                 "--model-override", "gpt-4o=gpt-4o-2024-08-06", "--results-dir", str(tmp_path / "results"),
                 "--phoenix-url", phoenix_server.url)
    assert result.exit_code == 0, result.output
    # stdout: one line per evaluator, pass^k, the results file and the experiment URL (progress is on stderr)
    summary = [line for line in result.stdout.splitlines() if not line.startswith(("results: ", "experiment: "))]
    assert len(summary) >= 9 and all(len(line) <= 80 for line in summary)
    run = load_run(tmp_path / "results" / name / "baseline.json")
    assert run.repeats == 3 and run.model_overrides == {"gpt-4o": "gpt-4o-2024-08-06"}
    assert run.phoenix.project == f"golden-{name}" and run.phoenix.experiment_id
    assert [len(e.repeats) for e in run.examples] == [3, 3]
    for example in run.examples:
        for rep in example.repeats:
            assert rep.error is None and rep.output == "Your order A1 shipped and a return is started."
            assert rep.tool_calls == REFERENCE["tool_calls"] and rep.route_path == REFERENCE["route_path"]
            assert rep.scores["trajectory_match"] == 1.0 and rep.scores["route_consistency"] == 1.0
            assert rep.scores["format"] == 1.0 and rep.total_tokens > 0 and rep.latency_ms > 0
        assert example.passes_all(run.evaluators) is not False
    assert run.evaluators["trajectory_match"].kind == "pass"
    assert f"pass^3" in result.output and "trajectory_match" in result.output
    assert f"experiment: {phoenix_server.url}/datasets/{run.phoenix.dataset_id}/compare?experimentId=" in result.output

    experiment = client.experiments.get_experiment(experiment_id=run.phoenix.experiment_id)
    assert len(experiment["task_runs"]) == 6
    names = {e.name for e in experiment["evaluation_runs"]}
    assert {"trajectory_match", "route_consistency", "format", "latency_ms", "total_tokens"} <= names
    traced = {r.trace_id for e in run.examples for r in e.repeats}
    assert len(traced) == 6
    deadline = time.monotonic() + 60  # Phoenix ingests asynchronously
    while not traced <= {s["context"]["trace_id"] for s in phoenix_store.spans(f"golden-{name}")}:
        assert time.monotonic() < deadline, "the golden runs' traces did not reach Phoenix"
        time.sleep(0.2)


def test_route_changes_between_repeats_fail_consistency_and_pass_k(phoenix_server, tmp_path):
    name = f"flaky-{uuid.uuid4().hex[:6]}"
    rows = [{"id": "st-1", "input": "Where is my order A1?", "reference_output": "Your order A1 shipped yesterday.",
             "reference_trajectory": {"tool_calls": [{"name": "order_status", "args": {"order_id": "A1"}}],
                                      "route_path": ["tools", "__end__"]}}]
    assert cli("create", name, "--from-file", str(suite_file(tmp_path, rows)), "--phoenix-url", phoenix_server.url).exit_code == 0
    result = cli("run", name, "--agent", "golden_agents:flaky", "--repeat", "2", "--trajectory-mode", "superset",
                 "--results-dir", str(tmp_path), "--phoenix-url", phoenix_server.url)
    assert result.exit_code == 0, result.output
    run = load_run(next((tmp_path / name).glob("*.json")))
    reps = run.examples[0].repeats
    assert sorted(r.scores["trajectory_match"] for r in reps) == [0.0, 1.0]
    assert [r.scores["route_consistency"] for r in reps] == [0.0, 0.0]
    assert run.examples[0].passes_all(run.evaluators) is False
    assert "0/1 examples pass every repeat" in result.output


@pytest.mark.parametrize("args, message", [
    (["run", "{suite}", "--agent", "no_such_module:factory"], "cannot import 'no_such_module'"),
    (["run", "{suite}", "--agent", "golden_agents"], "--agent must be module:factory"),
    (["run", "{suite}", "--agent", "golden_agents:not_a_runnable"], "is not callable"),
    (["run", "{suite}", "--agent", "golden_agents:status_only", "--model-override", "gpt-4o=x"], "must accept model_overrides"),
    (["run", "{suite}", "--agent", "golden_agents:support", "--model-override", "gpt-4o"], "alias=version"),
    (["run", "no-such-suite-xyz", "--agent", "golden_agents:support"], "no Phoenix dataset named 'no-such-suite-xyz'"),
    (["create", "{suite}", "--from-file", "{suite_file}"], "already exists"),
    (["create", "x"], "exactly one of --from-phoenix"),
    (["create", "x", "--from-phoenix", "p", "--since", "yesterday"], "--since: not an ISO date"),
    (["create", "x", "--from-phoenix", "no-such-project-xyz"], "no agent runs in Phoenix project"),
])
def test_bad_input_is_one_line_and_exit_2(phoenix_server, tmp_path, args, message):
    name = f"bad-{uuid.uuid4().hex[:6]}"
    path = suite_file(tmp_path, [{"id": "a", "input": "Where is my order A1?"}])
    if "{suite}" in args:
        assert cli("create", name, "--from-file", str(path), "--phoenix-url", phoenix_server.url).exit_code == 0
    args = [a.format(suite=name, suite_file=path) for a in args] + ["--phoenix-url", phoenix_server.url]
    result = CliRunner().invoke(main, ["golden", *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output


PROFILES = """
[judges.hedging]
builtin = "hedging"
model = "golden_agents:hedging_judge"

[profiles.replies]
metrics = ["judge:hedging"]

[[rules]]
match = { node = "agent" }
profile = "replies"
"""


@pytest.mark.skipif(not hasattr(agenttrace.testing, "RuleJudgeModel"), reason="needs the judges (agenttrace.metrics.judges)")
def test_profile_judges_score_every_reply(phoenix_server, tmp_path):
    name = f"judged-{uuid.uuid4().hex[:6]}"
    rows = [{"id": "ret-1", "input": "Where is my order A1? I want to return it.",
             "reference_output": "Your order A1 shipped and a return is started.", "reference_trajectory": REFERENCE}]
    assert cli("create", name, "--from-file", str(suite_file(tmp_path, rows)), "--phoenix-url", phoenix_server.url).exit_code == 0
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(PROFILES)
    scores = {}
    for agent in ("support", "hedging_support"):
        result = cli("run", name, "--agent", f"golden_agents:{agent}", "--repeat", "2", "--run-name", agent,
                     "--profiles", str(profiles), "--results-dir", str(tmp_path), "--phoenix-url", phoenix_server.url)
        assert result.exit_code == 0, result.output
        run = load_run(tmp_path / name / f"{agent}.json")
        assert run.evaluators["judge.hedging"].kind == "score"
        reps = run.examples[0].repeats
        scores[agent] = [(r.scores["judge.hedging"], r.labels["judge.hedging"]) for r in reps]
        assert all(r.explanations["judge.hedging"] for r in reps)
        experiment = Client(base_url=phoenix_server.url).experiments.get_experiment(experiment_id=run.phoenix.experiment_id)
        assert "judge.hedging" in {e.name for e in experiment["evaluation_runs"]}
    assert scores == {"support": [(1.0, "confident")] * 2, "hedging_support": [(0.0, "hedged")] * 2}


def test_a_failing_agent_is_a_failed_result_not_a_crash(phoenix_server, tmp_path):
    name = f"broken-{uuid.uuid4().hex[:6]}"
    rows = [{"id": "ret-1", "input": "Where is my order A1?", "reference_output": "Shipped.", "reference_trajectory": REFERENCE}]
    assert cli("create", name, "--from-file", str(suite_file(tmp_path, rows)), "--phoenix-url", phoenix_server.url).exit_code == 0
    result = cli("run", name, "--agent", "golden_agents:broken", "--repeat", "2", "--run-name", "r",
                 "--results-dir", str(tmp_path), "--phoenix-url", phoenix_server.url)
    assert result.exit_code == 0, result.output
    reps = load_run(tmp_path / name / "r.json").examples[0].repeats
    assert [r.error for r in reps] == ["RuntimeError: provider unavailable"] * 2
    assert [r.scores["trajectory_match"] for r in reps] == [0.0, 0.0]
    assert not {"relevance", "refusal", "semantic_similarity", "format"} & set(reps[0].scores)  # absent, not 0
    assert "trajectory_match         pass rate   0.0%  (0/2 runs)" in result.stdout
