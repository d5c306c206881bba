"""Judge scores downstream: trajectory score features (``judge.<name>``, numeric attributes only),
drift's ``score_shift`` on them over real whylogs profiles, and Phoenix annotation rows of
annotator kind LLM."""

from __future__ import annotations

import os
from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from agenttrace import semconv as sc
from agenttrace.trajectory import SpanRecord, is_judge_score
from agenttrace.trajectory import features as trajectory_features

pytest.importorskip("whylogs")
os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")

from agenttrace_phoenix.score_rows import span_rows, span_scores, trace_rows, TraceScores  # noqa: E402
from agenttrace_whylogs import DriftConfig, ProfileStore, detect  # noqa: E402
from drift_traffic import generate, utc  # noqa: E402

J = "agenttrace.metric.judge.hedging"


def test_judge_score_is_a_trajectory_feature_but_its_label_and_explanation_are_not():
    root = SpanRecord("r", None, "t", "agent", 0, 10, {sc.OI_SPAN_KIND: "AGENT"})
    llm = [SpanRecord(f"l{i}", "r", "t", "chat", 1, 2, {sc.OPERATION: "chat", J: v, J + ".label": lab, J + ".explanation": "x",
                                                  J + ".error": "e"})
           for i, (v, lab) in enumerate([(0.0, "hedged"), (1.0, "confident")])]
    features = trajectory_features(root, [root, *llm])
    assert features["judge.hedging"] == 0.5
    assert not any(k.startswith("judge.hedging.") for k in features)
    assert is_judge_score("judge.hedging") and not is_judge_score("judge.hedging.label")


def test_a_judge_score_shift_of_015_sd_is_found_by_drift(tmp_path):
    start, mid = utc(2026, 4, 1), utc(2026, 4, 5)
    end = mid + timedelta(days=2)
    rng = np.random.default_rng(7)
    base, cur = generate(6000, start, mid, 1), generate(3000, mid, end, 2)
    for rows, mean in ((base, 0.80), (cur, 0.80 - 0.2 * 0.15 * 1.2)):  # a 0.18 SD drop (SD 0.2)
        for t, v in zip(rows, rng.normal(mean, 0.2, len(rows))):
            t.features["judge.hedging"] = float(v)
    with ProfileStore(tmp_path / "s", window=timedelta(days=1)) as store:
        store.write(base)
        store.write(cur)
    result = detect(ProfileStore(tmp_path / "s"),
                    config=DriftConfig(baseline=timedelta(days=4), current=timedelta(days=2)))
    found = [f for f in result.findings if f.rule == "score_shift" and f.feature == "judge.hedging"]
    assert found, [(f.rule, f.feature, f.segment) for f in result.findings]
    assert any(f.severity == "alert" and f.stats["effect"] <= -0.15 for f in found)


def event(name, value, label=None, explanation=None):
    attrs = {sc.EVALUATION_NAME: name, sc.EVALUATION_SCORE_VALUE: value}
    if label:
        attrs[sc.EVALUATION_SCORE_LABEL] = label
    if explanation:
        attrs[sc.EVALUATION_EXPLANATION] = explanation
    return SimpleNamespace(name=sc.EVALUATION_EVENT, attributes=attrs)


def test_judge_scores_are_llm_annotations_with_label_and_explanation_and_no_review_row():
    span = SimpleNamespace(events=[event("judge.hedging", 0.0, "hedged", "hedges its claim")], attributes={})
    scores = span_scores(span)
    assert [s.name for s in scores] == ["judge.hedging"]  # a judge's label raises no review annotation
    (row,) = span_rows("ab" * 8, scores)
    assert row["annotator_kind"] == "LLM" and row["name"] == "judge.hedging"
    assert row["result"] == {"score": 0.0, "label": "hedged", "explanation": "hedges its claim"}
    traces = TraceScores()
    traces.start(1), traces.start(1)
    traces.end(1, scores)
    (trow,) = traces.end(1, span_scores(SimpleNamespace(events=[event("judge.hedging", 1.0, "confident")], attributes={})))
    assert trow["annotator_kind"] == "LLM" and trow["result"]["score"] == 0.5 and trow["metadata"]["aggregate"] == "mean"


def test_a_judge_floor_flag_is_a_review_annotation_even_without_langkit_scores():
    span = SimpleNamespace(events=[event("judge.hedging", 0.0, "hedged")],
                           attributes={sc.REVIEW_REQUIRED: True, sc.REVIEW_REASON: "judge.hedging 0.000 < 0.5 (hedged)"})
    scores = span_scores(span)
    assert [s.name for s in scores] == ["judge.hedging", "review"]
    assert (scores[1].value, scores[1].label, scores[1].explanation) == (1.0, "flagged", "judge.hedging 0.000 < 0.5 (hedged)")
