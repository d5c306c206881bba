"""The evaluators of ``agenttrace golden run``, one small module each; every one works on plain
values (a repeat's output, tool calls, route path, the example's reference) and can be used alone.

Each returns a :class:`Evaluation` (or None when it could not run: the score is then absent, never
a fake 0). :data:`KINDS` says whether an evaluator is a pass/fail check or a score, and which way
a score is better — the ``evaluators`` table of the run results file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..results import EvaluatorInfo


@dataclass(frozen=True)
class Evaluation:
    score: float
    label: Optional[str] = None
    explanation: Optional[str] = None


def passed(ok: bool, explanation: Optional[str] = None) -> Evaluation:
    return Evaluation(1.0 if ok else 0.0, "pass" if ok else "fail", explanation)


KINDS: dict[str, EvaluatorInfo] = {
    "trajectory_match": EvaluatorInfo("pass"),
    "route_consistency": EvaluatorInfo("pass"),
    "refusal": EvaluatorInfo("pass"),
    "refusal_similarity": EvaluatorInfo("score", "minimize"),
    "relevance": EvaluatorInfo("score", "maximize"),
    "semantic_similarity": EvaluatorInfo("score", "maximize"),
    "format": EvaluatorInfo("pass"),
    "latency_ms": EvaluatorInfo("score", "minimize"),
    "total_tokens": EvaluatorInfo("score", "minimize"),
}


def kind_of(name: str) -> EvaluatorInfo:
    """A judge (``judge.<name>``) is a score, higher is better."""
    return KINDS.get(name) or EvaluatorInfo("score", "maximize")
