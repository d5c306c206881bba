"""The result of a drift run: :class:`Finding` (one rule on one segment and feature) and
:class:`DriftResult` (the ranked findings, grouped into incidents, with the windows and notes)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

from .store import OVERALL

RULES = ("distribution_drift", "score_shift", "refusal_rate", "trajectory_shape", "model_version_change")
ANNOTATIONS = {"distribution_drift": "distribution_drift", "score_shift": "score_shift",
               "refusal_rate": "refusal_rate_alert", "trajectory_shape": "trajectory_drift",
               "model_version_change": "model_version_change"}
SEVERITIES = ("alert", "warning", "info")


@dataclass
class Finding:
    rule: str            # one of RULES
    severity: str        # "alert" | "warning" | "info"
    segment_key: str     # "*" for overall
    segment_value: str
    feature: str
    score: float         # for ranking (bigger = worse): the effect divided by its threshold
    message: str         # one line, with the numbers
    action: str          # what to do
    annotation: str      # Phoenix annotation name
    baseline: dict       # stats of the baseline window (n, mean, stddev, rate, top values ...)
    current: dict
    window: tuple[datetime, datetime]   # the current window
    first_seen: Optional[datetime] = None
    stats: dict = field(default_factory=dict)  # the test: name, statistic, p, p_adjusted, tests, effect, threshold

    @property
    def segment(self) -> tuple[str, str]:
        return self.segment_key, self.segment_value

    def to_dict(self) -> dict:
        """JSON-ready: datetimes as ISO 8601 strings, no NaN/inf."""
        return _jsonable(asdict(self))


@dataclass
class DriftResult:
    findings: list[Finding]   # ranked: alerts first, then by score
    baseline: tuple[datetime, datetime]
    current: tuple[datetime, datetime]
    rows_baseline: int
    rows_current: int
    notes: list[str]
    tests: dict[str, int] = field(default_factory=dict)  # statistical tests per rule (their sum is the Bonferroni factor)
    segments: int = 0                                    # segments evaluated, overall included

    @property
    def alerts(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "alert"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict:
        return _jsonable({"baseline": self.baseline, "current": self.current, "rows_baseline": self.rows_baseline,
                          "rows_current": self.rows_current, "segments": self.segments, "tests": self.tests,
                          "alerts": len(self.alerts), "findings": [f.to_dict() for f in self.findings], "notes": self.notes})


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return _jsonable(value.item())
    return value


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def span_text(r: tuple[datetime, datetime]) -> str:
    return f"[{iso(r[0])}, {iso(r[1])})"


def seg_name(seg: tuple[str, str]) -> str:
    return "all traffic" if seg == OVERALL else f"{seg[0]}={seg[1]}"
