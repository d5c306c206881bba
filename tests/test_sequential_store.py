"""The fast rules (agenttrace_whylogs.sequential) on real whylogs profile stores of generated
trajectories (``drift_traffic.generate``) at 1,000 runs an hour: stationary passes find nothing;
an alias update (gpt-4o, 30% of the runs, answered by a new version that refuses 8% of them: all
runs go from 0.5% to 3% refused) is
a model version change from the first window holding a run of the new version, and a refusal
CUSUM alarm at the close of the first whole window after it; the incident keeps its id from pass
to pass. The baseline is one day here (the default is 30) to keep the stores small."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

pytest.importorskip("whylogs")

from agenttrace_whylogs.sequential import SequentialConfig, fast_findings, fast_incidents, stream_tests  # noqa: E402
from agenttrace_whylogs.incidents import group  # noqa: E402
from agenttrace_whylogs.results import Finding  # noqa: E402
from agenttrace_whylogs.store import ProfileStore  # noqa: E402
from drift_traffic import NEW_MODEL, generate  # noqa: E402

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
BASE_END = START + timedelta(days=1)
CHANGE = BASE_END + timedelta(hours=4, minutes=40)   # inside the window [04:00, 05:00) after the baseline
KEYS = ("agent", "request_model")
ALIAS_REFUSALS = 0.08   # the new version's refusal rate; gpt-4o has 30% of the runs: 3% of all runs
CONFIG = SequentialConfig(baseline=timedelta(days=1), scan=timedelta(hours=2))


def _store(root, window: timedelta, change: datetime, end: datetime, seed: int) -> ProfileStore:
    with ProfileStore(root, window=window, segment_keys=KEYS, sync_interval=None) as store:
        store.write(generate(24_000, START, BASE_END, seed, refusal_rate=0.005))
        hours = (change - BASE_END).total_seconds() / 3600
        store.write(generate(int(1000 * hours), BASE_END, change, seed + 1, refusal_rate=0.005))
        hours = (end - change).total_seconds() / 3600
        store.write(generate(int(1000 * hours), change, end, seed + 2, refusal_rate=0.005, new_model_at=change,
                             changes=[({"request_model": "gpt-4o"}, {"refusal_rate": ALIAS_REFUSALS})]))
    return ProfileStore(root, sync_interval=None)


@pytest.fixture(scope="module")
def hourly(tmp_path_factory):
    return _store(tmp_path_factory.mktemp("hourly") / "profiles", timedelta(hours=1), CHANGE,
                  CHANGE + timedelta(hours=1, minutes=20), 11)


def test_stationary_passes_find_nothing(hourly):
    for hour in (2, 4):   # passes before the change
        now = BASE_END + timedelta(hours=hour)
        assert fast_findings(hourly, now, CONFIG) == []
        tested = stream_tests(hourly, now, CONFIG)
        streams = [seg for seg, _ in tested["refusal_flagged"]]
        assert streams == [("*", "*"), ("request_model", "gpt-4o"), ("request_model", "gpt-4o-mini")]
        assert all(not r.alarm and r.statistic < r.h for _, r in tested["refusal_flagged"])
        overall = dict(tested["refusal_flagged"])[("*", "*")]
        assert overall.base_runs > 20_000 and overall.runs > 1_500   # a day of baseline, the 2 scanned hours
        assert set(tested) == {"refusal_flagged", "error", "retry_exhausted"}


def test_the_model_version_change_fires_in_the_first_window_holding_the_new_version(hourly):
    # the window [04:00, 05:00) has 20 minutes of the new version: too few refusals yet for the CUSUM
    found = fast_findings(hourly, BASE_END + timedelta(hours=5), CONFIG)
    assert [f.rule for f in found] == ["model_version_change"], [f.message for f in found]
    version = found[0]
    assert version.severity == "alert" and version.current["response_model"] == NEW_MODEL[1]
    assert CHANGE <= version.first_seen < CHANGE + timedelta(minutes=1)


def test_the_refusal_rise_alarms_at_the_close_of_the_first_whole_window_after_it_as_the_same_incident(hourly):
    before = fast_incidents(fast_findings(hourly, BASE_END + timedelta(hours=5), CONFIG))
    found = fast_findings(hourly, BASE_END + timedelta(hours=6), CONFIG)
    cusum = [f for f in found if f.rule == "refusal_cusum"]
    assert len(cusum) == 1, [f.message for f in found]
    f = cusum[0]
    assert (f.segment_key, f.segment_value, f.feature, f.severity) == ("*", "*", "refusal_flagged", "alert")
    assert f.stats["statistic"] >= f.stats["threshold"] and f.stats["p0"] < 0.01 and f.current["rate"] > 0.015
    # the CUSUM's estimate of the change time: the start of the window where it last left 0 (noise may start it earlier)
    assert CHANGE - timedelta(hours=3) <= f.first_seen <= CHANGE
    assert "request_model=gpt-4o" in f.current["segments"] and "request_model=gpt-4o-mini" not in f.current["segments"]
    assert "in request_model=gpt-4o " in f.message   # the stream where it is strongest
    after = fast_incidents(found)
    # one incident: the alias update, its refusal rise as evidence; the same id as the pass before
    assert len(after) == 1 and [x.id for x in after] == [x.id for x in before]
    assert [g.rule for g in after[0].findings] == ["model_version_change", "refusal_cusum"]
    assert after[0].key == f"model_version_change|*|model_version|gpt-4o → {NEW_MODEL[1]} ({NEW_MODEL[2]})"
    assert "refusals" in after[0].title


def test_a_refusal_rise_without_a_cause_keeps_its_id_from_pass_to_pass(hourly):
    ids = []
    for hour in (6, 7):   # two passes an hour apart
        found = [f for f in fast_findings(hourly, BASE_END + timedelta(hours=hour), CONFIG) if f.rule != "model_version_change"]
        assert [f.rule for f in found] == ["refusal_cusum"]
        ids.append([(i.id, i.key) for i in fast_incidents(found)])
    assert ids[0] == ids[1] and ids[0][0][1] == "refusal_cusum|all|refusals|"


def test_ten_minute_windows_flag_the_rise_within_the_hour(tmp_path):
    change = BASE_END + timedelta(hours=2, minutes=3)
    store = _store(tmp_path / "profiles", timedelta(minutes=10), change, change + timedelta(hours=1), 21)
    assert store.stored_window == timedelta(minutes=10)
    flagged = None
    for step in range(1, 7):
        now = BASE_END + timedelta(hours=2, minutes=10 * step)   # a pass at each window close
        if any(f.rule == "refusal_cusum" for f in fast_findings(store, now, CONFIG)):
            flagged = now
            break
    assert flagged is not None and flagged - change <= timedelta(minutes=60)
    assert not [f for f in fast_findings(store, change - timedelta(minutes=3), CONFIG) if f.rule == "refusal_cusum"]


def test_a_pass_tests_closed_windows_only(hourly):
    # at 05:30 the window [05:00, 06:00) is still open: only [04:00, 05:00) of the 2 scanned hours is tested
    tested = dict(stream_tests(hourly, BASE_END + timedelta(hours=5, minutes=30), CONFIG)["refusal_flagged"])
    assert len(tested[("*", "*")].path) == 1   # one value of S per window tested
    tested = dict(stream_tests(hourly, BASE_END + timedelta(hours=6), CONFIG)["refusal_flagged"])
    assert len(tested[("*", "*")].path) == 2


def _cusum_finding(rule: str, feature: str, score: float) -> Finding:
    now = BASE_END
    return Finding(rule, "alert", "*", "*", feature, score, f"{feature} rose", "look", "a", {"rate": 0.005},
                   {"rate": 0.03, "n": 1000}, (now - timedelta(hours=2), now), now - timedelta(hours=1))


def test_refusal_and_error_rises_without_a_cause_are_separate_incidents_whoever_leads():
    refusals = _cusum_finding("refusal_cusum", "refusal_flagged", 3.0)
    errors = _cusum_finding("rate_cusum", "error", 5.0)
    alone = {i.key: i.id for i in fast_incidents([refusals])}
    assert list(alone) == ["refusal_cusum|all|refusals|"]
    for findings in ([refusals, errors], [errors, refusals]):
        ids = {i.key: i.id for i in fast_incidents(findings)}
        assert ids == {**alone, "rate_cusum|all|error|": ids["rate_cusum|all|error|"]}
    # incidents.group alone puts both in one incident named after whichever comes first
    assert len(group([errors, refusals])) == 1 and group([errors, refusals])[0].key.startswith("rate_cusum")
