"""Refusal and hedging detectors: one multinomial logistic regression on the MiniLM embedding and the words.

The model tells four kinds of reply apart — ``refusal``, ``hedge``, ``normal`` and
``hard_negative`` (ordinary replies with the words a refusal or hedge uses: "sorry", "can't
decide?", "only 3 left") — from two views of the reply: the normalized all-MiniLM-L6-v2 sentence
embedding (384 numbers) the scorer already computes for LangKit's refusal similarity, which carries
what the reply means, and the TF-IDF weights of its words and word pairs (scikit-learn's
vectorizer, the vocabulary and idf fixed at build time), which carry how declines are worded ("have
to pass", "isn't something i", "i'd rather"). Either view alone misses declines the other catches.
Learning the hard negatives as a kind of their own keeps "Sorry for the wait, your refund is on its
way" from being flagged.

A long reply is also scored sentence by sentence (:func:`segments`) for refusals, and
``refusal_score`` is the highest over the whole reply and its sentences: a decline hidden in the
last line of otherwise compliant copy ("Here is the e-mail. I left out the 'only 2 left' line:
stock isn't limited.") is then not averaged away. Single-sentence replies cost nothing more; longer
ones one embedding per sentence (the cache keeps repeated sentences). ``hedging_score`` is the whole
reply's: hedging is the tone of the answer, and one "may" in long copy is not a hedged answer.

The weights, vocabulary and idf are plain JSON (``detectors_v2.json``), read with numpy and
scikit-learn (a dependency of sentence-transformers, so already installed). They are rebuilt from the
example set (``examples_v2.json``) by ``python -m agenttrace_langkit.detectors.build`` (scikit-learn,
build time only), which also picks each threshold on a labeled calibration file.

Metrics (0..1, the model's probability of the kind):

- ``refusal_score``: the reply declines the request, in whole or in part (an outright no, a policy
  citation, "I'd rather not", a requested element withheld behind a disclaimer, an offer of
  something else in place of what was asked);
- ``hedging_score``: the reply hedges instead of directing ("you may want to check...", "a few items
  may still be available").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Optional, Sequence

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE / "detectors_v2.json"
EXAMPLES = HERE / "examples_v2.json"
#: metric name → the kind of reply whose probability it is
METRICS = {"refusal_score": "refusal", "hedging_score": "hedge"}
#: metrics also scored sentence by sentence: a decline anywhere in a reply is a decline, while
#: hedging is the tone of the whole reply (one "may" in long copy is not a hedged answer)
BY_SENTENCE = ("refusal_score",)
#: sentences scored per reply at most (the first and last half of them when there are more)
MAX_SEGMENTS = 12
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[A-Z0-9\"“‘(])|\s*\n+\s*")


def segments(text: str, limit: int = MAX_SEGMENTS) -> list[str]:
    """The sentences of ``text`` worth scoring on their own (two words or more); none for one sentence."""
    parts = [p.strip() for p in _SENTENCE_END.split(text) if p and len(p.split()) >= 2]
    if len(parts) <= 1:
        return []
    return parts if len(parts) <= limit else parts[: limit // 2] + parts[-(limit // 2):]


#: the words and word pairs the model reads beside the embedding (scikit-learn's TF-IDF, as built)
TOKENS = r"(?u)\b\w[\w']*\b"
NGRAMS = (1, 2)


@dataclass(frozen=True)
class Detectors:
    """The shipped model: ``classes``; per class a weight row over the embedding then the TF-IDF
    terms, and a bias; the terms (``vocabulary``, in column order) with their ``idf``; a threshold
    per metric."""

    classes: tuple[str, ...]
    weights: "object"  # numpy, classes × (embedding dims + terms)
    bias: "object"     # numpy, one per class
    vocabulary: tuple[str, ...]
    idf: "object"      # numpy, one per term
    thresholds: dict[str, float]
    by_sentence: tuple[str, ...] = BY_SENTENCE

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(m for m, kind in METRICS.items() if kind in self.classes)

    @cached_property
    def _tfidf(self):
        vectorizer = tfidf_vectorizer(vocabulary={term: i for i, term in enumerate(self.vocabulary)})
        vectorizer.idf_ = self.idf  # fitted at build time: the vectorizer only transforms here
        return vectorizer

    def features(self, embeddings, texts: Sequence[str]):
        """The model's input rows: each text's normalized embedding, then its TF-IDF terms."""
        import numpy as np

        terms = self._tfidf.transform(list(texts)).toarray().astype(np.float32) if self.vocabulary else None
        return embeddings if terms is None else np.hstack([embeddings, terms])

    def probabilities(self, embeddings, texts: Sequence[str]):
        """Class probabilities (numpy, rows × classes) for texts and their normalized embeddings."""
        import numpy as np

        dims = embeddings.shape[1]  # the same logits as features() @ weights.T, the TF-IDF part kept sparse
        logits = embeddings @ self.weights[:, :dims].T + self.bias
        if self.vocabulary:
            logits = logits + np.asarray(self._tfidf.transform(list(texts)) @ self.weights[:, dims:].T)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def score(self, embeddings, texts: Sequence[str], groups: Optional[Sequence[int]] = None) -> dict[str, list[float]]:
        """Each metric's score per reply. ``texts`` and ``embeddings`` have one row per text: first
        the whole replies, then (optionally) their sentences, ``groups`` giving the reply of each
        sentence row. A ``by_sentence`` metric's score is the highest of the reply's rows'; the
        others' is the whole reply's."""
        import numpy as np

        p = self.probabilities(embeddings, texts)
        groups = np.asarray(groups if groups is not None else (), dtype=int)
        n = len(p) - len(groups)
        out = {}
        for metric in self.metrics:
            column = p[:, self.classes.index(METRICS[metric])]
            best = column[:n].copy()
            if metric in self.by_sentence and len(groups):
                np.maximum.at(best, groups, column[n:])
            out[metric] = best.tolist()
        return out


def own_words(text: str) -> str:
    """``text`` lowercased, with what it quotes replaced by ``QUOTED``: words in quotation marks
    (a translated "I can't come", a customer's "I refuse to pay", a testimonial) are someone
    else's, not the reply declining. Straight single quotes are left alone (they are apostrophes)."""
    return _QUOTED.sub(" quoted ", text).lower()


_QUOTED = re.compile(r'"[^"\n]{1,400}"|“[^”\n]{1,400}”|‘[^’\n]{1,400}’(?!\w)|«[^»\n]{1,400}»')


def tfidf_vectorizer(**kwargs):
    """scikit-learn's TF-IDF vectorizer with the detectors' settings (on the reply's own words)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=NGRAMS, token_pattern=TOKENS, sublinear_tf=True, preprocessor=own_words, **kwargs)


def load(path: Path = WEIGHTS) -> Optional[Detectors]:
    """The shipped detectors (None when the weights file is absent: while building it)."""
    import numpy as np

    if not Path(path).is_file():
        return None
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return Detectors(tuple(data["classes"]), np.asarray(data["weights"], dtype=np.float32),
                     np.asarray(data["bias"], dtype=np.float32), tuple(data.get("vocabulary", ())),
                     np.asarray(data.get("idf", ()), dtype=np.float64),
                     {name: float(d["threshold"]) for name, d in data["detectors"].items()},
                     tuple(data.get("by_sentence", ())))


def thresholds(path: Path = WEIGHTS) -> dict[str, float]:
    """The calibrated flag threshold of each detector (what a profile's ``thresholds`` should use)."""
    return {name: float(d["threshold"]) for name, d in json.loads(Path(path).read_text(encoding="utf-8"))["detectors"].items()}
