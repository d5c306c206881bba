"""Rebuild ``detectors_v2.json`` from the example set; pick thresholds on a labeled calibration file.

    python -m agenttrace_langkit.detectors.build [--calibrate tests/data/refusal_corpus.jsonl]

The model is a multinomial logistic regression (scikit-learn) on the normalized all-MiniLM-L6-v2
embeddings of the example set's texts beside their TF-IDF word and word-pair weights (the
vocabulary: terms in two training texts or more), one class per example group (``refusal``,
``hedge``, ``normal``, ``hard_negative``). The sentences of multi-sentence ``normal`` and
``hard_negative`` examples are also learned as their kind, since replies are scored sentence by
sentence too (a sentence of ordinary copy must not look like a decline on its own).

With ``--calibrate``, the rows of that JSON-lines file whose ``split`` is ``build`` (never any other
split) join the training texts, and the threshold of each detector is the one with the best F1 for
its label on their out-of-fold scores (each row scored by a model fitted without it; ties go to the
lower threshold, recall first). Without it the thresholds stay 0.5.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from . import BY_SENTENCE, EXAMPLES, METRICS, WEIGHTS, Detectors, segments, tfidf_vectorizer

CLASSES = ("refusal", "hedge", "normal", "hard_negative")
#: kinds whose sentences are each that kind too (a refusal's other sentences are not declines)
WHOLLY = ("normal", "hard_negative")


def embed(texts, scorer=None):
    from .. import LangKitScorer

    scorer = scorer or LangKitScorer()
    import torch

    texts = list(texts)
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return torch.nn.functional.normalize(scorer.embed(texts), dim=-1).cpu().numpy()


def training_set(rows: list[tuple[str, str]]) -> tuple[list[str], np.ndarray]:
    """Texts and labels: every text, and the sentences of texts of a kind in ``WHOLLY``."""
    texts = [t for t, _ in rows] + [s for t, label in rows if label in WHOLLY for s in segments(t)]
    labels = [label for _, label in rows] + [label for t, label in rows if label in WHOLLY for _ in segments(t)]
    return texts, np.asarray(labels)


def fit(texts: list[str], y, c: float, scorer, min_df: int = 2) -> Detectors:
    from sklearn.linear_model import LogisticRegression

    vectorizer = tfidf_vectorizer(min_df=min_df).fit(texts)
    vocabulary = tuple(sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get))
    shell = Detectors(CLASSES, None, None, vocabulary, vectorizer.idf_, {m: 0.5 for m in METRICS})
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(shell.features(embed(texts, scorer), texts), y)
    order = [list(model.classes_).index(k) for k in CLASSES]
    return Detectors(CLASSES, model.coef_[order].astype(np.float32), model.intercept_[order].astype(np.float32),
                     vocabulary, vectorizer.idf_, {m: 0.5 for m in METRICS})


def score_texts(detectors: Detectors, texts: list[str], scorer) -> dict[str, list[float]]:
    """Each metric's score per text, the way the scorer computes it (whole text and its sentences)."""
    parts = [(i, part) for i, text in enumerate(texts) for part in segments(text)]
    rows = list(texts) + [p for _, p in parts]
    return detectors.score(embed(rows, scorer), rows, [i for i, _ in parts])


def best_threshold(scores, labels) -> float:
    """The threshold with the best F1 on (scores, labels); ties go to the lower threshold."""
    scores, labels = np.asarray(scores), np.asarray(labels, dtype=bool)
    best, best_f1 = 0.5, -1.0
    for t in np.unique(np.round(scores, 4)):
        cut = float(t) - 1e-6
        pred = scores > cut
        tp = float(np.sum(pred & labels))
        f1 = 2 * tp / (np.sum(pred) + np.sum(labels)) if np.sum(labels) else 0.0
        if f1 > best_f1 + 1e-12:
            best, best_f1 = cut, f1
    return round(best, 4)


def read_rows(path: Path, split: str) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(r["text"], r["label"]) for r in rows if r.get("split") == split]


def build(calibrate: Path | None = None, c: float = 4.0, scorer=None, folds: int = 5) -> dict:
    from .. import LangKitScorer

    scorer = scorer or LangKitScorer()
    examples = json.loads(EXAMPLES.read_text(encoding="utf-8"))
    base = [(t, group) for group, phrases in examples["groups"].items() for t in phrases]
    cal = read_rows(calibrate, "build") if calibrate is not None else []  # never the held-out rows
    thresholds = {m: 0.5 for m in METRICS}
    if cal:
        oof = {m: np.zeros(len(cal)) for m in METRICS}
        order = np.arange(len(cal))
        for k in range(folds):  # each calibration row scored by a model that did not see it
            held = order % folds == k
            model = fit(*training_set(base + [r for r, h in zip(cal, held) if not h]), c, scorer)
            for metric, values in score_texts(model, [t for (t, _), h in zip(cal, held) if h], scorer).items():
                oof[metric][held] = values
        thresholds = {m: best_threshold(oof[m], [label == METRICS[m] for _, label in cal]) for m in METRICS}
    model = fit(*training_set(base + cal), c, scorer)
    return {"version": examples["version"], "model": "sentence-transformers/all-MiniLM-L6-v2 (normalized)", "c": c,
            "trained_on": f"examples_v{examples['version']}.json" + (f" + {Path(calibrate).name} split=build" if cal else ""),
            "threshold": f"best F1 on out-of-fold scores of {Path(calibrate).name} split=build ({folds} folds)" if cal else "0.5",
            "by_sentence": list(BY_SENTENCE), "classes": list(model.classes),
            "weights": [[round(float(w), 6) for w in row] for row in model.weights],
            "bias": [round(float(b), 6) for b in model.bias],
            "vocabulary": list(model.vocabulary), "idf": [round(float(v), 6) for v in model.idf],
            "detectors": {m: {"class": METRICS[m], "threshold": thresholds[m]} for m in METRICS}}


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
