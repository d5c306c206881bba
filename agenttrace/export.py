"""Where spans go: OTLP exporter selection and a drop-counting, bounded batch pipeline.

The agent's thread only appends finished spans to a bounded queue; a background thread exports
them. When the backend is down, slow or refusing (Phoenix answers 503 when its queue is full),
spans that do not fit are dropped, *counted*, and reported in one log line — not one line per
span, and never by slowing the agent.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Optional, Sequence

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

logger = logging.getLogger("agenttrace")

DEFAULT_HTTP_ENDPOINT = "http://localhost:6006/v1/traces"  # a local Arize Phoenix
DEFAULT_GRPC_ENDPOINT = "http://localhost:4317"
PROTOCOLS = ("http/protobuf", "grpc")


def _env(*names: str) -> Optional[str]:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value.strip()
    return None


def resolve_protocol(protocol: Optional[str]) -> str:
    protocol = (protocol or _env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").lower()
    if protocol == "http":
        protocol = "http/protobuf"
    if protocol not in PROTOCOLS:
        raise ValueError(f"agenttrace: unsupported OTLP protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    return protocol


def resolve_endpoint(endpoint: Optional[str], protocol: str) -> str:
    """Explicit argument, then ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as is), then
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (+ ``/v1/traces`` for HTTP), then ``PHOENIX_COLLECTOR_ENDPOINT``,
    then a local Phoenix."""
    if endpoint:
        return endpoint
    traces = _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    base = _env("OTEL_EXPORTER_OTLP_ENDPOINT", "PHOENIX_COLLECTOR_ENDPOINT")
    if base:
        return base if protocol == "grpc" else base.rstrip("/") + "/v1/traces"
    return DEFAULT_GRPC_ENDPOINT if protocol == "grpc" else DEFAULT_HTTP_ENDPOINT


def parse_headers(headers) -> Optional[dict]:
    if headers is None or isinstance(headers, dict):
        return headers
    out = {}
    for item in str(headers).split(","):
        if "=" in item:
            key, value = item.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def otlp_exporter(endpoint: str, protocol: str, headers: Optional[dict], timeout: Optional[float]) -> SpanExporter:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        insecure = endpoint.startswith("http://") or None
        return OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=timeout, insecure=insecure)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=timeout)


class DropCounter:
    """Counts spans that never reached the backend; logs the first drop once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.queue_full = 0
        self.export_failed = 0
        self._logged = False

    @property
    def total(self) -> int:
        return self.queue_full + self.export_failed

    def add(self, reason: str, count: int) -> None:
        with self._lock:
            setattr(self, reason, getattr(self, reason) + count)
            first = not self._logged
            self._logged = True
        if first:
            logger.warning(
                "agenttrace: %d span(s) dropped (%s); the agent is unaffected. Further drops are counted "
                "silently (see Telemetry.dropped_spans) and summarised at shutdown.",
                count,
                "export queue full" if reason == "queue_full" else "the OTLP backend did not accept them",
            )


class _CountingExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, pending: "_Pending", drops: DropCounter):
        self.inner, self._pending, self._drops = inner, pending, drops

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._pending.release(len(spans))
        try:
            result = self.inner.export(spans)
        except Exception:  # noqa: BLE001
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self._drops.add("export_failed", len(spans))
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class _Pending:
    def __init__(self, limit: int):
        self.limit, self.count, self._lock = limit, 0, threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self.count >= self.limit:
                return False
            self.count += 1
            return True

    def release(self, n: int) -> None:
        with self._lock:
            self.count = max(0, self.count - n)


class BoundedBatchProcessor(SpanProcessor):
    """The SDK's BatchSpanProcessor behind a counter: never more than ``max_queue_size`` spans wait;
    past that a span is dropped and counted (the SDK alone logs a warning per dropped span)."""

    def __init__(self, exporter: SpanExporter, *, max_queue_size: int = 2048, schedule_delay_millis: float = 1000,
                 max_export_batch_size: int = 512, drops: Optional[DropCounter] = None):
        self.drops = drops or DropCounter()
        self._pending = _Pending(max_queue_size)
        self.exporter = _CountingExporter(exporter, self._pending, self.drops)
        self._batch = BatchSpanProcessor(
            self.exporter,
            max_queue_size=max_queue_size,
            schedule_delay_millis=schedule_delay_millis,
            max_export_batch_size=min(max_export_batch_size, max_queue_size),
        )

    @property
    def queued(self) -> int:
        return self._pending.count

    def on_start(self, span, parent_context=None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context.trace_flags.sampled:
            return
        if self._pending.acquire():
            self._batch.on_end(span)
        else:
            self.drops.add("queue_full", 1)

    def shutdown(self) -> None:
        self._batch.shutdown()
        if self.drops.total:
            logger.warning("agenttrace: %d span(s) were dropped in total (%d queue full, %d refused by the backend)",
                           self.drops.total, self.drops.queue_full, self.drops.export_failed)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._batch.force_flush(timeout_millis)


class _OnceFilter(logging.Filter):
    """Lets each distinct message template of a noisy logger through once."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg)[:80])
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


_quieted = False


def quiet_exporter_logs() -> None:
    """OTLP exporters log every failed batch and every retry; with a dead backend that floods the
    application's log. Keep the first line of each kind (our DropCounter reports the totals)."""
    global _quieted
    if _quieted:
        return
    _quieted = True
    for name in ("opentelemetry.exporter.otlp.proto.http.trace_exporter",
                 "opentelemetry.exporter.otlp.proto.grpc.exporter",
                 "opentelemetry.exporter.otlp.proto.http._common"):
        logging.getLogger(name).addFilter(_OnceFilter())
