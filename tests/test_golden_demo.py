"""The demo's golden suite against a real Phoenix: a reduced demo (the e-mail agent only: its 120 runs
over 37 simulated days, the alias update 5 days before the end, light metrics and the judges), a suite of its runs from before the update,
`golden compare` of the new version against the old flagging hedging and softened urgency (exit 1),
and `agenttrace drift --run-golden` running the suite's commands (k=2: golden compare needs two repeats per example). Also: the demo's judges
score about 15% of the e-mail replies."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agenttrace import semconv as sc
from agenttrace.cli import main

pytest.importorskip("agenttrace_whylogs", reason="whylogs integration not installed (tests/run.sh installs it)")

OLD, NEW = "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2026-11-05"
AGENT = "agenttrace_examples.marketing.golden:email_agent"


@pytest.fixture(scope="module")
def demo(phoenix_server, phoenix_store, tmp_path_factory):
    from agenttrace_examples.marketing import DEFAULT_PROFILES, run_demo

    project = f"golden-demo-{uuid.uuid4().hex[:8]}"
    store = tmp_path_factory.mktemp("golden-demo") / "profiles"
    until = (datetime.now(timezone.utc) - timedelta(days=5, minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    summary = run_demo(["email"], counts={"email": 120}, days=37, switch_at=32 / 37, project=project,
                       endpoint=phoenix_server.otlp_http_endpoint, protocol="http/protobuf", profile_store=store,
                       heavy_metrics=False, progress=False, profiles=DEFAULT_PROFILES)
    phoenix_store.wait_for_spans(project, summary.spans, timeout=120)
    suite = f"email-suite-{uuid.uuid4().hex[:8]}"
    result = golden("create", suite, "--from-phoenix", project, "--agent", "email-personalizer", "--size", "24",
                    "--until", until, "--phoenix-url", phoenix_server.url)
    assert result.exit_code == 0, result.output
    return {"project": project, "store": store, "suite": suite}


def golden(*args: str):
    return CliRunner().invoke(main, ["golden", *args], catch_exceptions=False)


def test_judges_score_about_15_percent_of_the_email_replies():
    from agenttrace_examples.marketing import run_demo

    exporter = InMemorySpanExporter()
    run_demo(["email"], counts={"email": 200}, span_exporter=exporter, heavy_metrics=False, progress=False)
    replies = [s for s in exporter.get_finished_spans() if s.attributes.get(sc.OPERATION) == "chat"]
    judged = [s for s in replies if "agenttrace.metric.judge.hedging" in s.attributes]
    assert len(replies) == 400
    assert 0.10 <= len(judged) / len(replies) <= 0.25, len(judged)
    assert all("agenttrace.metric.judge.urgency_kept" in s.attributes for s in judged)
    labels = {s.attributes["agenttrace.metric.judge.urgency_kept.label"] for s in judged}
    assert labels <= {"kept", "softened", "not_applicable"} and "kept" in labels


def test_golden_compare_flags_the_new_version_hedging_and_softening_urgency(demo, phoenix_server, tmp_path,
                                                                            monkeypatch):
    from agenttrace_examples.marketing import DEFAULT_PROFILES

    monkeypatch.chdir(tmp_path)
    for version in (OLD, NEW):
        result = golden("run", demo["suite"], "--agent", AGENT, "--repeat", "3", "--model-override",
                        f"gpt-4o-mini={version}", "--run-name", version, "--profiles", str(DEFAULT_PROFILES),
                        "--phoenix-url", phoenix_server.url)
        assert result.exit_code == 0, result.output
    result = golden("compare", OLD, NEW, "--suite", demo["suite"], "--gate", "judge.hedging>=0.7",
                    "--gate", "judge.urgency_kept>=0.9", "--max-score-shift", "0.15", "--shift-exclude", "latency_ms")
    assert result.exit_code == 1, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("judge.")}
    assert rows["judge.hedging"].endswith("REGRESSED") and rows["judge.urgency_kept"].endswith("REGRESSED")
    assert "FAIL  judge.hedging>=0.7" in result.output and "FAIL  judge.urgency_kept>=0.9" in result.output


def test_drift_run_golden_runs_the_suite_on_both_versions(demo, phoenix_server, tmp_path, monkeypatch):
    from agenttrace_examples.marketing import DEFAULT_PROFILES

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PHOENIX_COLLECTOR_ENDPOINT", phoenix_server.url)
    (tmp_path / "agenttrace.toml").write_text(
        f'[golden.suites.{demo["suite"]}]\nagent = "{AGENT}"\nmatch = {{ agent = "email-personalizer" }}\n'
        f'repeat = 2\nprofiles = "{DEFAULT_PROFILES}"\ngates = ["judge.urgency_kept>=0.9"]\n')
    result = CliRunner().invoke(main, ["drift", "--no-progress", "--store", str(demo["store"]), "--no-reports",
                                       "--fail-on", "never", "--run-golden"], catch_exceptions=False)
    out = result.output
    assert f"$ agenttrace golden run {demo['suite']} --agent {AGENT} --repeat 2 --model-override gpt-4o-mini={OLD}" in out
    assert f"$ agenttrace golden compare {OLD} {NEW} --suite {demo['suite']} --gate 'judge.urgency_kept>=0.9'" in out
    assert "FAIL  judge.urgency_kept>=0.9" in out  # compare's own output, passed through
    assert f"golden suite {demo['suite']} on gpt-4o-mini {OLD} → {NEW}: failed (exit status 1)" in out
    assert result.exit_code == 1
