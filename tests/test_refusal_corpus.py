"""The labeled reply corpus the refusal and hedging detectors are measured on (tests/data/README.md)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

CORPUS = Path(__file__).with_name("data") / "refusal_corpus.jsonl"
LABELS = {"refusal", "hedge", "normal", "hard_negative"}


def load() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_corpus_is_labeled_split_and_free_of_duplicates():
    rows = load()
    assert len(rows) >= 400
    assert all(set(r) == {"text", "label", "agent", "split"} and r["text"].strip() for r in rows)
    assert {r["label"] for r in rows} == LABELS and {r["agent"] for r in rows} == {"marketing", "support"}
    assert len({r["text"].strip().lower() for r in rows}) == len(rows)
    assert {r["split"] for r in rows} == {"build", "heldout", "fresh"}
    counts = Counter((r["label"], r["split"]) for r in rows)
    for label in LABELS:  # every label on both sides, roughly half and half, and in the fresh held-out part
        build, heldout = counts[(label, "build")], counts[(label, "heldout")]
        assert build >= 40 and heldout >= 40 and abs(build - heldout) <= 1
        assert counts[(label, "fresh")] >= 25
