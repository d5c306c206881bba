"""Drift rules on generated traffic: each injected change is found (rule, segment, severity), and
stationary traffic raises no alert over many seeds.

Real whylogs profiles in a real ProfileStore. To stay fast the stores here use one-day windows and
a 4-day baseline against a 2-day current window (the rules do not depend on the window size; the
default hourly windows are covered by tests/test_profile_store.py and the benchmark).
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import sys
from collections import Counter
from datetime import timedelta

import pytest

pytest.importorskip("whylogs")
os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")

from agenttrace_whylogs import DriftConfig, DriftError, DriftResult, ProfileStore, detect  # noqa: E402
from agenttrace_whylogs.stats import chi2_homogeneity, value_counts  # noqa: E402
from drift_traffic import NEW_MODEL, generate, utc  # noqa: E402

START = utc(2026, 4, 1)
MID = START + timedelta(days=4)   # baseline [START, MID), current [MID, END)
END = MID + timedelta(days=2)
DAY = timedelta(days=1)
CONFIG = DriftConfig(baseline=timedelta(days=4), current=timedelta(days=2))
STATIONARY_SEEDS = range(100, 124)  # 24 seeds, fixed before looking at the results


def scenario(root, seed: int = 1, n: int = 9000, segment_keys=None, base: dict | None = None, cur: dict | None = None,
             config: DriftConfig = CONFIG, window: timedelta = DAY) -> DriftResult:
    """Baseline traffic (2/3 of ``n``) then current traffic (1/3) with the changes in ``cur``; detect."""
    kw = {} if segment_keys is None else {"segment_keys": segment_keys}
    with ProfileStore(root, window=window, **kw) as store:
        store.write(generate(n * 2 // 3, START, MID, seed, **(base or {})))
        store.write(generate(n // 3, MID, END, seed + 10_000, **(cur or {})))
    return detect(ProfileStore(root), config=config)


def found(result: DriftResult, severity: str = "alert") -> set[tuple[str, str, str, str]]:
    return {(f.rule, f.segment_key, f.segment_value, f.feature) for f in result.findings if f.severity == severity}


def test_distribution_drift_of_latency_in_one_segment(tmp_path):
    result = scenario(tmp_path / "s", cur={"latency_scale": 1.6, "where": {"agent": "billing"}})
    alerts = found(result)
    assert ("distribution_drift", "agent", "billing", "latency_ms") in alerts
    assert ("distribution_drift", "prompt_template", "billing_v4", "latency_ms") in alerts  # the same rows
    assert not any(f[2] in ("sales", "support") for f in alerts)
    finding = next(f for f in result.findings if f.segment == ("agent", "billing") and f.feature == "latency_ms")
    assert finding.annotation == "distribution_drift" and finding.stats["test"] == "ks (whylogs)"
    assert finding.stats["statistic"] >= 0.1 and finding.stats["p_adjusted"] < 0.05
    assert finding.current["median"] > 1.4 * finding.baseline["median"]
    assert "KS D " in finding.message and "median" in finding.message


def test_error_rate_is_compared_as_a_rate(tmp_path):
    result = scenario(tmp_path / "s", cur={"error_rate": 0.06, "where": {"client_category": "travel"}})
    finding = next(f for f in result.alerts if f.feature == "error" and f.segment == ("client_category", "travel"))
    assert finding.rule == "distribution_drift" and finding.stats["test"].startswith("fisher")
    assert finding.current["rate"] > 0.04 and finding.baseline["rate"] < 0.02
    assert "%" in finding.message and f"{finding.current['count']}/{finding.current['n']}" in finding.message


def test_score_shift_of_relevance_for_one_prompt_template(tmp_path):
    result = scenario(tmp_path / "s", cur={"score_shift": -1.0, "where": {"prompt_template": "returns_v2"}})
    assert ("score_shift", "prompt_template", "returns_v2", "relevance") in found(result)
    finding = next(f for f in result.alerts if f.rule == "score_shift" and f.segment == ("prompt_template", "returns_v2"))
    assert finding.annotation == "score_shift"
    assert finding.stats["effect"] < -0.5  # in baseline standard deviations
    assert finding.current["mean"] < finding.baseline["mean"] - 0.05
    # the same change is not reported a second time as a distribution drift of that score there
    assert not any(f.rule == "distribution_drift" and f.segment == finding.segment and f.feature == "relevance"
                   for f in result.findings)
    assert not any(f.rule == "score_shift" and f.segment_key == "prompt_template" and f.segment_value != "returns_v2"
                   for f in result.findings)


def test_refusal_rate_jump_in_one_category_points_at_the_provider(tmp_path):
    result = scenario(tmp_path / "s", cur={"refusal_rate": 0.04, "where": {"client_category": "finance"}})
    finding = next(f for f in result.alerts if f.rule == "refusal_rate" and f.segment == ("client_category", "finance"))
    assert finding.annotation == "refusal_rate_alert"
    assert finding.action == "check the provider's model updates"
    assert finding.current["rate"] > 0.02 and finding.baseline["rate"] < 0.01
    assert f"→ {finding.current['refusals']}/{finding.current['n']} runs" in finding.message
    assert not any(f.rule == "refusal_rate" and f.segment_key == "client_category" and f.segment_value != "finance"
                   for f in result.findings)


def test_refusal_rate_moderate_rise_means_audit_the_prompt(tmp_path):
    # overall only (no segment keys): enough rows to make a +35% rise significant
    result = scenario(tmp_path / "s", n=36_000, segment_keys=(), base={"refusal_rate": 0.02}, cur={"refusal_rate": 0.027})
    (finding,) = [f for f in result.findings if f.rule == "refusal_rate"]
    assert finding.severity == "alert" and finding.segment == ("*", "*")
    assert 0.2 <= finding.stats["effect"] < 0.5
    assert finding.action == "audit the prompt"


def test_refusal_rate_high_but_stable_is_a_warning(tmp_path):
    result = scenario(tmp_path / "s", n=36_000, segment_keys=(), base={"refusal_rate": 0.02}, cur={"refusal_rate": 0.02}, seed=3)
    (finding,) = [f for f in result.findings if f.rule == "refusal_rate"]
    assert finding.severity == "warning" and finding.action == "investigate refusals"
    assert "not rising" in finding.message
    assert not result.alerts


def test_trajectory_shape_tool_sequences_and_routes(tmp_path):
    tools = {"support": {"search_kb>order_status": 0.45, "order_status": 0.15, "search_kb": 0.1, "": 0.3}}
    routes = {"support": {"triage>agent": 0.5, "triage>human": 0.5}}
    result = scenario(tmp_path / "s", cur={"tool_mix": tools, "route_mix": routes, "where": {"agent": "support"}})
    alerts = found(result)
    for feature in ("tool_sequence", "route_path", "step_count"):
        assert ("trajectory_shape", "agent", "support", feature) in alerts, feature
    finding = next(f for f in result.alerts if f.feature == "tool_sequence" and f.segment == ("agent", "support"))
    assert finding.annotation == "trajectory_drift"
    assert finding.stats["moved_value"] in ("search_kb>order_status", "order_status")
    assert finding.stats["effect"] >= 0.1  # total variation distance
    assert not any(f.rule == "trajectory_shape" and f.segment in (("agent", "sales"), ("agent", "billing")) for f in result.findings)


def test_model_version_change_with_first_seen(tmp_path):
    switch = MID + timedelta(hours=13)
    current = generate(3000, MID, END, 10_001, new_model_at=switch)
    # a fingerprint-only change for gpt-4o-mini in the last 100 of its rows, and a model the baseline never asked for
    mini = [t for t in current if t.features["request_model"] == "gpt-4o-mini"][-100:]
    for t in mini:
        t.features["fingerprint"] = "fp_new_mini"
        t.features["model_version"] = f"gpt-4o-mini → {t.features['response_model']} (fp_new_mini)"
    for t in current[-5:]:
        t.features["model_version"] = "o3-mini → o3-mini-2025-01-31 (fp_o3)"
    with ProfileStore(tmp_path / "s", window=DAY) as store:
        store.write(generate(6000, START, MID, 1))
        store.write(current)
    result = detect(ProfileStore(tmp_path / "s"), config=CONFIG)
    events = {f.current["request_model"]: f for f in result.findings if f.rule == "model_version_change"}
    assert set(events) == {"gpt-4o", "gpt-4o-mini", "o3-mini"}
    finding = events["gpt-4o"]
    assert finding.severity == "alert" and finding.segment == ("*", "*") and finding.annotation == "model_version_change"
    req, resp, fp = NEW_MODEL
    assert finding.current["value"] == f"{req} → {resp} ({fp})" and finding.current["new"] == "response model"
    assert finding.message.startswith(f"{req} → {resp} from ") and fp not in finding.message
    first = min(t.end_time for t in current if t.features["response_model"] == resp)
    assert finding.first_seen is not None and abs(finding.first_seen.timestamp() - first) < 1e-3  # exact, not the window start
    assert abs(finding.current["share"] - 35 / 48) < 0.05  # 35 of the 48 current hours on the new version
    assert finding.current["segments"]["request_model=gpt-4o"] == finding.current["rows"]
    assert events["gpt-4o-mini"].severity == "alert" and events["gpt-4o-mini"].current["new"] == "fingerprint"
    assert events["gpt-4o-mini"].current["fingerprint"] in events["gpt-4o-mini"].message
    assert abs(events["gpt-4o-mini"].first_seen.timestamp() - mini[0].end_time) < 1e-3
    assert events["o3-mini"].severity == "info"  # a new alias, not a silent change of a known one
    assert result.findings.index(finding) < result.findings.index(events["gpt-4o-mini"])  # ranked by the share of traffic
    json.dumps(result.to_dict())  # JSON-ready


def test_stationary_traffic_raises_no_alert(request, capsys):
    """False alarms over 24 seeds (each: 6,000 baseline and 3,000 current rows, 17 segments, ~300 tests)."""
    tmp = request.config._tmp_path_factory.mktemp("stationary")
    ctx = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
    args = [(str(tmp / str(seed)), seed) for seed in STATIONARY_SEEDS]
    if ctx is not None:
        with ctx.Pool(min(4, os.cpu_count() or 1), initializer=gc.freeze) as pool:  # the forked test process's heap: not the workers' garbage
            results = pool.starmap(_stationary, args)
    else:
        results = [_stationary(*a) for a in args]
    alerts = [a for r in results for a in r["alerts"]]
    warnings_ = [w for r in results for w in r["warnings"]]
    summary = (f"stationary traffic, {len(results)} seeds, {sum(r['tests'] for r in results) // len(results)} tests per run: "
               f"{len(alerts)} alert(s), {len(warnings_)} warning(s) in {sum(bool(r['warnings']) for r in results)} run(s) "
               f"{dict(Counter(w.split(' ')[0] for w in warnings_))}")
    request.node.user_properties.append(("false_alarms", summary))
    with capsys.disabled():
        print("\n" + summary + "".join(f"\n  {w}" for w in alerts + warnings_))
    assert not alerts, summary
    assert not any(r["model_changes"] for r in results)


def _stationary(root: str, seed: int) -> dict:
    result = scenario(root, seed=seed, window=2 * DAY)  # 2-day windows (aligned with START and MID): 3 profiles per segment
    line = lambda f: f"{f.rule} {f.segment_key}={f.segment_value} {f.feature}: {f.message}"  # noqa: E731
    return {"alerts": [line(f) for f in result.alerts], "warnings": [line(f) for f in result.warnings],
            "tests": sum(result.tests.values()), "model_changes": [f for f in result.findings if f.rule == "model_version_change"]}


def test_whylogs_chi_square_fires_on_one_rare_value_ours_does_not(tmp_path):
    """Why trajectory_shape does not use whylogs' ChiSquare: one occurrence of a rare value on each
    side (the same distribution) is p = 0 / DRIFT for whylogs; the pooled test of homogeneity is calm."""
    from whylogs.viz.drift.column_drift_algorithms import ChiSquare

    def rows(n, start, end, seed):
        out = generate(n, start, end, seed)
        out[n // 2].features["tool_sequence"] = "search_kb>order_status>start_return>notify>escalate"
        return out

    with ProfileStore(tmp_path / "s", window=DAY, segment_keys=()) as store:
        store.write(rows(4000, START, MID, 1))
        store.write(rows(2000, MID, END, 2))
    base, cur = store.read(START, MID), store.read(MID, END)
    theirs = ChiSquare().calculate(target_column_view=cur.get_column("tool_sequence"),
                                   reference_column_view=base.get_column("tool_sequence"), with_thresholds=True)
    assert theirs.drift_category == "DRIFT" and theirs.pvalue == 0.0
    b, nb = value_counts(base.get_column("tool_sequence"))
    c, nc = value_counts(cur.get_column("tool_sequence"))
    _, p, _, tvd = chi2_homogeneity(b, nb, c, nc)
    assert p > 0.15 and tvd < 0.1


def test_errors_unknown_segment_key_and_windows_without_data(tmp_path):
    with ProfileStore(tmp_path / "s", window=DAY) as store:
        store.write(generate(600, START, END, 5))
    store = ProfileStore(tmp_path / "s")
    with pytest.raises(DriftError, match=r"unknown segment key 'tenant'; the store has: agent, client_category, prompt_template"):
        detect(store, config=DriftConfig(segment_keys=["agent", "tenant"]))
    with pytest.raises(DriftError, match=r"no data in the current window \[2026-05-01 .*the store has data from 2026-04-01 00:00 UTC to 2026-04-07 00:00 UTC"):
        detect(store, end=utc(2026, 5, 8))
    with pytest.raises(DriftError, match=r"no data in the baseline window"):
        detect(store, baseline=(utc(2026, 1, 1), utc(2026, 2, 1)))
    with pytest.raises(DriftError, match=r"unknown feature 'latency'; known features: .*latency_ms"):
        detect(store, config=DriftConfig(baseline=timedelta(days=4), current=timedelta(days=2), features=["latency"]))
    # too few rows everywhere: no statistical finding, and the notes say why
    result = detect(store, config=DriftConfig(baseline=timedelta(days=4), current=timedelta(days=2), min_rows=1000))
    assert not result.findings and result.segments == 0
    assert result.notes[0] == f"{len(result.skipped)} segment(s) skipped: fewer than 1000 runs on a side"
    assert "*" in result.skipped and all(result.segment_rows[s][0] < 1000 for s in result.skipped)
