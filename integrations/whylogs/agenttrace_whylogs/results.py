"""The result of a drift run: :class:`Finding` (one rule on one segment and feature) and
:class:`DriftResult` (the ranked findings, grouped into incidents, with the windows and notes)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

from .store import OVERALL

RULES = ("distribution_drift", "score_shift", "refusal_rate", "trajectory_shape", "model_version_change", "retries")
ANNOTATIONS = {"distribution_drift": "distribution_drift", "score_shift": "score_shift",
               "refusal_rate": "refusal_rate_alert", "trajectory_shape": "trajectory_drift",
               "model_version_change": "model_version_change", "retries": "retry_cascade"}
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
    # which runs show it, tested on a run's features: {"feature", "op" (">", "<", ">=", "in", "contains"), "value",
    # "score" (the feature whose value is the run's annotation score)}; None: no single run shows it (a rate that fell)
    selector: Optional[dict] = None

    @property
    def segment(self) -> tuple[str, str]:
        return self.segment_key, self.segment_value

    def to_dict(self) -> dict:
        """JSON-ready: datetimes as ISO 8601 strings, no NaN/inf."""
        return jsonable(asdict(self))


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
    incidents: list = field(default_factory=list)        # incidents.Incident: the findings grouped by probable cause, ranked
    segment_rows: dict[str, list[int]] = field(default_factory=dict)  # "key=value" ("*" overall) → [baseline, current] runs
    skipped: list[str] = field(default_factory=list)     # segments not compared (fewer than min_rows runs on a side)
    below_effect: list[dict] = field(default_factory=list)  # significant changes below the effect-size thresholds

    @property
    def alerts(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "alert"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict:
        """JSON-ready, the incidents first."""
        return jsonable({"incidents": [i.to_dict() for i in self.incidents], "baseline": self.baseline,
                         "current": self.current, "rows_baseline": self.rows_baseline, "rows_current": self.rows_current,
                         "segments": self.segments, "tests": self.tests, "alerts": len(self.alerts),
                         "findings": [f.to_dict() for f in self.findings], "notes": self.notes,
                         "skipped": [{"segment": s, "rows": self.segment_rows.get(s)} for s in self.skipped],
                         "below_effect": self.below_effect})


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return jsonable(value.item())
    return value


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def span_text(r: tuple[datetime, datetime]) -> str:
    return f"[{iso(r[0])}, {iso(r[1])})"


def seg_name(seg: tuple[str, str]) -> str:
    return "all traffic" if seg == OVERALL else f"{seg[0]}={seg[1]}"


def seg_id(seg: tuple[str, str]) -> str:
    """``key=value``, ``*`` for all runs: the keys of :attr:`DriftResult.segment_rows`."""
    return "*" if seg == OVERALL else f"{seg[0]}={seg[1]}"
