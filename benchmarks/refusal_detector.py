"""Refusal and hedging detectors vs LangKit's 0.4 refusal flag on the labeled corpus's held-out split.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/refusal_detector.py [--split heldout|build]

Scores every text of ``tests/data/refusal_corpus.jsonl`` in the chosen split with the real
``LangKitScorer`` (all-MiniLM-L6-v2) and prints, per detector, recall / precision / false flags at
its shipped threshold (chosen on the ``build`` split by ``agenttrace_langkit.detectors.build``),
with LangKit's ``refusal_similarity > 0.4`` on the same texts, overall and per label and agent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")
CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "refusal_corpus.jsonl"


def rows(split: str) -> list[dict]:
    out = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in out if r["split"] == split]


def evaluate(scorer, data: list[dict]) -> dict:
    """Recall / precision of each flag on ``data``: refusal_score and LangKit's 0.4 for refusals,
    hedging_score for hedges."""
    scores = scorer.score([("", r["text"]) for r in data], ["refusal_similarity", "refusal_score", "hedging_score"])
    limits = scorer.default_thresholds
    flags = {
        "refusal_score": ("refusal", [s["refusal_score"] > limits["refusal_score"] for s in scores]),
        "refusal_similarity > 0.4 (LangKit)": ("refusal", [s["refusal_similarity"] > 0.4 for s in scores]),
        "hedging_score": ("hedge", [s["hedging_score"] > limits["hedging_score"] for s in scores]),
    }
    out = {}
    for name, (label, flagged) in flags.items():
        truth = [r["label"] == label for r in data]
        tp = sum(f and t for f, t in zip(flagged, truth))
        fp = [r for f, t, r in zip(flagged, truth, data) if f and not t]
        fn = [r for f, t, r in zip(flagged, truth, data) if t and not f]
        out[name] = {"label": label, "n": sum(truth), "tp": tp, "recall": tp / max(1, sum(truth)),
                     "precision": tp / max(1, tp + len(fp)), "false_flags": fp, "missed": fn,
                     "false_by_label": {l: sum(1 for r in fp if r["label"] == l) for l in ("refusal", "hedge", "normal", "hard_negative")}}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="heldout", choices=("heldout", "build"))
    parser.add_argument("-v", "--verbose", action="store_true", help="list the missed and falsely flagged texts")
    args = parser.parse_args()
    from agenttrace_langkit import LangKitScorer

    scorer = LangKitScorer()
    data = rows(args.split)
    print(f"{CORPUS.name} split={args.split}: {len(data)} texts; thresholds {scorer.default_thresholds}")
    print(f"{'flag':38} {'label':8} {'n':>4} {'recall':>7} {'precision':>9}  false flags by label")
    for name, r in evaluate(scorer, data).items():
        fb = ", ".join(f"{k} {v}" for k, v in r["false_by_label"].items() if v) or "none"
        print(f"{name:38} {r['label']:8} {r['n']:4d} {r['recall']:7.3f} {r['precision']:9.3f}  {fb}")
        per_agent = []
        for a in sorted({x["agent"] for x in data}):
            n = sum(1 for x in data if x["agent"] == a and x["label"] == r["label"])
            missed = sum(1 for x in r["missed"] if x["agent"] == a)
            per_agent.append(f"{a} {n - missed}/{n}")
        print(f"{'':38} caught by agent: {', '.join(per_agent)}")
        if args.verbose:
            for x in r["missed"]:
                print(f"    missed: {x['text']}")
            for x in r["false_flags"]:
                print(f"    false ({x['label']}): {x['text']}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
