"""Write drift findings back to Phoenix as annotations on the runs that show them.

A finding (``agenttrace_whylogs.rules.Finding``, or anything with the same attributes) concerns
the runs whose root span ended in the finding's current window, whose segment value matches
(every run for the overall segment ``"*"``), that ran from its ``first_seen`` time on (when it has
one) and that show it: its ``selector`` is tested on each run's features (segment values and
features are computed from the spans read back from Phoenix exactly as the profiles computed
them, ``agenttrace.trajectory``):

- refusal rate → the runs with a flagged reply (``refusal_flagged >= 1``);
- model version change → the runs answered by the new version (``model_version`` contains it);
- score shift, distribution drift of a number → the runs in the tail that moved (beyond the point
  where the two distributions differ most, e.g. ``refusal_similarity > 0.37``);
- trajectory shape, categorical drift → the runs whose value is new or grew (``tool_sequence in
  [...]``); a step-count change → the runs in the tail that moved;
- a 0/1 rate that rose → the runs with the flag. A finding without a selector (a rate that fell)
  shows on no single run and is not annotated.

Each such run gets, per annotation name (``refusal_rate_alert``, ``model_version_change``,
``score_shift``, ``trajectory_drift``, ``distribution_drift``), one annotation on its root span and
the same on its trace:

- label: the worst severity of the findings of that name the run shows (``alert`` / ``warning`` /
  ``info``);
- score: the run's own value of what the worst finding measures (its refusal similarity for a
  refusal finding, e.g. 0.72; its output tokens for a reply-length finding; none for a model
  version or a tool sequence, which are not numbers);
- explanation: the finding in one sentence — segment, what changed, this run's value, what to do
  (``+N more`` when several findings of the name concern the run);
- metadata: the findings (rule, segment, feature, severity, incident id), the window, the run's values.

Running drift again replaces the annotations (one per name, span or trace). Filter in Phoenix::

    annotations['refusal_rate_alert'].label == 'alert'
    annotations['score_shift'].score > 0.5
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
MAX_LISTED = 50        # findings listed in an annotation's metadata
SEVERITY_RANK = {"alert": 0, "warning": 1, "info": 2}


def finding_key(finding: Any) -> str:
    """A finding's short name: ``<rule>:<segment key>=<value>:<feature>``."""
    return f"{finding.rule}:{finding.segment_key}={finding.segment_value}:{finding.feature}"


def shows(selector: Optional[dict], run: Trajectory) -> bool:
    """Whether ``run``'s features match a finding's selector (see the module docstring)."""
    if not selector:
        return False
    value, op, wanted = run.features.get(selector["feature"]), selector["op"], selector["value"]
    if value is None:
        return False
    if op == "in":
        return str(value) in {str(w) for w in wanted}
    if op == "contains":
        return str(wanted) in [part.strip() for part in str(value).split(";")]
    try:
        number, limit = float(value), float(wanted)
    except (TypeError, ValueError):
        return False
    return {">": number > limit, ">=": number >= limit, "<": number < limit, "<=": number <= limit}.get(op, False)


def affected(finding: Any, runs: Iterable[Trajectory]) -> list[Trajectory]:
    """The runs (already limited to the finding's window) that show ``finding``: of its segment
    value (all for ``"*"``), from its ``first_seen`` on, matching its ``selector``."""
    key, value = finding.segment_key, finding.segment_value
    since = getattr(finding, "first_seen", None)
    since_ts = utc(since).timestamp() if isinstance(since, datetime) else None
    selector = getattr(finding, "selector", None)
    return [t for t in runs
            if (key == OVERALL or t.segments.get(key) == str(value))
            and (since_ts is None or t.end_time >= since_ts)
            and shows(selector, t)]


def run_value(finding: Any, run: Trajectory) -> Optional[float]:
    """The run's own number for the finding (its selector's ``score`` feature), None if it has none."""
    feature = (getattr(finding, "selector", None) or {}).get("score")
    value = run.features.get(feature) if feature else None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN is not a score


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 or value.is_integer() else f"{value:.2f}"
    return f"'{value}'" if isinstance(value, str) else str(value)


def sentence(finding: Any, run: Trajectory) -> str:
    """The finding on this run, in one sentence."""
    where = "all runs" if finding.segment_key == OVERALL else f"{finding.segment_key}={finding.segment_value}"
    selector = getattr(finding, "selector", None) or {}
    feature = selector.get("feature")
    if selector.get("op") == "contains":
        mine = f"this run was answered by {run.features.get('response_model') or selector.get('value')}"
    else:
        mine = f"this run has {feature} {_shown(run.features.get(feature))}"
        score = selector.get("score")
        if score and score != feature and run_value(finding, run) is not None:
            mine += f" ({score} {_shown(run_value(finding, run))})"
    return f"{where}: {finding.message}; {mine}" + (f" — {finding.action}" if finding.action else "")


def annotation_row(run: Trajectory, name: str, findings: Sequence[Any], incident_of: Optional[dict] = None) -> dict:
    """The annotation of one run for its findings of one annotation name, keyed by its root span
    (``span_id``) and trace (``trace_id``)."""
    ordered = sorted(findings, key=lambda f: (SEVERITY_RANK.get(f.severity, 3), -(f.score or 0.0)))
    worst = ordered[0]
    score = next((v for v in (run_value(f, run) for f in ordered) if v is not None), None)
    explanation = sentence(worst, run) + (f" (+{len(ordered) - 1} more: see the drift report)" if len(ordered) > 1 else "")
    start, end = worst.window
    features = {(f.selector or {}).get(k) for f in ordered for k in ("feature", "score") if getattr(f, "selector", None)}
    metadata = {"source": "agenttrace drift", "window_start": utc(start).isoformat(), "window_end": utc(end).isoformat(),
                "findings": [{"finding": finding_key(f), "severity": f.severity,
                              **({"incident": incident_of[id(f)]} if incident_of and id(f) in incident_of else {})}
                             for f in ordered[:MAX_LISTED]],
                "run": {k: run.features.get(k) for k in sorted(k for k in features if k)}}
    return {"span_id": run.span_id, "trace_id": run.trace_id, "name": name, "label": worst.severity, "score": score,
            "explanation": explanation, "annotator_kind": "CODE", "metadata": metadata}


def annotate_findings(phoenix_store: Any, project: str, findings: Iterable[Any], *,
                      segment_keys: Sequence[str] = DEFAULT_SEGMENT_KEYS, lookback: timedelta = DEFAULT_LOOKBACK,
                      on_span: Optional[Callable[[dict], None]] = None, incidents: Sequence[Any] = ()) -> int:
    """Annotate the runs that show the findings (one span and one trace annotation per run and
    annotation name); returns how many runs × names were annotated. ``phoenix_store`` is an
    :class:`agenttrace_phoenix.PhoenixStore`; the runs are read back from ``project`` once per
    distinct finding window, with ``segment_keys`` plus every key the findings use. ``incidents``
    (``agenttrace_whylogs.incidents.Incident``) put each finding's incident id in the metadata.
    Annotations are written 500 per request. Raises :class:`~agenttrace_phoenix.PhoenixError` when
    Phoenix cannot be read or written."""
    incident_of = {id(f): i.id for i in incidents for f in i.findings}
    by_window: dict[tuple[datetime, datetime], list[Any]] = defaultdict(list)
    for finding in findings:
        if getattr(finding, "selector", None):
            by_window[(utc(finding.window[0]), utc(finding.window[1]))].append(finding)
    keys = list(dict.fromkeys([*segment_keys, *(f.segment_key for fs in by_window.values() for f in fs
                                                if f.segment_key != OVERALL)]))
    per_run: dict[tuple[str, str], list[Any]] = defaultdict(list)  # (span id, annotation name) → findings
    run_of: dict[str, Trajectory] = {}
    for (start, end), window_findings in by_window.items():
        runs = list(iter_trajectories(phoenix_store, project, start=start, end=end, segment_keys=keys,
                                      lookback=lookback, on_span=on_span))
        for finding in window_findings:
            for run in affected(finding, runs):
                run_of[run.span_id] = run
                per_run[(run.span_id, finding.annotation)].append(finding)
    rows = [annotation_row(run_of[span_id], name, found, incident_of) for (span_id, name), found in per_run.items()]
    return write_rows(phoenix_store, rows)


def write_rows(phoenix_store: Any, rows: Sequence[dict]) -> int:
    """Write annotation rows (each with ``span_id`` and ``trace_id``) on their root spans and their
    traces, 500 per request; returns how many rows. Also used for ``agenttrace retries`` clusters."""
    for i in range(0, len(rows), CHUNK):
        chunk = rows[i:i + CHUNK]
        phoenix_store.annotate_spans([{k: v for k, v in r.items() if k != "trace_id"} for r in chunk])
        phoenix_store.annotate_traces([{k: v for k, v in r.items() if k != "span_id"} for r in chunk])
    return len(rows)
