"""Golden-suite pieces that need no Phoenix: the example file schema, the run results file, and
the evaluators alone (trajectory match against agentevals' documented semantics, route
consistency and pass^k, format checks)."""

from __future__ import annotations

import json

import pytest

from agenttrace_phoenix.golden.evaluators.consistency import pass_k, route_consistency
from agenttrace_phoenix.golden.evaluators.formatting import format_check
from agenttrace_phoenix.golden.evaluators.trajectory import TrajectoryMatch, to_messages
from agenttrace_phoenix.golden.examples import ExampleError, load_file
from agenttrace_phoenix.golden.results import (EvaluatorInfo, ExampleResult, RepeatResult, ResultsError, RunResult,
                                               load_run, save_run)

WEATHER = {"name": "get_weather", "args": {"city": "San Francisco"}}
FUN = {"name": "get_fun_activities", "args": {"city": "San Francisco"}}


def match(mode, args, output, reference):
    return TrajectoryMatch(mode, args)(output, reference).score


# agentevals' README examples: the reference calls get_weather (strict / unordered) or
# get_weather + get_fun_activities (subset / superset) for San Francisco.
@pytest.mark.parametrize("mode, output, reference, expected", [
    ("strict", [WEATHER], [WEATHER], 1.0),
    ("strict", [WEATHER, FUN], [FUN, WEATHER], 0.0),            # order matters
    ("strict", [WEATHER, WEATHER], [WEATHER], 0.0),             # an extra call fails
    ("unordered", [WEATHER, FUN], [FUN, WEATHER], 1.0),         # any order
    ("unordered", [WEATHER], [FUN, WEATHER], 0.0),              # but all of them
    ("subset", [WEATHER], [WEATHER, FUN], 1.0),                 # fewer calls than the reference
    ("subset", [WEATHER, FUN, {"name": "book", "args": {}}], [WEATHER, FUN], 0.0),  # an extra call
    ("superset", [WEATHER, FUN, {"name": "book", "args": {}}], [WEATHER, FUN], 1.0),  # extra calls allowed
    ("superset", [WEATHER], [WEATHER, FUN], 0.0),               # a reference call missing
    ("strict", [], [], 1.0),
])
def test_trajectory_modes_follow_agentevals(mode, output, reference, expected):
    assert match(mode, "exact", output, reference) == expected


@pytest.mark.parametrize("args_mode, output_args, expected", [
    ("exact", {"city": "San Francisco"}, 1.0),
    ("exact", {"city": "SF"}, 0.0),
    ("ignore", {"city": "SF"}, 1.0),                                        # names only
    ("subset", {}, 1.0),                                                    # output args ⊆ reference args
    ("subset", {"city": "San Francisco", "units": "C"}, 0.0),
    ("superset", {"city": "San Francisco", "units": "C"}, 1.0),             # output args ⊇ reference args
    ("superset", {}, 0.0),
])
def test_tool_argument_modes_follow_agentevals(args_mode, output_args, expected):
    assert match("strict", args_mode, [{"name": "get_weather", "args": output_args}], [WEATHER]) == expected


def test_tool_calls_become_openai_messages():
    assert to_messages([WEATHER]) == [{"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "get_weather", "arguments": '{"city": "San Francisco"}'}}]}]


def test_bad_trajectory_modes_are_refused():
    with pytest.raises(ValueError, match="trajectory mode"):
        TrajectoryMatch("fuzzy")
    with pytest.raises(ValueError, match="tool-args"):
        TrajectoryMatch("strict", "loose")


def test_route_consistency_and_pass_k():
    assert route_consistency([["tools", "__end__"]] * 3).score == 1.0
    varied = route_consistency([["tools", "__end__"], ["__end__"], ["tools", "__end__"]])
    assert varied.score == 0.0 and "2 distinct" in varied.explanation
    assert route_consistency([]) is None
    assert pass_k([{"a": 1.0, "s": 0.1}, {"a": 1.0}], ["a"]) is True
    assert pass_k([{"a": 1.0}, {"a": 0.0}], ["a"]) is False
    assert pass_k([{"s": 0.3}], ["a"]) is None


def test_format_checks():
    meta = {"max_length": 40, "required_phrases": ["tonight"], "cta_required": True}
    assert format_check("Sale ends tonight: shop now!", meta).score == 1.0
    failed = format_check("A lovely sale is on for a while, have a look around.", meta)
    assert failed.score == 0.0
    assert "max_length" in failed.explanation and "'tonight'" in failed.explanation and "call to action" in failed.explanation
    assert format_check("anything", {}) is None
    assert format_check("Write back!", {"cta_required": True, "cta_pattern": r"write back"}).score == 1.0


def test_example_file_jsonl_and_yaml(tmp_path):
    row = {"id": "e1", "input": "Where is A1?", "reference_output": "Shipped.",
           "reference_trajectory": {"tool_calls": [{"name": "order_status", "args": {"order_id": "A1"}}],
                                    "route_path": ["tools", "__end__"]},
           "metadata": {"agent": "support-bot", "required_phrases": ["A1"], "max_length": 200}}
    jsonl = tmp_path / "suite.jsonl"
    jsonl.write_text(json.dumps(row) + "\n\n" + json.dumps({**row, "id": "e2"}) + "\n")
    examples = load_file(jsonl)
    assert [e.id for e in examples] == ["e1", "e2"]
    assert examples[0].tool_calls == [{"name": "order_status", "args": {"order_id": "A1"}}]
    inputs, outputs, metadata = examples[0].dataset_row()
    assert inputs == {"input": "Where is A1?"} and outputs["reference_trajectory"]["route_path"] == ["tools", "__end__"]
    assert metadata["id"] == "e1" and metadata["agent"] == "support-bot"
    yaml_file = tmp_path / "suite.yaml"
    yaml_file.write_text("- id: y1\n  input: {messages: [{role: user, content: hi}]}\n  reference_output: hello\n")
    assert load_file(yaml_file)[0].input == {"messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("content, message", [
    ('{"id": "a", "input": "x"}\n{"id": "b", "input": ', "suite.jsonl:2: not valid JSON"),
    ('{"id": "a"}\n', "suite.jsonl:1: missing input"),
    ('{"id": "a", "input": "x", "expected": 1}\n', "suite.jsonl:1: unknown key(s) expected"),
    ('{"id": "a", "input": "x", "reference_trajectory": {"tool_calls": [{"args": {}}]}}\n', "suite.jsonl:1: reference_trajectory.tool_calls"),
    ('{"id": "a", "input": "x", "metadata": {"max_length": -3}}\n', "suite.jsonl:1: metadata.max_length"),
    ('{"id": "a", "input": "x"}\n{"id": "a", "input": "y"}\n', "duplicate example id 'a'"),
    ("", "no examples"),
])
def test_bad_example_files_name_the_line(tmp_path, content, message):
    path = tmp_path / "suite.jsonl"
    path.write_text(content)
    with pytest.raises(ExampleError) as err:
        load_file(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_yaml_names_the_line(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text("- id: a\n  input: [unclosed\n")
    with pytest.raises(ExampleError, match=r"suite.yaml:\d+: not valid YAML"):
        load_file(path)


def test_run_results_round_trip(tmp_path):
    result = RunResult(suite="email", run="base:2026-11-30T20:00", created="2026-11-30T20:00:00+00:00", repeats=2,
                       agent="m:f", model_overrides={"gpt-4o-mini": "gpt-4o-mini-2024-07-18"},
                       evaluators={"trajectory_match": EvaluatorInfo("pass"), "relevance": EvaluatorInfo("score", "maximize")},
                       examples=[ExampleResult("e1", {"agent": "a"}, [RepeatResult(output="o", scores={"trajectory_match": 1.0}),
                                                                      RepeatResult(output="p", scores={"trajectory_match": 0.0})])])
    path = save_run(result, tmp_path)
    assert path == tmp_path / "email" / "base-2026-11-30T20-00.json"
    doc = json.loads(path.read_text())
    assert doc["schema"] == "agenttrace.golden.run/1" and doc["evaluators"]["relevance"] == {"kind": "score", "direction": "maximize"}
    assert load_run(path) == result == load_run("base:2026-11-30T20:00", suite="email", results_dir=tmp_path)
    assert result.examples[0].passes_all(result.evaluators) is False
    with pytest.raises(ResultsError, match="no run 'nope'"):
        load_run("nope", suite="email", results_dir=tmp_path)
    (tmp_path / "bad.json").write_text('{"schema": "other"}')
    with pytest.raises(ResultsError, match="not a agenttrace.golden.run/1"):
        load_run(tmp_path / "bad.json")


def test_pick_covers_every_route_then_fills_strata_preferring_good_runs():
    from agenttrace_phoenix.golden.select import Candidate, pick, rating
    from agenttrace_phoenix.golden.spans import RunFacts

    def run(i, agent, segment, route, rated=0):
        facts = RunFacts(trace_id=f"t{i}", span_id=f"s{i}", agent=agent, end_time=float(i), route_path=route,
                         tool_calls=[{"name": r, "args": {}} for r in route[:-1]], metadata={"segment": segment})
        return Candidate(facts, rated)

    common = [run(i, "email", "outdoor", ["tools", "__end__"]) for i in range(10)]
    rare = run(10, "email", "outdoor", ["tools", "tools", "__end__"])             # seen once
    other = [run(20 + i, "email", "garden", ["tools", "__end__"]) for i in range(3)]
    good = run(3, "email", "garden", ["tools", "__end__"], rated=1)               # older, but a person liked it
    support = [run(40 + i, "support", "-", ["__end__"]) for i in range(2)]
    chosen = pick(common + [rare] + other + [good] + support, size=4)
    ids = [c.facts.span_id for c in chosen]
    assert len(chosen) == 4
    assert "s10" in ids                                                           # the rare route is covered
    assert {c.stratum for c in chosen} == {("email", "-", "outdoor"), ("email", "-", "garden"), ("support", "-", "-")}
    assert "s3" in ids and not {"s20", "s21", "s22"} & set(ids)                   # the good run, not a newer one
    assert "s9" in ids                                                            # then the newest of the biggest stratum
    assert [c.facts.span_id for c in pick(common + [rare] + other + [good] + support, size=5)][-1] == "s22"
    assert len(pick(common, size=3)) == 3 and len(pick(common + [rare], size=1)) == 2   # coverage beats size
    assert rating([{"annotator_kind": "HUMAN", "result": {"label": "Good"}}]) == 1
    assert rating([{"annotator_kind": "HUMAN", "result": {"score": 0.2}}]) == -1
    assert rating([{"annotator_kind": "CODE", "result": {"label": "good"}}]) == 0
    assert rating([{"annotator_kind": "HUMAN", "result": {"label": "good"}},
                   {"annotator_kind": "HUMAN", "result": {"label": "bad"}}]) == -1
