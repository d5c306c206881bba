"""Write drift findings back to Phoenix as span annotations on the affected runs' root spans.

A finding (``agenttrace_whylogs.rules.Finding``, or anything with the same attributes) concerns
the runs whose root span ended in the finding's current window and whose segment value matches
(every run for the overall segment ``"*"``; for a model-version change only the runs that
version answered, from its ``first_seen`` time on). Segment values are computed from the spans
read back from Phoenix exactly as the profiles computed them (``agenttrace.trajectory``).

Each affected root span gets one annotation per annotation name (``trajectory_drift``,
``refusal_rate_alert``, ``distribution_drift``, ``score_shift``, ``model_version_change``):

- label: the worst severity of the findings of that name on the run (``alert`` / ``warning`` /
  ``info``), score: the highest score among those, explanation: message and action of each
  (the worst first), metadata: the findings (rule, segment, feature, severity, score) and window.

Several findings of one name on a run (a drifted agent often moves its tool sequence, route
path and step count at once) are merged rather than written side by side: Phoenix shows every
annotation on the span and draws one score time series per name, and dozens of near-duplicates
per run help neither. Running drift again replaces the annotation. Filter in Phoenix with::

    annotations['trajectory_drift'].label == 'alert'
    annotations['refusal_rate_alert'].score > 2
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Optional, Sequence

from agenttrace.trajectory import DEFAULT_SEGMENT_KEYS, Trajectory

from .store import utc
from .trajectories import DEFAULT_LOOKBACK, iter_trajectories

OVERALL = "*"
CHUNK = 500            # annotations per write request
MAX_EXPLAINED = 8      # findings spelled out in one annotation's explanation
MAX_LISTED = 50        # findings listed in its metadata
SEVERITY_RANK = {"alert": 0, "warning": 1, "info": 2}


def finding_key(finding: Any) -> str:
    """A finding's short name: ``<rule>:<segment key>=<value>:<feature>``."""
    return f"{finding.rule}:{finding.segment_key}={finding.segment_value}:{finding.feature}"


def affected(finding: Any, runs: Iterable[Trajectory]) -> list[Trajectory]:
    """The runs (already limited to the finding's window) that ``finding`` is about: those of its
    segment value (all for ``"*"``); for a finding with ``first_seen`` (a new model version) only
    the runs from then on, and only those that version answered when the finding names it
    (``current["value"]``, a ``request → response (fingerprint)`` pair)."""
    key, value = finding.segment_key, finding.segment_value
    since = getattr(finding, "first_seen", None)
    since_ts = utc(since).timestamp() if isinstance(since, datetime) else None
    version = (finding.current or {}).get("value") if finding.feature == "model_version" else None
    return [t for t in runs
            if (key == OVERALL or t.segments.get(key) == str(value))
            and (since_ts is None or t.end_time >= since_ts)
            and (not version or version in str(t.features.get("model_version") or "").split(";"))]


def _score(finding: Any) -> Optional[float]:
    score = finding.score
    return float(score) if score is not None and score == score else None  # NaN is not a score


def annotation_row(span_id: str, name: str, findings: Sequence[Any]) -> dict:
    """The ``PhoenixStore.annotate_spans`` row of one run's findings of one annotation name."""
    ordered = sorted(findings, key=lambda f: (SEVERITY_RANK.get(f.severity, 3), -(_score(f) or 0.0)))
    worst = ordered[0]
    scores = [s for s in (_score(f) for f in ordered if f.severity == worst.severity) if s is not None]
    lines = [" — ".join(part for part in (f.message, f.action) if part) for f in ordered[:MAX_EXPLAINED]]
    if len(ordered) > MAX_EXPLAINED:
        lines.append(f"(+{len(ordered) - MAX_EXPLAINED} more: see the drift report)")
    start, end = worst.window
    metadata = {"source": "agenttrace drift", "window_start": utc(start).isoformat(), "window_end": utc(end).isoformat(),
                "findings": [{"finding": finding_key(f), "severity": f.severity, "score": _score(f)}
                             for f in ordered[:MAX_LISTED]]}
    return {"span_id": span_id, "name": name, "label": worst.severity, "score": max(scores) if scores else None,
            "explanation": "\n".join(lines) or None, "annotator_kind": "CODE", "metadata": metadata}


def annotate_findings(phoenix_store: Any, project: str, findings: Iterable[Any], *,
                      segment_keys: Sequence[str] = DEFAULT_SEGMENT_KEYS, lookback: timedelta = DEFAULT_LOOKBACK,
                      on_span: Optional[Callable[[dict], None]] = None) -> int:
    """Annotate the root spans of the runs the findings concern (one annotation per run and
    annotation name); returns how many annotations were written. ``phoenix_store`` is an
    :class:`agenttrace_phoenix.PhoenixStore`; the runs are read back from ``project`` once per
    distinct finding window, with ``segment_keys`` plus every key the findings use. Annotations
    are written 500 per request. Raises :class:`~agenttrace_phoenix.PhoenixError` when Phoenix
    cannot be read or written."""
    by_window: dict[tuple[datetime, datetime], list[Any]] = defaultdict(list)
    for finding in findings:
        by_window[(utc(finding.window[0]), utc(finding.window[1]))].append(finding)
    keys = list(dict.fromkeys([*segment_keys, *(f.segment_key for fs in by_window.values() for f in fs
                                                if f.segment_key != OVERALL)]))
    per_span: dict[tuple[str, str], list[Any]] = defaultdict(list)  # (span id, annotation name) → findings
    for (start, end), window_findings in by_window.items():
        runs = list(iter_trajectories(phoenix_store, project, start=start, end=end, segment_keys=keys,
                                      lookback=lookback, on_span=on_span))
        for finding in window_findings:
            for run in affected(finding, runs):
                per_span[(run.span_id, finding.annotation)].append(finding)
    rows = [annotation_row(span_id, name, found) for (span_id, name), found in per_span.items()]
    written = 0
    for i in range(0, len(rows), CHUNK):
        written += len(phoenix_store.annotate_spans(rows[i:i + CHUNK]))
    return written
