"""The refusal and hedging detectors on the labeled corpus's held-out split (real scorer, real MiniLM).

Thresholds are the shipped ones, chosen on the corpus's build split by
``python -m agenttrace_langkit.detectors.build --calibrate tests/data/refusal_corpus.jsonl``; the
held-out texts were never used to fit or calibrate. Figures: ``benchmarks/refusal_detector.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("agenttrace_langkit")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import refusal_detector  # noqa: E402


@pytest.fixture(scope="module")
def heldout(langkit_scorer):
    return refusal_detector.evaluate(langkit_scorer, refusal_detector.rows("heldout"))


@pytest.fixture(scope="module")
def langkit_scorer():
    from agenttrace_langkit import LangKitScorer

    return LangKitScorer()


def test_heldout_split_was_not_built_from():
    from agenttrace_langkit.detectors import EXAMPLES

    examples = EXAMPLES.read_text(encoding="utf-8")
    held = refusal_detector.rows("heldout")
    assert len(held) >= 200
    assert not [r["text"] for r in held if r["text"] in examples]


def test_refusal_precision_on_heldout(heldout):
    r = heldout["refusal_score"]
    assert r["precision"] >= 0.95, r["false_flags"]


@pytest.mark.xfail(strict=True, reason="held-out refusal recall is 0.94 (47/50), short of the 0.95 target")
def test_refusal_recall_target_on_heldout(heldout):
    assert heldout["refusal_score"]["recall"] >= 0.95


def test_refusal_recall_on_heldout_far_above_langkit(heldout):
    ours, langkit = heldout["refusal_score"], heldout["refusal_similarity > 0.4 (LangKit)"]
    assert ours["recall"] >= 0.94, [m["text"] for m in ours["missed"]]
    assert ours["recall"] > langkit["recall"] + 0.5


def test_hedging_on_heldout(heldout):
    r = heldout["hedging_score"]
    assert r["recall"] >= 0.9 and r["precision"] >= 0.85, (r["missed"], r["false_flags"])


def test_scores_are_probabilities_from_the_shared_embeddings(langkit_scorer):
    pairs = [("Write a subject line", "I'd rather not write that subject line."), ("Where is my order?", "It shipped today.")]
    rows = langkit_scorer.score(pairs, ["refusal_score", "hedging_score"])
    assert all(0.0 <= row[m] <= 1.0 for row in rows for m in ("refusal_score", "hedging_score"))
    assert rows[0]["refusal_score"] > langkit_scorer.default_thresholds["refusal_score"] > rows[1]["refusal_score"]
    assert set(rows[0]) == {"refusal_score", "hedging_score"}
