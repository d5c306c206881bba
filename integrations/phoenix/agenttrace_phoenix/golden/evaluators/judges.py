"""The profile file's judges (``[judges.<name>]``, see docs/judges.md) on a golden run's replies,
through ``agenttrace.metrics.judges.build_judges``. Each judge gives ``judge.<name>``: its score,
label and explanation; a judge error or skip leaves the score absent."""

from __future__ import annotations

from typing import Any, Optional

from . import Evaluation


def load_judges(profiles_path: Optional[str]) -> dict[str, Any]:
    """name → Judge, from the profile file's ``[judges.*]`` tables ({} without a file)."""
    if not profiles_path:
        return {}
    from agenttrace.metrics import judges, profiles

    specs = getattr(profiles.load(profiles_path), "judges", None) or {}
    return dict(judges.build_judges(specs)) if specs else {}


def run_judges(judges: dict[str, Any], prompt: str, output: str, reference: Optional[str]) -> dict[str, Evaluation]:
    out: dict[str, Evaluation] = {}
    for name, judge in judges.items():
        try:
            result = judge.evaluate(prompt, output, reference)
        except Exception:  # noqa: BLE001 - a failing judge leaves its score absent
            continue
        if result.score is not None and not result.error and not result.skipped:
            out[f"judge.{name}"] = Evaluation(float(result.score), result.label, result.explanation)
    return out
