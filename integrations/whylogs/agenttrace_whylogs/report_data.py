"""What the HTML drift report draws, read from the profile store and the drift result.

Per-day reads of the store (cached), the features that were compared and found stable, the
thresholds the plots mark (from the drift config and the metric profiles), and the model version
changes whose first-seen time the time plots mark. Nothing here draws or writes HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

OVERALL = "*"
HEATMAP_KEYS = ("segment", "agent")       # the first of these the store has is the heatmap's category
IGNORED = ("timestamp",)
# columns the model version rule covers (its findings name "model_version")
MODEL_COLUMNS = ("response_model", "fingerprint", "model_version")


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# --- one profile view -------------------------------------------------------------------------


def column(view: Any, feature: str) -> Any:
    if view is None:
        return None
    try:
        return view.get_column(feature)
    except Exception:  # noqa: BLE001 - a column the view does not have
        return None


def distribution(view: Any, feature: str) -> Any:
    """The whylogs distribution metric of a numeric feature, None when it has no values."""
    col = column(view, feature)
    metric = col.get_metric("distribution") if col is not None else None
    return metric if metric is not None and metric.n > 0 else None


def mean_of(view: Any, feature: str) -> Optional[float]:
    """The mean of a numeric feature in a profile view, None when it has no values."""
    metric = distribution(view, feature)
    return float(metric.mean.value) if metric is not None else None


def count_of(view: Any, feature: str) -> int:
    """How many runs have a value of a numeric feature in a profile view."""
    metric = distribution(view, feature)
    return int(metric.n) if metric is not None else 0


def frequent_shares(view: Any, feature: str) -> dict[str, float]:
    """Estimated share of each frequent value of a categorical feature (``""`` shown as ``(none)``)."""
    col = column(view, feature)
    if col is None:
        return {}
    items = col.get_metric("frequent_items")
    counts = col.get_metric("counts")
    if items is None or counts is None:
        return {}
    n = counts.n.value - counts.null.value
    if n <= 0:
        return {}
    out: dict[str, float] = {}
    for item in items.to_summary_dict().get("frequent_strings", []):
        out[item.value if item.value != "" else "(none)"] = item.est / n
    return out


# --- per-day reads ----------------------------------------------------------------------------


class DayReader:
    """Per-day (UTC) reads of the store, cached: ``mean(day, segment, feature)``, ``count(...)``."""

    def __init__(self, store: Any, tick: Callable[[], None] = lambda: None):
        self.store, self.tick = store, tick
        self._views: dict[tuple, Any] = {}

    def view(self, day: datetime, segment: Optional[tuple[str, str]]) -> Any:
        key = (day, segment)
        if key not in self._views:
            self._views[key] = self.store.read(day, day + timedelta(days=1), segment=segment)
            self.tick()
        return self._views[key]

    def mean(self, day: datetime, segment: Optional[tuple[str, str]], feature: str) -> Optional[float]:
        return mean_of(self.view(day, segment), feature)

    def count(self, day: datetime, segment: Optional[tuple[str, str]], feature: str) -> int:
        return count_of(self.view(day, segment), feature)


def report_days(result: Any, max_days: int = 120) -> list[datetime]:
    """UTC days from the baseline's start to the current window's end (the last ``max_days``)."""
    first = utc(min(result.baseline[0], result.current[0])).replace(hour=0, minute=0, second=0, microsecond=0)
    last = utc(max(result.baseline[1], result.current[1]))
    days = []
    day = first
    while day < last:
        days.append(day)
        day += timedelta(days=1)
    return days[-max_days:]


def heatmap_key(store: Any, key: Optional[str] = None, findings: Sequence[Any] = ()) -> Optional[str]:
    """The segment key of the heatmap's rows: ``key`` if given, else the key of the first refusal
    finding that has one, else ``segment``, else ``agent``, else any key the store has."""
    segments = store.segments()
    if key is not None:
        return key if key in segments else None
    for f in findings:
        if f.feature == "refusal_flagged" and f.segment_key in segments:
            return f.segment_key
    return next((k for k in HEATMAP_KEYS if segments.get(k)), next(iter(segments), None))


# --- what was compared and found stable -------------------------------------------------------


@dataclass
class StableFeature:
    name: str
    baseline: str   # a short summary of the overall baseline window ("mean 1,234", "'a>b' 40%": the top value)
    current: str


def _summary(view: Any, feature: str) -> str:
    dist = distribution(view, feature)
    if dist is not None:
        mean = float(dist.mean.value)
        return f"mean {mean:,.0f}" if abs(mean) >= 100 else f"mean {mean:.3g}"
    shares = frequent_shares(view, feature)
    if shares:
        value, share = max(shares.items(), key=lambda kv: kv[1])
        return f"'{value}' {share:.0%}"
    return "no values"


def stable_features(result: Any, baseline: Any, current: Any, features: Optional[Sequence[str]] = None
                    ) -> list[StableFeature]:
    """Features both overall windows have (the ones the rules compared, ``features`` if the
    config limited them) without a finding in any segment, with their overall summaries."""
    if baseline is None or current is None:
        return []
    flagged = {f.feature for f in result.findings if f.feature}
    names = [n for n in current.get_columns() if n in baseline.get_columns() and n not in IGNORED]
    out = []
    for name in sorted(names):
        if features is not None and name not in features:
            continue
        if name in flagged or (name in MODEL_COLUMNS and "model_version" in flagged):
            continue
        out.append(StableFeature(name, _summary(baseline, name), _summary(current, name)))
    return out


# --- thresholds and marks ---------------------------------------------------------------------


@dataclass
class Thresholds:
    """The lines the plots draw: the drift config's refusal-rate threshold and the metric
    profiles' score thresholds and floors (a score above a threshold, or below a floor, is flagged
    for review)."""

    refusal_rate: Optional[float] = None                            # DriftConfig.refusal_abs
    scores: dict[str, list[float]] = field(default_factory=dict)   # metric → thresholds of the profiles


ProfilesSource = Union[str, Path, Mapping[str, Any], Any]


def score_thresholds(source: Optional[ProfilesSource]) -> dict[str, list[float]]:
    """``metric → sorted distinct thresholds and floors`` of a metric profile set: a ProfileSet, a profile
    file path, the dict form, or already a ``{metric: threshold}`` mapping; None → ``{}``."""
    if source is None:
        return {}
    if isinstance(source, Mapping) and source and all(isinstance(v, (int, float)) for v in source.values()):
        return {str(k): [float(v)] for k, v in source.items()}
    from agenttrace.metrics.profiles import load

    profiles = load(source)
    out: dict[str, set[float]] = {}
    for profile in profiles.profiles.values():
        for metric, value in [*profile.thresholds.items(), *profile.floors.items()]:  # flagged above / below
            out.setdefault(metric, set()).add(float(value))
    return {k: sorted(v) for k, v in out.items()}


def thresholds_of(config: Any, profiles: Optional[ProfilesSource]) -> Thresholds:
    """The thresholds of ``config`` (a DriftConfig; None: the defaults ``detect`` uses) and ``profiles``."""
    if config is None:
        from .rules import DriftConfig

        config = DriftConfig()
    return Thresholds(float(config.refusal_abs), score_thresholds(profiles))


@dataclass
class ModelChange:
    """A model version change the time plots mark: when its new version first answered."""

    at: datetime
    label: str      # "gpt-4o-mini → gpt-4o-mini-2026-11-05"


def model_changes(result: Any) -> list[ModelChange]:
    """The alert-level model version changes with a first-seen time, earliest first."""
    out = []
    for f in result.findings:
        if f.rule == "model_version_change" and f.severity == "alert" and f.first_seen is not None:
            current = f.current or {}
            label = f"{current.get('request_model', '?')} → {current.get('response_model', '?')}"
            out.append(ModelChange(utc(f.first_seen), label))
    return sorted(out, key=lambda c: c.at)
