"""Counting what the demo produced: a span processor that tallies spans as they end, and the summary."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from agenttrace import semconv as sc

PHASES = ("before", "after")


def _is_rate_limit(span: ReadableSpan) -> bool:
    error = str(span.attributes.get(sc.ERROR_TYPE, ""))
    return error.endswith("RateLimitError") or (span.status.description or "").startswith("429")


class Tally(SpanProcessor):
    """Counts finished spans by kind; ``phase`` says whether the alias update has happened yet."""

    def __init__(self) -> None:
        self.phase = "before"
        self.spans = self.traces = self.llm_calls = self.rate_limited = self.retries = self.exhausted = 0
        self.replies: Counter = Counter()  # phase → successful chat replies with text (not tool calls)
        self.refusals: Counter = Counter()  # phase → chat replies flagged as refusals
        self.versions: dict[str, Counter] = {p: Counter() for p in PHASES}  # phase → response model → replies
        self.exhausted_after: Counter = Counter()  # retries made → retry wrappers that failed after that many
        self._lock = threading.Lock()
        self._phase_at_start: dict[int, str] = {}  # span id → phase when the chat request was made

    def on_start(self, span, parent_context=None) -> None:
        # a reply belongs to the phase its request was made in: a span scored by the metrics worker
        # ends later, possibly after the alias update
        if (span.attributes or {}).get(sc.OPERATION) == sc.OP_CHAT:
            with self._lock:
                self._phase_at_start[span.context.span_id] = self.phase

    def on_end(self, span: ReadableSpan) -> None:
        attrs = span.attributes or {}
        with self._lock:
            self.spans += 1
            self.traces += span.parent is None
            self.retries += int(attrs.get(sc.RETRY_ATTEMPT, 0) or 0) > 1
            if attrs.get(sc.RETRY_EXHAUSTED) is True:
                self.exhausted += 1
                self.exhausted_after[int(attrs.get(sc.RETRY_COUNT, 0) or 0)] += 1
            if attrs.get(sc.OPERATION) != sc.OP_CHAT:
                return
            self.llm_calls += 1
            phase = self._phase_at_start.pop(span.context.span_id, self.phase)
            if not span.status.is_ok:
                self.rate_limited += _is_rate_limit(span)
                return
            if attrs.get(sc.RESPONSE_MODEL):
                self.versions[phase][str(attrs[sc.RESPONSE_MODEL])] += 1
            if "tool_calls" in (attrs.get(sc.RESPONSE_FINISH_REASONS) or ()):
                return  # a tool call, not a reply to the user
            self.replies[phase] += 1
            if attrs.get(sc.REVIEW_REQUIRED) and "refusal" in str(attrs.get(sc.REVIEW_REASON, "")):
                self.refusals[phase] += 1

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@dataclass
class DemoSummary:
    """What ``run_demo`` did and what the backend should now hold."""

    agents: list[str]
    runs: int
    failed: int
    seconds: float
    project: str
    destination: str  # endpoint (protocol), or "in-memory exporter"
    ui_url: Optional[str]
    metrics: str
    switched: bool
    spans: int
    dropped: int
    traces: int
    llm_calls: int
    rate_limited: int
    retries: int
    exhausted: int
    replies: dict[str, int]
    refusals: dict[str, int]
    versions: dict[str, dict[str, int]]
    errors: list[str] = field(default_factory=list)
    days: float = 0.0                               # simulated days the runs were spread over (0: real time)
    switch_days_before_end: Optional[float] = None  # when the alias update happened, in simulated days before the end
    profile_store: Optional[str] = None             # where trajectory profiles were written
    trajectories: int = 0                           # rows profiled
    page: Optional[str] = None                      # the project's Phoenix page over the whole period

    @property
    def spans_sent(self) -> int:
        return self.spans - self.dropped

    def format(self) -> str:
        lines = [
            f"agenttrace demo: {self.runs} runs of {', '.join(self.agents)} in {self.seconds:.1f} s"
            + (f" ({self.failed} failed)" if self.failed else ""),
            f"  spans        {self.spans_sent} sent to {self.destination}, {self.dropped} dropped"
            + (f" — project {self.project!r} in Phoenix: {self.ui_url}" if self.ui_url else f" — project {self.project!r}"),
            f"  traces       {self.traces}; LLM calls {self.llm_calls}, 429 errors {self.rate_limited}, "
            f"retries {self.retries}, retries exhausted {self.exhausted}",
            f"  metrics      {self.metrics}",
        ]
        if self.ui_url and self.days > 7:  # Phoenix opens on its last 7 days
            where = f"open {self.page}" if self.page else "set its time range to 'Last Month' or a custom range"
            lines.append(f"  Phoenix      opens on the last 7 days; to see all {self.days:g} simulated days {where}")
        if self.days:
            update = (f", the alias update {self.switch_days_before_end:g} days before the end"
                      if self.switch_days_before_end is not None else "")
            lines.append(f"  time         spread over {self.days:g} simulated days ending now{update}")
        if self.profile_store:
            lines.append(f"  profiles     {self.trajectories} trajectories profiled into {self.profile_store} "
                         "(run `agenttrace drift` to compare the last 7 days with the 30 before)")
        for phase in PHASES if self.switched else PHASES[:1]:
            label = {"before": "before the alias update", "after": "after the alias update"}[phase] if self.switched else "all replies"
            replies, refusals = self.replies.get(phase, 0), self.refusals.get(phase, 0)
            share = f" ({100 * refusals / replies:.1f}%)" if replies else ""
            versions = ", ".join(f"{m} ×{n}" for m, n in sorted(self.versions.get(phase, {}).items())) or "none"
            lines.append(f"  {label}: {refusals} of {replies} replies flagged as refusals{share}; models: {versions}")
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)
