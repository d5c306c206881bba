"""Scores on finished spans → Phoenix annotation rows: one per score on its span, one per metric
on its trace.

A span's scores are its ``gen_ai.evaluation.result`` events (the metric engine writes one per
heavy metric and per thresholded light metric: name, score, label ``flagged``/``pass`` where a
threshold applies, and an explanation), plus the review flag (``agenttrace.review.required`` /
``agenttrace.review.reason``) as an annotation named ``review`` on every span that had a threshold
to pass. Rows are Phoenix's ``SpanAnnotationData`` / ``TraceAnnotationData``, annotator kind
``CODE``, identifier :data:`IDENTIFIER` (Phoenix upserts on name + span/trace + identifier, so a
re-score replaces the earlier annotation). LLM judges' scores (events named ``judge.<name>``, the
judge's label, and its explanation when content capture is on) are annotations of annotator kind
``LLM``; their labels are the judge's, not a threshold's, so they neither raise the review
annotation nor count as thresholded (their trace annotation is the mean).

A run's result is aggregated per trace by :class:`TraceScores`: scores are computed after their
span's run ended (the metric worker ends the span once scored), so a trace is complete when every
span started in it has ended. Then each metric gets one trace annotation: a thresholded metric its
worst score (the highest; the lowest for a metric with a floor, whose explanations say ``floor``),
labelled ``flagged`` if any step was; any other metric its mean. Memory is
bounded: at most ``max_open`` traces are tracked while open (each holds a count and one small
aggregate per metric name), and the last ``max_closed`` completed ones are kept so a span that ends
after its trace looked complete still updates the trace's annotation instead of replacing it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Optional

from agenttrace import semconv as sc

IDENTIFIER = "agenttrace"  # Phoenix's upsert key, with the annotation name and the span/trace
REVIEW = "review"  # the annotation name of the review flag
JUDGE_PREFIX = "judge."  # LLM judges' scores: annotator kind LLM
SOURCE = {"source": "agenttrace metrics"}


@dataclass(frozen=True)
class Score:
    name: str
    value: float
    label: Optional[str] = None  # "flagged" / "pass" where a threshold applies
    explanation: Optional[str] = None

    @property
    def judge(self) -> bool:
        return self.name.startswith(JUDGE_PREFIX)


def _row(key: str, target: str, name: str, score: Optional[float], label: Optional[str],
         explanation: Optional[str], metadata: dict) -> dict:
    result = {k: v for k, v in (("score", score), ("label", label), ("explanation", explanation)) if v is not None}
    kind = "LLM" if name.startswith(JUDGE_PREFIX) else "CODE"
    return {key: target, "name": name, "annotator_kind": kind, "result": result, "identifier": IDENTIFIER,
            "metadata": metadata}


def span_scores(span: Any) -> list[Score]:
    """The scores on a finished span (a ``ReadableSpan``), in event order; the review flag last."""
    scores = []
    for event in span.events or ():
        if event.name != sc.EVALUATION_EVENT:
            continue
        a = event.attributes or {}
        name, value = a.get(sc.EVALUATION_NAME), a.get(sc.EVALUATION_SCORE_VALUE)
        if not isinstance(name, str) or not isinstance(value, (int, float)) or value != value:
            continue
        scores.append(Score(name, float(value), a.get(sc.EVALUATION_SCORE_LABEL), a.get(sc.EVALUATION_EXPLANATION)))
    attrs = span.attributes or {}
    flagged = bool(attrs.get(sc.REVIEW_REQUIRED))  # also by a floor or threshold on a judge's score
    if flagged or any(s.label is not None and not s.judge for s in scores):
        scores.append(Score(REVIEW, 1.0 if flagged else 0.0, "flagged" if flagged else "pass",
                            str(attrs.get(sc.REVIEW_REASON) or "") or None))
    return scores


def span_rows(span_id: str, scores: list[Score]) -> list[dict]:
    return [_row("span_id", span_id, s.name, s.value, s.label, s.explanation, SOURCE) for s in scores]


@dataclass
class _Metric:
    steps: int = 0
    total: float = 0.0
    highest: float = float("-inf")
    lowest: float = float("inf")
    floored: bool = False  # flagged when low (a profile floor), so its worst is its lowest
    thresholded: bool = False
    flagged: int = 0
    first_reason: Optional[str] = None

    @property
    def worst(self) -> float:
        return self.lowest if self.floored else self.highest

    def add(self, score: Score) -> None:
        self.steps += 1
        self.total += score.value
        self.highest, self.lowest = max(self.highest, score.value), min(self.lowest, score.value)
        self.floored = self.floored or " floor " in (score.explanation or "")
        self.thresholded = self.thresholded or (score.label is not None and not score.judge)
        if score.label == "flagged":
            self.flagged += 1
            self.first_reason = self.first_reason or score.explanation


@dataclass
class _Trace:
    open_spans: int = 0
    metrics: dict = field(default_factory=dict)  # name → _Metric


def trace_rows(trace_id: str, metrics: dict) -> list[dict]:
    rows = []
    for name, m in metrics.items():
        steps = f"{m.steps} scored step{'s' if m.steps != 1 else ''}"
        if name == REVIEW:
            why = f": {m.first_reason}" if m.first_reason else ""
            rows.append(_row("trace_id", trace_id, name, float(m.flagged), "flagged" if m.flagged else "pass",
                             f"{m.flagged} of {steps} flagged for review{why}",
                             {**SOURCE, "aggregate": "count flagged", "steps": m.steps}))
        elif m.thresholded:
            rows.append(_row("trace_id", trace_id, name, m.worst, "flagged" if m.flagged else "pass",
                             f"worst of {steps}; {m.flagged} flagged",
                             {**SOURCE, "aggregate": "min" if m.floored else "max", "steps": m.steps,
                              "flagged_steps": m.flagged}))
        else:
            rows.append(_row("trace_id", trace_id, name, m.total / m.steps, None, f"mean of {steps}",
                             {**SOURCE, "aggregate": "mean", "steps": m.steps}))
    return rows


class TraceScores:
    """Counts the open spans of each trace and aggregates their scores; hands back the trace's
    annotation rows when its last open span ends (and again if a late span adds scores)."""

    def __init__(self, max_open: int = 10_000, max_closed: int = 1_000):
        self._open: dict[int, _Trace] = {}
        self._closed: "OrderedDict[int, _Trace]" = OrderedDict()
        self._lock = threading.Lock()
        self.max_open, self.max_closed = max_open, max_closed
        self.untracked = 0  # traces not aggregated because max_open traces were open

    @property
    def open_traces(self) -> int:
        return len(self._open)

    def start(self, trace_id: int) -> None:
        """A span of ``trace_id`` started (on the agent's thread: a dict update under a lock)."""
        with self._lock:
            trace = self._open.get(trace_id)
            if trace is None:
                trace = self._closed.pop(trace_id, None)
                if trace is None:
                    if len(self._open) >= self.max_open:
                        self.untracked += 1
                        return
                    trace = _Trace()
                self._open[trace_id] = trace
            trace.open_spans += 1

    def end(self, trace_id: int, scores: list[Score]) -> Optional[list[dict]]:
        """A span of ``trace_id`` ended with ``scores``; the trace's rows if that completed it."""
        with self._lock:
            trace = self._open.get(trace_id)
            if trace is None:
                return None
            for score in scores:
                trace.metrics.setdefault(score.name, _Metric()).add(score)
            trace.open_spans -= 1
            if trace.open_spans > 0:
                return None
            del self._open[trace_id]
            if not trace.metrics:
                return None
            self._closed[trace_id] = trace
            if len(self._closed) > self.max_closed:
                self._closed.popitem(last=False)
            return trace_rows(format(trace_id, "032x"), trace.metrics)
