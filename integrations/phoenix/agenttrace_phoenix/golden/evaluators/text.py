"""Refusal, refusal similarity, relevance and semantic similarity through the LangKit scorer plug-in
(``agenttrace.scorers`` entry point ``langkit``: the packaged MiniLM sentence encoder).

- ``refusal`` (pass): the reply is not a refusal — the refusal detector's ``refusal_score`` at most
  its calibrated threshold (LangKit's ``refusal_similarity`` with threshold 0.4 when the detector
  is not shipped);
- ``refusal_similarity``: LangKit's similarity to its refusal examples (lower is better);
- ``relevance``: cosine of the input's and the reply's embeddings;
- ``semantic_similarity``: the same cosine between the reference output and the reply.
"""

from __future__ import annotations

from typing import Any, Optional

from agenttrace import plugins

from . import Evaluation, passed

REFUSAL_SIMILARITY_THRESHOLD = 0.4


def load_scorer() -> tuple[Optional[Any], Optional[str]]:
    """(the LangKit scorer, None) or (None, a note saying why the text evaluators are skipped)."""
    try:
        factory = plugins.load(plugins.SCORERS, "langkit")
        return factory(), None
    except plugins.PluginMissing as err:
        return None, f"refusal/relevance/semantic similarity skipped: {err}"
    except Exception as err:  # noqa: BLE001 - a broken model install must not stop the suite
        return None, f"refusal/relevance/semantic similarity skipped: the LangKit scorer failed to load: {err}"


class TextScores:
    def __init__(self, scorer: Any):
        self.scorer = scorer
        available = set(getattr(scorer, "metrics", ()))
        self.detector = "refusal_score" in available
        self.threshold = float(getattr(scorer, "default_thresholds", {}).get("refusal_score", 0.5))

    def __call__(self, prompt: str, output: str, reference: Optional[str]) -> dict[str, Evaluation]:
        wanted = ["relevance", "refusal_similarity"] + (["refusal_score"] if self.detector else [])
        pairs = [(prompt, output)] + ([(reference, output)] if reference else [])
        rows = self.scorer.score(pairs, wanted)
        out: dict[str, Evaluation] = {}
        first = rows[0]
        if first.get("relevance") is not None:
            out["relevance"] = Evaluation(round(float(first["relevance"]), 6))
        if first.get("refusal_similarity") is not None:
            out["refusal_similarity"] = Evaluation(round(float(first["refusal_similarity"]), 6))
        if self.detector and first.get("refusal_score") is not None:
            value = float(first["refusal_score"])
            out["refusal"] = passed(value <= self.threshold, f"refusal_score {value:.3f} (threshold {self.threshold:.3f})")
        elif first.get("refusal_similarity") is not None:
            value = float(first["refusal_similarity"])
            out["refusal"] = passed(value <= REFUSAL_SIMILARITY_THRESHOLD,
                                    f"refusal_similarity {value:.3f} (threshold {REFUSAL_SIMILARITY_THRESHOLD})")
        if reference and rows[1].get("relevance") is not None:
            out["semantic_similarity"] = Evaluation(round(float(rows[1]["relevance"]), 6))
        return out
