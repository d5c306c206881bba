"""One line of evidence for a regressed (or improved) example: what the candidate's repeats said."""

from __future__ import annotations

from collections import Counter
from typing import Any

from .results import RunResult

WIDTH = 110


def _clip(text: Any, width: int = WIDTH) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= width else s[: width - 1] + "…"


def evidence_of(candidate: RunResult, change: Any) -> str:
    """The candidate's labels (counted) and the first explanation of its worst repeat for the
    evaluator, or its error, or the start of its output; pass counts for pass evaluators."""
    example = next((e for e in candidate.examples if e.id == change.example_id), None)
    name = change.evaluator
    parts = []
    if change.kind == "pass":
        parts.append(f"pass {sum(v >= 1 for v in change.base)}/{len(change.base)} → "
                     f"{sum(v >= 1 for v in change.candidate)}/{len(change.candidate)}")
    if example is None:
        return "; ".join(parts)
    scored = [r for r in example.repeats if name in (r.scores or {})]
    labels = Counter(r.labels.get(name) for r in scored if (r.labels or {}).get(name))
    if labels:
        parts.append(", ".join(f"{n}× {label}" for label, n in labels.most_common()))
    spec = candidate.evaluators.get(name)
    worst = sorted(scored, key=lambda r: r.scores[name] * (-1 if spec is not None and spec.direction == "minimize" else 1))
    if worst:
        r = worst[0]
        if (r.explanations or {}).get(name):
            parts.append(f'"{_clip(r.explanations[name])}"')
        elif r.error:
            parts.append(f"error: {_clip(r.error)}")
        elif r.output:
            parts.append(f'output: "{_clip(r.output, 80)}"')
    return "; ".join(parts)
