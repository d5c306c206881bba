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
    assert all(set(r) == {"text", "label", "agent", "split", "part"} and r["text"].strip() for r in rows)
    assert {r["label"] for r in rows} == LABELS and {r["agent"] for r in rows} == {"marketing", "email", "support", "router"}
    assert len({r["text"].strip().lower() for r in rows}) == len(rows)
    assert {r["split"] for r in rows} == {"build", "heldout"}
    assert {r["part"] for r in rows if r["split"] == "heldout"} == {"final"}  # written after the detector was finished
    counts = Counter((r["label"], r["split"]) for r in rows)
    for label in LABELS:  # every label on both sides
        assert counts[(label, "build")] >= 100 and counts[(label, "heldout")] >= 50


def test_no_corpus_text_is_in_an_example_set():
    detectors = Path(__file__).resolve().parent.parent / "integrations" / "langkit" / "agenttrace_langkit" / "detectors"
    examples = {t.strip().lower() for path in detectors.glob("examples_v*.json")
                for texts in json.loads(path.read_text(encoding="utf-8"))["groups"].values() for t in texts}
    assert examples and not [r["text"] for r in load() if r["text"].strip().lower() in examples]  # heldout and build alike
