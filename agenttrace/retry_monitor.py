"""The retry monitor: a span processor that detects retry storms and thundering herds while they happen.

On the agent's thread ``on_end`` only appends the finished span to a bounded queue (model calls are
CLIENT spans, an exhausted retry wrapper is an error: other spans are not even queued), and ``on_start``
does one dict lookup (and nothing at all while no storm is under way). A background thread turns
model-call spans into :class:`~agenttrace.retry_detect.Attempt` records and asks the
:class:`~agenttrace.retry_detect.StormDetector` what changed, every ``tick`` seconds.

On onset: one WARNING on the ``agenttrace`` logger naming provider, model, amplification and
whether jitter is missing; while the storm or herd lasts, every model span of that provider/model
that starts gets an ``agenttrace.retry_storm`` event (spans already open when it was detected are
not touched: an OTel span cannot be reached once its processor has let go of it). On recovery, one
more line. Counters: :meth:`RetryMonitor.snapshot`; episodes with their detection times:
:meth:`RetryMonitor.storms`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Mapping, Optional, Union

from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

from . import semconv as sc
from .retry_detect import HERD, STORM, Attempt, Episode, Exhausted, StormDetector, Thresholds
from .span_queue import SpanQueue

logger = logging.getLogger("agenttrace")

MODEL_OPERATIONS = frozenset({sc.OP_CHAT, sc.OP_TEXT_COMPLETION, sc.OP_EMBEDDINGS, "generate_content"})
GEN_AI_SYSTEM = "gen_ai.system"  # the provider's name before the conventions renamed it


def _attributes(span: Any) -> Any:
    """A finished span's attributes: the SDK's plain dict underneath when it has one (its mapping
    proxy answers ``get`` in Python, several times slower: this runs for every span), else the proxy."""
    plain = getattr(getattr(span, "_attributes", None), "_dict", None)
    return plain if isinstance(plain, dict) else span.attributes


def _key(attrs: Mapping) -> Optional[tuple]:
    provider = attrs.get(sc.PROVIDER) or attrs.get(GEN_AI_SYSTEM)
    return (str(provider), str(attrs.get(sc.REQUEST_MODEL) or "")) if provider else None


class RetryMonitor(SpanProcessor):
    def __init__(self, thresholds: Union[Thresholds, Mapping[str, Any], None] = None, *, tick: float = 0.25,
                 max_queue: int = 100_000, clock: Optional[Callable[[], int]] = None, start: bool = True):
        self.detector = StormDetector(thresholds)
        self.thresholds = self.detector.thresholds
        self._clock = clock or time.time_ns
        self._event_clock = clock or (lambda: None)  # events: the spans' clock (None: the SDK's own)
        self._wrappers: "OrderedDict[int, tuple]" = OrderedDict()  # retry wrapper span id -> (provider, model)
        self._marks: dict = {}  # (provider, model) -> event attributes, while a storm/herd is under way
        self._lock = threading.Lock()  # the detector: the background thread, flush() and readers
        self._queue = SpanQueue(self.process, "agenttrace-retry-monitor", tick, max_queue, start)

    @property
    def dropped(self) -> int:
        """Spans not looked at: the queue was full."""
        return self._queue.dropped

    # ------------------------------------------------------------------ the agent's thread

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if self._marks:
            try:
                key = _key(span.attributes)
                mark = self._marks.get(key) if key is not None else None
                if mark is not None:
                    span.add_event(sc.RETRY_STORM_EVENT, mark, timestamp=self._event_clock())
            except Exception:  # noqa: BLE001 - never into the agent's span start
                pass

    def on_end(self, span: Any) -> None:
        # model calls are CLIENT spans; an exhausted retry wrapper is an error: nothing else matters here
        if span.kind is not SpanKind.CLIENT and span.status.status_code is not StatusCode.ERROR:
            return
        self._queue.offer(span)

    # ------------------------------------------------------------------ the background thread

    def _record(self, span: Any) -> None:
        attrs = _attributes(span)
        if attrs is None:
            return
        if attrs.get(sc.OPERATION) not in MODEL_OPERATIONS:
            exhausted = attrs.get(sc.RETRY_EXHAUSTED)
            if exhausted is not None:
                key = self._wrappers.pop(span.context.span_id, None)
                if key is not None and exhausted is True:
                    self.detector.add(Exhausted(key[0], key[1], span.end_time or span.start_time))
            return
        key = _key(attrs)
        if key is None:
            return
        attempt = attrs.get(sc.RETRY_ATTEMPT)
        if attempt is not None and span.parent is not None:
            self._wrappers[span.parent.span_id] = key
            while len(self._wrappers) > 10_000:
                self._wrappers.popitem(last=False)
        status = attrs.get(sc.HTTP_STATUS_CODE)
        self.detector.add(Attempt(key[0], key[1], span.start_time, int(attempt or 1), span.context.trace_id,
                                  status if isinstance(status, int) else None, attrs.get(sc.ERROR_TYPE),
                                  attrs.get(sc.RETRY_WAIT_MS)))

    def process(self, now_ns: Optional[int] = None) -> list:
        """Look at the queued spans and decide; returns the onsets/recoveries (the thread calls this)."""
        with self._lock:
            spans = self._queue.spans
            while spans:
                span = spans.popleft()
                try:
                    self._record(span)
                except Exception:  # noqa: BLE001 - one odd span is skipped
                    pass
            changes = self.detector.evaluate(self._clock() if now_ns is None else now_ns)
            for change, episode in changes:
                self._report(change, episode)
            if changes:
                self._marks = self._build_marks()
        return changes

    def _build_marks(self) -> dict:
        marks: dict = {}
        for (provider, model, kind), episode in sorted(self.detector.active.items()):
            mark = marks.setdefault((provider, model), {sc.RETRY_STORM_KIND: kind})
            if mark[sc.RETRY_STORM_KIND] != kind:
                mark[sc.RETRY_STORM_KIND] = "storm+herd"
            mark[sc.RETRY_STORM_AMPLIFICATION] = round(episode.amplification, 3)
            if episode.jitter_missing is not None:
                mark[sc.RETRY_STORM_JITTER_MISSING] = episode.jitter_missing
            mark[sc.RETRY_STORM_DETECTED_AT] = episode.detected_ns
        return marks

    def _report(self, change: str, episode: Episode) -> None:
        where = f"{episode.provider} {episode.model or '(no model)'}"
        jitter = {True: "jitter missing (retry waits do not spread)", False: "retry waits are jittered",
                  None: "jitter unknown (too few retry waits)"}[episode.jitter_missing]
        stats = self.detector.stats(episode.provider, episode.model)
        if change == "onset" and episode.kind == STORM:
            logger.warning("agenttrace: retry storm on %s: amplification %.2f (%d attempts for %d calls in %gs; "
                           "429: %d, 5xx: %d, timeouts: %d, exhausted: %d); %s", where, episode.amplification,
                           episode.attempts, episode.calls, self.thresholds.window_s, stats["rate_limited"],
                           stats["server_errors"], stats["timeouts"], stats["exhausted"], jitter)
        elif change == "onset" and episode.kind == HERD:
            logger.warning("agenttrace: thundering herd on %s: retries of %d runs started within %g ms; "
                           "amplification %.2f; %s", where, episode.bunched_retries, self.thresholds.herd_window_ms,
                           episode.amplification, jitter)
        else:
            lasted = (episode.recovered_ns - episode.detected_ns) / 1e9
            logger.warning("agenttrace: retry %s on %s is over after %.1fs (amplification now %s)",
                           episode.kind, where, lasted,
                           "n/a" if stats["amplification"] is None else f"{stats['amplification']:.2f}")

    # ------------------------------------------------------------------ readers

    def storms(self, active_only: bool = False) -> list:
        """Detected storms and herds (:class:`~agenttrace.retry_detect.Episode`), oldest first."""
        with self._lock:
            return [e for e in self.detector.episodes if e.active or not active_only]

    def snapshot(self) -> dict:
        """Counters: totals since start, the current window per provider/model, storms/herds."""
        with self._lock:
            windows = {f"{p} {m}".strip(): self.detector.stats(p, m) for p, m in self.detector.keys()}
            return {
                "totals": dict(self.detector.totals),
                "windows": windows,
                "storms": sum(1 for e in self.detector.episodes if e.kind == STORM),
                "herds": sum(1 for e in self.detector.episodes if e.kind == HERD),
                "active": [f"{kind} {p} {m}".strip() for p, m, kind in self.detector.active],
                "dropped": self.dropped,
            }

    # ------------------------------------------------------------------ SpanProcessor

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.process()
        return True

    def shutdown(self) -> None:
        self._queue.stop()
        self.process()
