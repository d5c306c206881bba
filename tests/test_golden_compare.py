"""``agenttrace golden compare``: noise between two runs of one model is not a regression, a real
change is; gates, exit codes, reports. Run results come from a real LangGraph agent
(tests/golden_compare_runs.py)."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from agenttrace_phoenix.golden.compare import REGRESSED, UNCHANGED, compare
from agenttrace_phoenix.golden.compare_cli import compare as compare_command
from agenttrace_phoenix.golden.compare_gates import GateError, parse_gate
from agenttrace_phoenix.golden.report import phoenix_compare_url
from agenttrace_phoenix.golden.results import PhoenixInfo, save_run

from golden_compare_runs import golden_run

SEEDS = range(5)


def cli(*args: str):
    return CliRunner().invoke(compare_command, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def changed(tmp_path_factory):
    """A baseline and a candidate that hedges more and softens urgency (as files)."""
    d = tmp_path_factory.mktemp("golden")
    base, cand = golden_run("baseline", seed=11), golden_run("candidate", seed=12, shift=0.5)
    return save_run(base, d), save_run(cand, d), d


@pytest.mark.parametrize("seed", SEEDS)
def test_two_runs_of_the_same_model_give_no_regression(seed, tmp_path):
    base, cand = golden_run("baseline", seed=seed), golden_run("candidate", seed=1000 + seed)
    result = compare(base, cand)
    assert result.regressions == 0, [(e.name, e.shift_sd, e.q_value) for e in result.regressed_evaluators]
    assert result.regressed_examples == []
    # the same through the command, with the gates: exit 0
    save_run(base, tmp_path), save_run(cand, tmp_path)
    run = cli("baseline", "candidate", "--suite", "email", "--results-dir", str(tmp_path),
              "--gate", "trajectory_match>=0.9", "--gate", "refusal_rate<=0.01", "--gate", "regressions<=0",
              "--max-score-shift", "0.15")
    assert run.exit_code == 0, run.output
    assert "regressed examples: 0 (none)" in run.output


def test_noise_is_there_to_be_ignored():
    """The two runs do differ: the test above is not passing on identical data."""
    result = compare(golden_run("baseline", seed=0), golden_run("candidate", seed=1000))
    hedging = result.evaluator("judge.hedging")
    assert hedging.base_mean != hedging.candidate_mean
    assert hedging.verdict == UNCHANGED


def test_hedging_and_softened_urgency_are_regressions(changed):
    base_path, cand_path, _ = changed
    run = cli(str(base_path), str(cand_path), "--gate", "trajectory_match>=0.9", "--gate", "judge.hedging>=0.8",
              "--max-score-shift", "0.15")
    assert run.exit_code == 1, run.output
    lines = run.output.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)   # (a Phoenix URL may be longer)
    rows = {line.split()[0]: line for line in lines if line and not line.startswith(" ")}
    assert rows["judge.hedging"].endswith("REGRESSED") and rows["judge.urgency_kept"].endswith("REGRESSED")
    assert rows["trajectory_match"].endswith("·")
    assert re.search(r"email-\d{3}  judge\.hedging  1\.000→0\.\d+", run.output)
    assert "hedged" in run.output and "softened" in run.output      # the judge's labels as evidence
    assert "PASS  trajectory_match>=0.9" in run.output
    assert "FAIL  judge.hedging>=0.8" in run.output and "FAIL  max-score-shift 0.15 SD" in run.output


def test_a_regression_without_gates_exits_0_unless_fail_on_regression(changed):
    base_path, cand_path, _ = changed
    assert cli(str(base_path), str(cand_path)).exit_code == 0
    assert cli(str(base_path), str(cand_path), "--fail-on", "regression").exit_code == 1
    assert cli(str(base_path), str(cand_path), "--gate", "judge.hedging>=0.99", "--fail-on", "never").exit_code == 0


@pytest.mark.parametrize("gate", ["trajectory_match=>0.9", "trajectory_match>=", ">=0.9", "trajectory_match>=0.9x",
                                  "trajectory_match == 1"])
def test_a_gate_that_does_not_parse_is_a_one_line_error(gate, changed):
    with pytest.raises(GateError):
        parse_gate(gate)
    run = CliRunner().invoke(compare_command, [str(changed[0]), str(changed[1]), "--gate", gate])
    assert run.exit_code == 2
    assert run.stderr.count("\n") == 1 and "NAME OP NUMBER" in run.stderr


def test_a_gate_naming_an_unknown_evaluator_is_a_one_line_error(changed):
    run = CliRunner().invoke(compare_command, [str(changed[0]), str(changed[1]), "--gate", "judge.tone>=0.9"])
    assert run.exit_code == 2
    assert run.stderr.count("\n") == 1 and "unknown name 'judge.tone'" in run.stderr
    assert run.stdout == ""


def test_gate_grammar():
    assert (parse_gate("refusal_rate<=0.01").name, parse_gate("refusal_rate<=0.01").op) == ("refusal_rate", "<=")
    assert parse_gate(" judge.brand_voice > .5 ").threshold == 0.5
    assert parse_gate("latency_ms<1e3").threshold == 1000.0


def test_a_missing_run_is_a_one_line_error(tmp_path):
    run = CliRunner().invoke(compare_command, ["baseline", "nope", "--suite", "email", "--results-dir", str(tmp_path)])
    assert run.exit_code == 2 and run.stderr.count("\n") == 1


def test_reports_list_the_regressions_and_gates(changed, tmp_path):
    base_path, cand_path, _ = changed
    md, page, js = tmp_path / "r.md", tmp_path / "r.html", tmp_path / "r.json"
    run = cli(str(base_path), str(cand_path), "--gate", "judge.hedging>=0.8", "--markdown", str(md),
              "--html", str(page), "--json", str(js))
    assert run.exit_code == 1
    regressed = sorted({m for m in re.findall(r"email-\d{3}", run.output)})
    assert regressed
    text, doc, data = md.read_text(), page.read_text(), json.loads(js.read_text())
    for example in regressed:
        assert example in text and example in doc
    assert "| judge.hedging | score |" in text and "**regressed**" in text and "**FAIL**" in text
    assert doc.count('src="data:image/png;base64,') == 1
    assert not re.search(r"""(src|href)=["']?https?://""", doc)        # self-contained
    assert data["regressions"] >= 2 and data["passed"] is False
    assert {e["name"] for e in data["evaluators"] if e["verdict"] == REGRESSED} >= {"judge.hedging", "judge.urgency_kept"}


def test_phoenix_comparison_link():
    base, cand = golden_run("b", seed=1, examples=2), golden_run("c", seed=2, examples=2)
    assert phoenix_compare_url(compare(base, cand)) is None
    base.phoenix = PhoenixInfo(url="http://127.0.0.1:6006/", dataset_id="RGF0YXNldDox", experiment_id="RXhwZXJpbWVudDox")
    cand.phoenix = PhoenixInfo(url="http://127.0.0.1:6006", dataset_id="RGF0YXNldDox", experiment_id="RXhwZXJpbWVudDoy")
    assert phoenix_compare_url(compare(base, cand)) == ("http://127.0.0.1:6006/datasets/RGF0YXNldDox/compare?"
                                                         "experimentId=RXhwZXJpbWVudDox&experimentId=RXhwZXJpbWVudDoy")
    cand.phoenix.dataset_id = "RGF0YXNldDoy"
    assert phoenix_compare_url(compare(base, cand)) is None


def test_evaluators_and_examples_on_one_side_only_are_noted_not_compared():
    base, cand = golden_run("b", seed=1, examples=3), golden_run("c", seed=2, examples=4)
    del cand.evaluators["relevance"]
    result = compare(base, cand)
    assert result.evaluator("relevance") is None
    assert any("relevance ran only on the base" in n for n in result.notes)
    assert any("only in the candidate" in n and "email-003" in n for n in result.notes)


def _run(name: str, hedging: dict, k: int):
    """A results file's content with one score evaluator: example id -> its k hedging scores."""
    from agenttrace_phoenix.golden.results import EvaluatorInfo, ExampleResult, RepeatResult, RunResult

    return RunResult(suite="s", run=name, created="", repeats=k, agent="",
                     evaluators={"judge.hedging": EvaluatorInfo("score", "maximize")},
                     examples=[ExampleResult(id=i, repeats=[RepeatResult(scores={"judge.hedging": v}) for v in vals])
                               for i, vals in hedging.items()])


def test_with_more_repeats_one_example_regresses_on_its_own_test():
    """k=8: one example goes from never hedged to always hedged, the others keep their (varied)
    scores: the suite mean barely moves, the example's own test calls it."""
    others = {f"e{i}": [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0] for i in range(1, 6)}
    result = compare(_run("b", {"e0": [1.0] * 8, **others}, 8), _run("c", {"e0": [0.0] * 8, **others}, 8))
    assert result.evaluator("judge.hedging").verdict == UNCHANGED
    [found] = result.regressed_examples
    assert (found.example_id, found.basis) == ("e0", "example") and found.q_value < 0.05
    assert result.regressions == 1


def test_with_three_repeats_one_example_alone_is_not_enough():
    others = {f"e{i}": [1.0, 0.0, 1.0] for i in range(1, 6)}
    result = compare(_run("b", {"e0": [1.0] * 3, **others}, 3), _run("c", {"e0": [0.0] * 3, **others}, 3))
    assert result.regressions == 0 and result.regressed_examples == []


def test_a_better_candidate_is_improved_not_regressed(changed):
    base_path, cand_path, _ = changed
    run = cli(str(cand_path), str(base_path), "--gate", "regressions<=0", "--max-score-shift", "0.15")
    assert run.exit_code == 0, run.output
    assert "regressed examples: 0 (none)" in run.output
    assert re.search(r"improved: [1-9]\d* example\(s\), \d+ evaluator\(s\) \(judge\.hedging, ", run.output)


def test_max_score_shift_leaves_out_the_excluded_evaluators(changed):
    base_path, cand_path, _ = changed
    excluded = ["--shift-exclude", "judge.hedging", "--shift-exclude", "judge.urgency_kept", "--shift-exclude",
                "relevance", "--max-score-shift", "0.15"]
    run = cli(str(base_path), str(cand_path), *excluded)
    assert run.exit_code == 1 and "total_tokens +1.05 SD the bad way" in run.output      # still the tokens
    assert "judge.hedging +" not in run.output
    assert cli(str(base_path), str(cand_path), *excluded, "--shift-exclude", "total_tokens").exit_code == 0
    bad = CliRunner().invoke(compare_command, [str(base_path), str(cand_path), "--shift-exclude", "judge.tone"])
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1


def test_one_repeat_per_example_is_compared_at_suite_level_only():
    """k=1 (``golden run`` without --repeat): no example has a spread to test on its own, so only
    the suite's paired test decides; a big change is still a regression, no change is none."""
    same = {f"e{i}": [1.0 if i % 3 else 0.0] for i in range(12)}
    assert compare(_run("b", same, 1), _run("c", same, 1)).regressions == 0
    worse = {f"e{i}": [0.0] for i in range(12)}
    result = compare(_run("b", {f"e{i}": [1.0] for i in range(12)}, 1), _run("c", worse, 1))
    assert result.evaluator("judge.hedging").verdict == REGRESSED
    assert all(found.basis == "suite" for found in result.regressed_examples)


def test_long_run_names_and_model_overrides_still_fit_80_columns(tmp_path):
    """The demo's runs: suite email-suite-<time>, runs named after dated versions, with overrides."""
    base = _run("gpt-4o-mini-2024-07-18", {f"e{i}": [1.0, 1.0, 1.0] for i in range(8)}, 3)
    cand = _run("gpt-4o-mini-2026-11-05", {f"e{i}": [0.0, 0.0, 1.0] for i in range(8)}, 3)
    for run in (base, cand):
        run.suite, run.created = "email-suite-20261130T212542", "2026-11-30T21:25:54+00:00"
        run.model_overrides = {"gpt-4o-mini": run.run}
        save_run(run, tmp_path)
    out = cli(base.run, cand.run, "--suite", base.suite, "--results-dir", str(tmp_path)).output
    assert "gpt-4o-mini=gpt-4o-mini-2026-11-05" in out
    assert all(len(line) <= 80 for line in out.splitlines() if "http" not in line), max(out.splitlines(), key=len)
