"""From drift to the golden suite: a model version change's action names the `agenttrace golden run
... && agenttrace golden compare ...` commands, with the suites of `[golden.suites.*]` in
agenttrace.toml or with placeholders; `--run-golden` without a matching suite says so.

The store is ``drift_traffic.alias_update`` (gpt-4o moves from gpt-4o-2024-08-06 to
gpt-4o-2024-11-20 in the current week, on every agent). `--run-golden` against a real Phoenix is in
tests/test_golden_demo.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agenttrace.cli import main
from drift_traffic import alias_update

OLD, NEW = "gpt-4o-2024-08-06", "gpt-4o-2024-11-20"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("alias-golden") / "profiles"
    alias_update(root)
    return root


def drift(store: Path, *args: str, env: dict | None = None):
    return CliRunner().invoke(main, ["drift", "--no-progress", "--store", str(store), "--no-reports", "--fail-on",
                                     "never", *args], env={"COLUMNS": "120", "AGENTTRACE_CONFIG": "", **(env or {})},
                              catch_exceptions=False)


def cause(result) -> dict:
    report = json.loads(result.stdout)
    (change,) = [f for f in report["findings"] if f["rule"] == "model_version_change" and f["severity"] == "alert"]
    (incident,) = [i for i in report["incidents"] if i["cause"]]
    assert incident["action"] == change["action"]
    return change


def test_without_a_suite_the_action_shows_the_commands_with_placeholders(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no agenttrace.toml here
    result = drift(store, "--format", "json")
    assert result.exit_code == 0, result.output
    action = cause(result)["action"]
    assert action.startswith(f"check the provider's model updates: pin gpt-4o to {OLD}, or run the golden suite")
    assert (f"agenttrace golden run <suite> --agent <module:factory> --repeat 3 --model-override gpt-4o={OLD} "
            f"--run-name {OLD} && agenttrace golden run <suite> --agent <module:factory> --repeat 3 "
            f"--model-override gpt-4o={NEW} --run-name {NEW} && agenttrace golden compare {OLD} {NEW} --suite <suite>"
            ) in action
    assert "[golden.suites.<suite>] in agenttrace.toml" in action
    table = drift(store)
    assert f"golden suite for gpt-4o: {OLD} → {NEW}\n  agenttrace golden run <suite>" in table.stdout
    assert table.stdout.rstrip().endswith(f"agenttrace golden compare {OLD} {NEW} --suite <suite>")


def test_a_configured_suite_that_matches_fills_in_the_commands(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "agenttrace.toml").write_text(
        '[golden.suites.billing-suite]\nagent = "billing_app.golden:agent"\nmatch = { agent = "billing" }\n'
        'repeat = 5\ngates = ["trajectory_match>=0.9", "refusal_rate<=0.01"]\nmax_score_shift = 0.15\n\n'
        '[golden.suites.nobody]\nagent = "other.mod:factory"\nmatch = { agent = "no-such-agent" }\n')
    action = cause(drift(store, "--format", "json"))["action"]
    assert (f"agenttrace golden run billing-suite --agent billing_app.golden:agent --repeat 5 --model-override "
            f"gpt-4o={OLD} --run-name {OLD} && agenttrace golden run billing-suite --agent billing_app.golden:agent "
            f"--repeat 5 --model-override gpt-4o={NEW} --run-name {NEW} && agenttrace golden compare {OLD} {NEW} "
            "--suite billing-suite --gate 'trajectory_match>=0.9' --gate 'refusal_rate<=0.01' --max-score-shift 0.15"
            ) in action
    assert "<suite>" not in action and "nobody" not in action  # the suite whose match the change does not show in


def test_a_suite_matching_nothing_leaves_the_placeholders_and_run_golden_says_so(store, tmp_path):
    config = tmp_path / "golden.toml"
    config.write_text('[golden.suites.nobody]\nagent = "other.mod:factory"\nmatch = { agent = "no-such-agent" }\n')
    result = drift(store, "--config", str(config), "--run-golden")
    assert result.exit_code == 2
    assert "agenttrace golden run <suite>" in result.stdout
    assert "--run-golden: no golden suite matches the change of gpt-4o" in result.stderr


@pytest.mark.parametrize("text, message", [
    ("[golden.suites.s]\nmatch = { agent = \"a\" }\n", "[golden.suites.s] in {path} needs agent = \"module:factory\""),
    ("[golden.suites.s]\nagent = \"m:f\"\nrepeats = 3\n", "unknown key 'repeats' in [golden.suites.s]"),
    ("[golden.suites.s]\nagent = \"m:f\"\nrepeat = 0\n", "repeat in [golden.suites.s] in {path} must be a positive"),
    ("[golden\n", "is not valid TOML"),
])
def test_a_bad_golden_table_is_one_error_line(store, tmp_path, text, message):
    config = tmp_path / "agenttrace.toml"
    config.write_text(text)
    result = drift(store, "--config", str(config))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --config: ") and message.format(path=config) in lines[0]
