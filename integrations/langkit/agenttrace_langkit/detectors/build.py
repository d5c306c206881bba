"""Rebuild ``detectors_v1.json`` from the example set; pick thresholds on a labeled calibration file.

    python -m agenttrace_langkit.detectors.build [--calibrate tests/data/refusal_corpus.jsonl]

Each detector is a logistic regression (scikit-learn, used here only) on the normalized
all-MiniLM-L6-v2 embeddings of the example set's texts: ``refusal`` examples against every other
group, ``hedge`` examples against every other group. With ``--calibrate``, the rows of that
JSON-lines file whose ``split`` is ``build`` (never ``heldout``) join the training texts, and the
threshold of each detector is the one with the best F1 for its label on their out-of-fold scores
(each row scored by a model fitted without it; ties go to the lower threshold, recall first).
Without it the thresholds stay 0.5.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from . import EXAMPLES, METRICS, WEIGHTS


def embed(texts, scorer=None):
    from .. import LangKitScorer

    scorer = scorer or LangKitScorer()
    import torch

    return torch.nn.functional.normalize(scorer.embed(list(texts)), dim=-1).cpu().numpy()


def fit(X, y, c: float):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    model.fit(X, y)
    return model


def best_threshold(scores, labels) -> float:
    """The threshold with the best F1 on (scores, labels); ties go to the lower threshold."""
    best, best_f1 = 0.5, -1.0
    for t in np.unique(np.round(scores, 4)):
        cut = float(t) - 1e-6
        pred = scores > cut
        tp = float(np.sum(pred & labels))
        f1 = 2 * tp / (np.sum(pred) + np.sum(labels)) if np.sum(labels) else 0.0
        if f1 > best_f1 + 1e-12:
            best, best_f1 = cut, f1
    return round(best, 4)


def build(calibrate: Path | None = None, c: float = 4.0, scorer=None, folds: int = 5) -> dict:
    examples = json.loads(EXAMPLES.read_text(encoding="utf-8"))
    texts, groups = [], []
    for group, phrases in examples["groups"].items():
        texts += phrases
        groups += [group] * len(phrases)
    X, groups = embed(texts, scorer), np.asarray(groups)
    cal_X, cal_y = np.zeros((0, X.shape[1]), dtype=X.dtype), np.asarray([], dtype=str)
    if calibrate is not None:
        rows = [json.loads(line) for line in Path(calibrate).read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = [r for r in rows if r.get("split") == "build"]  # never the held-out rows
        cal_X, cal_y = embed([r["text"] for r in rows], scorer), np.asarray([r["label"] for r in rows])
    out = {"version": examples["version"], "model": "sentence-transformers/all-MiniLM-L6-v2 (normalized)", "c": c,
           "trained_on": f"examples_v{examples['version']}.json" + (f" + {Path(calibrate).name} split=build" if calibrate else ""),
           "threshold": f"best F1 on out-of-fold scores of {Path(calibrate).name} split=build ({folds} folds)" if calibrate else "0.5",
           "detectors": {}}
    for metric, group in METRICS.items():
        y, cy = groups == group, cal_y == group
        threshold = 0.5
        if len(cal_y):
            oof = np.zeros(len(cal_y))
            order = np.arange(len(cal_y))
            for k in range(folds):  # each calibration row scored by a model that did not see it
                held = order % folds == k
                model = fit(np.vstack([X, cal_X[~held]]), np.concatenate([y, cy[~held]]), c)
                oof[held] = model.predict_proba(cal_X[held])[:, 1]
            threshold = best_threshold(oof, cy)
        model = fit(np.vstack([X, cal_X]), np.concatenate([y, cy]), c)
        out["detectors"][metric] = {"group": group, "bias": float(model.intercept_[0]),
                                    "weights": [round(float(w), 6) for w in model.coef_[0]], "threshold": threshold}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", type=Path, help="labeled JSON-lines file; thresholds are chosen on its split=build rows")
    parser.add_argument("--c", type=float, default=4.0, help="inverse regularization strength (default 4)")
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    args = parser.parse_args()
    data = build(args.calibrate, args.c)
    args.out.write_text(json.dumps(data) + "\n", encoding="utf-8")
    for metric, d in data["detectors"].items():
        print(f"{metric}: threshold {d['threshold']}")


if __name__ == "__main__":
    main()
