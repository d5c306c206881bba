"""OTel GenAI client metrics and agenttrace counters, recorded from the spans agenttrace ends.

:class:`GenAIMetrics` is a span processor: when a model-call span ends it records
``gen_ai.client.operation.duration`` (s) and ``gen_ai.client.token.usage`` ({token}, one point per
``gen_ai.token.type``) with the conventions' attributes and advised bucket boundaries; other spans
feed the ``agenttrace.*`` counters (retries, exhausted retries, review flags); dropped spans are an
observable counter read from the export pipeline's :class:`~agenttrace.export.DropCounter` at
collection time.

Off the hot path: on the agent's thread ``on_end`` only appends the finished span to a bounded
deque (recording a histogram point with its attributes costs tens of µs in the SDK); a background
thread records every ``tick`` seconds, and :meth:`GenAIMetrics.drain` (called by flush and shutdown)
records what is queued at once. Export happens on the metric readers' own threads or at scrape time.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Iterable, Optional

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.semconv.attributes import server_attributes as _server
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as _gm
from opentelemetry.trace import StatusCode

from . import semconv as sc
from ._version import __version__
from .retry_monitor import MODEL_OPERATIONS, _attributes
from .span_queue import SpanQueue

TOKEN_USAGE = _gm.GEN_AI_CLIENT_TOKEN_USAGE
OPERATION_DURATION = _gm.GEN_AI_CLIENT_OPERATION_DURATION
# the conventions' ExplicitBucketBoundaries advice (gen-ai-metrics.md); the package carries no buckets
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
SERVER_ADDRESS = _server.SERVER_ADDRESS
SERVER_PORT = _server.SERVER_PORT
_COPIED = (sc.OPERATION, sc.PROVIDER, sc.REQUEST_MODEL, sc.RESPONSE_MODEL, SERVER_ADDRESS, SERVER_PORT)
logger = logging.getLogger("agenttrace")
_INPUT = {sc.TOKEN_TYPE: sc.TOKEN_TYPE_INPUT}
_OUTPUT = {sc.TOKEN_TYPE: sc.TOKEN_TYPE_OUTPUT}


class GenAIMetrics(SpanProcessor):
    """Records the GenAI client metrics and the agenttrace counters through ``meter_provider``."""

    def __init__(self, meter_provider: Any, drops: Any = None, *, tick: float = 0.2, max_queue: int = 100_000,
                 start: bool = True):
        meter = meter_provider.get_meter("agenttrace", __version__)
        self.token_usage = meter.create_histogram(
            TOKEN_USAGE, unit="{token}", description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS))
        self.duration = meter.create_histogram(
            OPERATION_DURATION, unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS))
        self.retries = meter.create_counter(
            sc.METRIC_RETRIES, unit="{retry}", description="Retries taken: attempts after the first of a "
            "with_retry runnable, and integration-level retries (LangChain on_retry).")
        self.exhausted = meter.create_counter(
            sc.METRIC_RETRIES_EXHAUSTED, unit="{call}",
            description="with_retry runnables that failed after their last attempt.")
        self.review_flags = meter.create_counter(
            sc.METRIC_REVIEW_FLAGS, unit="{span}", description="Steps flagged for human review by a metric profile.")
        self._drops = drops
        self.enabled = True
        self._lock = threading.Lock()
        self._queue = SpanQueue(self.drain, "agenttrace-genai-metrics", tick, max_queue, start)
        if drops is not None:
            meter.create_observable_counter(
                sc.METRIC_SPANS_DROPPED, callbacks=[self._observe_drops], unit="{span}",
                description="Spans that never reached the trace backend, by cause.")

    def _observe_drops(self, options: CallbackOptions) -> Iterable[Observation]:
        drops = self._drops
        return [Observation(drops.queue_full, {sc.DROP_REASON: "queue_full"}),
                Observation(drops.export_failed, {sc.DROP_REASON: "export_failed"}),
                Observation(drops.abandoned, {sc.DROP_REASON: "abandoned"})]

    @property
    def dropped(self) -> int:
        """Spans not recorded: the queue was full."""
        return self._queue.dropped

    def on_end(self, span: Any) -> None:
        if self.enabled:
            self._queue.offer(span)

    def drain(self) -> None:
        """Record every queued span now (the background thread, flush and shutdown call this)."""
        spans = self._queue.spans
        with self._lock:
            while spans:
                span = spans.popleft()
                try:
                    self._record(span)
                except Exception:  # noqa: BLE001 - one odd span is skipped; metrics never reach the agent
                    logger.debug("agenttrace: GenAI metrics skipped a span", exc_info=True)

    def _record(self, span: Any) -> None:
        attrs = _attributes(span) or {}
        operation = attrs.get(sc.OPERATION)
        attempt = attrs.get(sc.RETRY_ATTEMPT)
        labels: Optional[dict] = None
        if operation in MODEL_OPERATIONS:
            labels = {k: attrs[k] for k in _COPIED if k in attrs}
            if sc.PROVIDER not in labels and attrs.get("gen_ai.system"):
                labels[sc.PROVIDER] = attrs["gen_ai.system"]
            failed = span.status.status_code is StatusCode.ERROR
            if failed:
                labels[sc.ERROR_TYPE] = attrs.get(sc.ERROR_TYPE) or "_OTHER"
            if span.end_time is not None and span.start_time is not None:
                self.duration.record(max(0, span.end_time - span.start_time) / 1e9, labels)
            inputs, outputs = attrs.get(sc.USAGE_INPUT_TOKENS), attrs.get(sc.USAGE_OUTPUT_TOKENS)
            if isinstance(inputs, int):
                self.token_usage.record(inputs, {**labels, **_INPUT})
            if isinstance(outputs, int):
                self.token_usage.record(outputs, {**labels, **_OUTPUT})
            retried = sum(1 for e in span.events if e.name == sc.RETRY_EVENT) if span.events else 0
            if retried:
                self.retries.add(retried, self._short(labels))
        if isinstance(attempt, int) and attempt > 1:
            self.retries.add(1, self._short(labels) if labels is not None else {})
        if attrs.get(sc.RETRY_EXHAUSTED) is True:
            self.exhausted.add(1)
        if attrs.get(sc.REVIEW_REQUIRED) is True:
            self.review_flags.add(1, {k: attrs[k] for k in (sc.OPERATION, sc.REQUEST_MODEL) if k in attrs})

    @staticmethod
    def _short(labels: dict) -> dict:
        return {k: labels[k] for k in (sc.OPERATION, sc.PROVIDER, sc.REQUEST_MODEL) if k in labels}

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.drain()
        return True

    def shutdown(self) -> None:
        self._queue.stop()
        self.drain()
