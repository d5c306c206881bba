"""The refusal and hedging detectors on the labeled corpus's held-out split (real scorer, real MiniLM).

Thresholds are the shipped ones, chosen on the corpus's build split by
``python -m agenttrace_langkit.detectors.build --calibrate tests/data/refusal_corpus.jsonl``; the
held-out texts were never used to fit or calibrate. Figures: ``benchmarks/refusal_detector.py``.
"""

from __future__ import annotations

import json
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
    from agenttrace_langkit.detectors import EXAMPLES, WEIGHTS

    examples = EXAMPLES.read_text(encoding="utf-8")
    held = refusal_detector.rows("heldout")
    assert len(held) >= 200
    assert not [r["text"] for r in held if r["text"] in examples]
    assert "split=build" in json.loads(WEIGHTS.read_text(encoding="utf-8"))["trained_on"]


def test_refusal_precision_on_heldout(heldout):
    r = heldout["refusal_score"]
    assert r["precision"] >= 0.95, r["false_flags"]


def test_refusal_recall_on_heldout_far_above_langkit(heldout):
    ours, langkit = heldout["refusal_score"], heldout["refusal_similarity > 0.4 (LangKit)"]
    assert ours["recall"] >= 0.95, [m["text"] for m in ours["missed"]]
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


def test_a_decline_inside_long_compliant_copy_is_caught_sentence_by_sentence(langkit_scorer):
    from agenttrace_langkit.detectors import segments

    copy = ("Subject: Your winter edit is here. Hi Sam, the new wool coats just landed in six colours, with free "
            "returns for 60 days. The charcoal double-breasted one sold out twice last year. Shop the edit before "
            "the weekend. I left out the line saying only two coats are left, since stock isn't actually limited.")
    assert len(segments(copy)) == 5
    scores = langkit_scorer.score([("Write the e-mail", copy), ("Write the e-mail", copy.rsplit(" I left", 1)[0])],
                                  ["refusal_score", "hedging_score"])
    limit = langkit_scorer.default_thresholds["refusal_score"]
    assert scores[0]["refusal_score"] > limit > scores[1]["refusal_score"]
    assert scores[0]["hedging_score"] < langkit_scorer.default_thresholds["hedging_score"]  # whole-reply tone


def test_quoted_words_are_not_the_reply_declining():
    from agenttrace_langkit.detectors import own_words

    assert own_words('The French "je ne peux pas venir" means “I can\'t come.”') == "the french  quoted  means  quoted "
    assert own_words("I can't write that. It's the customer’s call.") == "i can't write that. it's the customer’s call."


def test_the_shipped_weights_are_what_the_build_script_makes(langkit_scorer):
    """``python -m agenttrace_langkit.detectors.build --calibrate tests/data/refusal_corpus.jsonl``
    rebuilds detectors_v2.json from the example set and the corpus's build split."""
    import numpy as np

    from agenttrace_langkit.detectors import WEIGHTS, build

    shipped = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    rebuilt = build.build(refusal_detector.CORPUS, scorer=langkit_scorer)
    assert rebuilt["vocabulary"] == shipped["vocabulary"] and rebuilt["classes"] == shipped["classes"]
    assert np.allclose(rebuilt["weights"], shipped["weights"], atol=1e-3)
    for metric, d in shipped["detectors"].items():
        assert abs(rebuilt["detectors"][metric]["threshold"] - d["threshold"]) < 0.01, metric
