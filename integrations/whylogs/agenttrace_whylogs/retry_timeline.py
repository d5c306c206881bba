"""Retry amplification and exhausted-retry rate over time: per window of the profile store (from
the sketches' sums) or per time bucket of runs read from spans."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional, Sequence

from agenttrace.trajectory import Trajectory

from .rule_retries import amplification
from .stats import distribution_of, numeric_stats


@dataclass
class Point:
    start: datetime
    runs: int
    retries: float
    attempts: Optional[float]
    exhausted: int

    @property
    def amplification(self) -> float:
        return amplification(self.retries, self.attempts, self.runs)

    @property
    def exhausted_rate(self) -> float:
        return self.exhausted / self.runs if self.runs else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "amplification": self.amplification, "exhausted_rate": self.exhausted_rate}


def _sum(cols: dict, name: str) -> Optional[float]:
    if distribution_of(cols.get(name)) is None:
        return None
    s = numeric_stats(cols[name])
    return s["mean"] * s["n"]


def from_store(store, start: datetime, end: datetime, segment: Optional[tuple[str, str]] = None) -> list[Point]:
    """One point per store window in [start, end) that has runs with ``retry_count``."""
    out = []
    for wstart, view in store.read_windows(start, end, segment):
        cols = view.get_columns()
        if distribution_of(cols.get("retry_count")) is None:
            continue
        runs = int(numeric_stats(cols["retry_count"])["n"])
        out.append(Point(wstart, runs, _sum(cols, "retry_count") or 0.0, _sum(cols, "llm_calls"),
                         int(round(_sum(cols, "retry_exhausted") or 0.0))))
    return out


def from_runs(runs: Sequence[Trajectory], bucket: timedelta) -> list[Point]:
    """One point per ``bucket`` of run end times that has runs."""
    width = bucket.total_seconds()
    points: dict[float, Point] = {}
    for r in runs:
        key = r.end_time // width * width
        p = points.setdefault(key, Point(datetime.fromtimestamp(key, timezone.utc), 0, 0.0, 0.0, 0))
        p.runs += 1
        p.retries += float(r.features.get("retry_count") or 0)
        p.attempts = (p.attempts or 0.0) + float(r.features.get("llm_calls") or 0)
        p.exhausted += int(bool(r.features.get("retry_exhausted")))
    return [points[k] for k in sorted(points)]
