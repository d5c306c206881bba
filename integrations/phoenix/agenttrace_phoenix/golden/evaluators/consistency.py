"""Across the k repeats of one example: route consistency and pass^k."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from . import Evaluation, passed


def route_consistency(route_paths: Sequence[Sequence[str]]) -> Optional[Evaluation]:
    """Pass when every repeat took the same route path (None without repeats)."""
    if not route_paths:
        return None
    distinct = sorted({" > ".join(p) or "(none)" for p in route_paths})
    return passed(len(distinct) == 1, f"{len(distinct)} distinct route path(s) in {len(route_paths)} repeats: "
                  + "; ".join(distinct))


def pass_k(repeat_scores: Sequence[Mapping[str, float]], pass_evaluators: Sequence[str]) -> Optional[bool]:
    """pass^k: every repeat passes every pass evaluator that ran on it; None when none ran."""
    ran = [s[name] for s in repeat_scores for name in pass_evaluators if name in s]
    return all(v >= 1.0 for v in ran) if ran else None
