"""Findings grouped into incidents, on real whylogs profile stores of generated traffic
(``drift_traffic.alias_update``: the gpt-4o alias moves to a new version whose replies are refused
far more often, longer and less relevant; independently, the billing agent's tool mix changes)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

pytest.importorskip("whylogs")

from agenttrace_whylogs import DriftConfig, detect  # noqa: E402
from agenttrace_whylogs.incidents import Incident, group  # noqa: E402
from agenttrace_whylogs.json_report import report_dict  # noqa: E402
from drift_traffic import NEW_MODEL, UPDATE, alias_update  # noqa: E402

CONFIG = DriftConfig(min_rows=30)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return detect(alias_update(tmp_path_factory.mktemp("alias") / "profiles"), config=CONFIG)


def test_the_alias_update_is_one_incident_ranked_first_with_the_findings_it_explains(result):
    first = result.incidents[0]
    assert isinstance(first, Incident) and first.severity == "alert"
    old, new = f"gpt-4o → {NEW_MODEL[1]}", NEW_MODEL[1]
    assert UPDATE <= first.first_seen < UPDATE + timedelta(hours=1)
    assert first.title.startswith(f"{old} from {first.first_seen:%m-%d %H:%M}: refusals "), first.title
    assert "replies " in first.title and " tokens" in first.title, first.title
    assert first.cause and new in first.cause and "gpt-4o-2024-08-06" in first.cause
    rules = [f.rule for f in first.findings]
    assert rules[0] == "model_version_change"  # the cause's own finding first
    assert "refusal_rate" in rules and any(f.feature == "output_tokens" for f in first.findings)
    # the refusal rise is one incident wherever it shows: overall and for the alias
    assert {("*", "*"), ("request_model", "gpt-4o")} <= set(first.segments)
    assert first.segments[0] == ("*", "*")
    refusal_elsewhere = [f for i in result.incidents[1:] for f in i.findings if f.rule == "refusal_rate"]
    assert refusal_elsewhere == []
    assert "model_version_change" in first.annotations and "refusal_rate_alert" in first.annotations
    assert "check the provider's model updates" in first.action and "gpt-4o-2024-08-06" in first.action


def test_an_unrelated_change_is_its_own_incident_without_a_cause(result):
    billing = [i for i in result.incidents if ("agent", "billing") in i.segments and i.cause is None]
    assert len(billing) == 1, [i.title for i in result.incidents]
    (incident,) = billing
    assert "trajectory_shape" in {f.rule for f in incident.findings} and ("prompt_template", "billing_v4") in incident.segments
    assert "tool" in incident.title and "agent=billing" in incident.title
    assert all(f.rule != "model_version_change" for f in incident.findings)
    # every finding is in exactly one incident
    listed = [id(f) for i in result.incidents for f in i.findings]
    assert sorted(listed) == sorted(id(f) for f in result.findings)


def test_incident_ids_are_stable_across_runs_and_data(result, tmp_path):
    again = detect(alias_update(tmp_path / "other", seed=10), config=CONFIG)
    ids = {i.title.split(":")[0]: i.id for i in result.incidents if i.cause}
    again_ids = {i.title.split(":")[0]: i.id for i in again.incidents if i.cause}
    assert ids == again_ids and len(ids) == 1
    assert len({i.id for i in result.incidents}) == len(result.incidents)
    assert group(result.findings, result.segment_rows, result.skipped) == result.incidents  # a function of the findings


def test_the_score_shift_action_follows_the_direction_of_the_shift(result):
    shifts = {f.feature: f for f in result.findings if f.rule == "score_shift" and f.segment_key == "*"}
    assert shifts["refusal_similarity"].current["mean"] > shifts["refusal_similarity"].baseline["mean"]
    assert "highest" in shifts["refusal_similarity"].action and "lowest" not in shifts["refusal_similarity"].action
    assert shifts["relevance"].current["mean"] < shifts["relevance"].baseline["mean"]
    assert "lowest" in shifts["relevance"].action


def test_messages_leave_test_counts_and_segment_names_to_the_json(result):
    for f in result.findings:
        assert " tests" not in f.message and "p=" not in f.message and "p<" not in f.message, f.message
        if f.segment_key != "*":
            assert f"{f.segment_key}={f.segment_value}" not in f.message, f.message
        assert f.stats.get("tests", 1) >= 1 or f.rule == "model_version_change"
    refusal = next(f for f in result.findings if f.rule == "refusal_rate" and f.segment_key == "*")
    assert refusal.message.startswith("refusal rate ") and "→" in refusal.message and refusal.stats["tests"] > 100


def test_findings_say_which_runs_show_them(result):
    by = {(f.rule, f.segment_key, f.feature): f for f in result.findings}
    assert by[("refusal_rate", "*", "refusal_flagged")].selector == {
        "feature": "refusal_flagged", "op": ">=", "value": 1, "score": "refusal_similarity"}
    version = by[("model_version_change", "*", "model_version")].selector
    assert version["op"] == "contains" and NEW_MODEL[1] in version["value"]
    tokens = by[("distribution_drift", "*", "output_tokens")].selector
    assert tokens["op"] == ">" and 180 < tokens["value"] < 300
    refusal_sim = by[("score_shift", "*", "refusal_similarity")].selector
    assert refusal_sim["op"] == ">" and 0.3 < refusal_sim["value"] < 0.7
    relevance = by[("score_shift", "*", "relevance")].selector
    assert relevance["op"] == "<=" and relevance["value"] < 0.62
    tools = by[("trajectory_shape", "agent", "tool_sequence")].selector
    assert tools["op"] == "in" and tools["value"][0] == "get_invoice>refund"


def test_incidents_lead_the_result_and_the_json_report(result):
    data = result.to_dict()
    assert list(data)[0] == "incidents"
    assert data["incidents"][0]["id"] == result.incidents[0].id
    assert data["incidents"][0]["segments"][0] == ["*", "*"]
    report = report_dict(result)
    assert list(report)[0] == "incidents"
    assert report["incidents"] == json.loads(json.dumps(data["incidents"]))
    assert report["incidents"][0]["findings"][0]["rule"] == "model_version_change"


def test_refusal_runs_are_scored_by_the_refusal_detector_and_hedging_is_named_in_the_incident(tmp_path):
    """Runs scored by agenttrace's detectors: a refusal-rate finding's runs carry their refusal_score
    (the score that flagged them), and the alias update's incident names the hedging it brought."""
    import numpy as np

    from agenttrace_whylogs import ProfileStore
    from drift_traffic import DAY, END, SEGMENT_KEYS, SPLIT, START, generate

    rng = np.random.default_rng(0)

    def with_detectors(runs, hedging):
        for t in runs:
            t.features["refusal_score"] = t.features.get("refusal_similarity")
            updated = t.features["response_model"] == NEW_MODEL[1]
            t.features["hedging_score"] = float(np.clip(rng.normal(hedging if updated else 0.06, 0.05), 0, 1))
        return runs

    store = ProfileStore(tmp_path / "profiles", window=DAY, segment_keys=SEGMENT_KEYS)
    with store:
        store.write(with_detectors(generate(600, START, SPLIT, seed=1, scored_fraction=1.0), 0.06))
        store.write(with_detectors(generate(230, SPLIT, UPDATE, seed=2, scored_fraction=1.0), 0.06))
        store.write(with_detectors(generate(330, UPDATE, END, seed=3, scored_fraction=1.0, new_model_at=UPDATE,
                                            where={"request_model": "gpt-4o"}, refusal_rate=0.3, output_scale=1.6), 0.4))
    found = detect(ProfileStore(tmp_path / "profiles"), config=CONFIG)
    refusal = next(f for f in found.findings if f.rule == "refusal_rate" and f.segment_key == "*")
    assert refusal.selector == {"feature": "refusal_flagged", "op": ">=", "value": 1, "score": "refusal_score"}
    first = found.incidents[0]
    assert NEW_MODEL[1] in first.title and "refusals " in first.title and "hedging score 0.0" in first.title, first.title
    assert any(f.rule == "score_shift" and f.feature == "hedging_score" for f in first.findings)
