"""Where spans go: OTLP exporter construction and a drop-counting, bounded, deadline-keeping batch
pipeline.

The agent's thread only appends finished spans to a bounded queue; a background thread exports
them. When the backend is down, slow or refusing (Phoenix answers 503 when its queue is full),
spans that do not fit are dropped, *counted*, and reported in one log line — not one line per
span, and never by slowing the agent.

Why not the SDK's ``BatchSpanProcessor``: its ``force_flush`` ignores its timeout and returns True
after every batch failed (opentelemetry-python#4568), and its ``shutdown`` discards what is still
queued without a count. Here ``flush`` waits at most its timeout and says what it could not
deliver, and every span given up on — queue full, refused, raised, or still queued or in flight
when a shutdown deadline passed — is counted in :class:`DropCounter`.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
import weakref
from typing import Optional

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .otlp_config import (  # noqa: F401 - re-exported: agenttrace.export was their home
    DEFAULT_GRPC_ENDPOINT,
    DEFAULT_HTTP_ENDPOINT,
    PROTOCOLS,
    hidden_env,
    parse_headers,
    resolve_endpoint,
    resolve_protocol,
)

from .shutdown import DEFAULT_EXIT_TIMEOUT, run_within

logger = logging.getLogger("agenttrace")

_DROP_REASONS = {
    "queue_full": "export queue full",
    "export_failed": "the OTLP backend did not accept them",
    "abandoned": "still queued or being exported when a flush/exit deadline passed",
}


def otlp_exporter(endpoint: str, protocol: str, headers: Optional[dict], timeout: float,
                  hide: tuple = ()) -> SpanExporter:
    """The OpenTelemetry OTLP exporter for ``protocol``; ``hide`` names environment variables it must
    not read (values agenttrace found unusable). If it still rejects its environment, it is built
    without any ``OTEL_EXPORTER_OTLP_*`` variable (agenttrace passed what it resolved) and that is
    logged: configuration from the environment never takes the application down."""
    def build():
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            insecure = endpoint.startswith("http://") or None
            return OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=timeout, insecure=insecure)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=timeout)

    with hidden_env(hide):
        try:
            return build()
        except Exception as err:  # noqa: BLE001 - a variable we do not check (e.g. a private SDK one)
            names = [n for n in os.environ if n.startswith(("OTEL_EXPORTER_OTLP_", "_OTEL_PYTHON_EXPORTER_OTLP_"))]
            with hidden_env(names):
                exporter = build()  # raises if the cause was not the environment
            logger.warning("agenttrace: the OTLP exporter rejected its environment (%s: %s); built it without "
                           "%s", type(err).__name__, err, ", ".join(sorted(names)))
            return exporter


class DropCounter:
    """Counts spans that never reached the backend, by reason; logs the first drop once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.queue_full = 0
        self.export_failed = 0
        self.abandoned = 0  # queued or in flight when a shutdown deadline passed
        self._logged = False

    @property
    def total(self) -> int:
        return self.queue_full + self.export_failed + self.abandoned

    def add(self, reason: str, count: int) -> None:
        """Count ``count`` spans dropped for ``reason``; a negative count corrects an earlier one
        (a batch counted as abandoned whose export then succeeded)."""
        with self._lock:
            setattr(self, reason, getattr(self, reason) + count)
            first = count > 0 and not self._logged
            self._logged = self._logged or first
        if first:
            logger.warning(
                "agenttrace: %d span(s) dropped (%s); the agent is unaffected. Further drops are counted "
                "silently (see Telemetry.dropped_spans) and summarised at shutdown.", count, _DROP_REASONS[reason])

    def summary(self) -> str:
        return (f"{self.total} span(s) were dropped in total ({self.queue_full} queue full, {self.export_failed} "
                f"refused by the backend, {self.abandoned} still pending at a flush/exit deadline)")


class BoundedBatchProcessor(SpanProcessor):
    """Batches finished spans to ``exporter`` on a background thread. Never more than
    ``max_queue_size`` spans wait; past that a span is dropped and counted. ``shutdown_timeout`` (s)
    bounds ``shutdown()`` when the caller (e.g. ``TracerProvider.shutdown``) passes none."""

    def __init__(self, exporter: SpanExporter, *, max_queue_size: int = 2048, schedule_delay_millis: float = 1000,
                 max_export_batch_size: int = 512, drops: Optional[DropCounter] = None,
                 shutdown_timeout: float = DEFAULT_EXIT_TIMEOUT):
        self.exporter = exporter
        self.drops = drops or DropCounter()
        self.max_queue_size = max(1, int(max_queue_size))
        self.batch_size = max(1, min(int(max_export_batch_size), self.max_queue_size))
        self.delay = max(0.0, float(schedule_delay_millis) / 1000)
        self.shutdown_timeout = shutdown_timeout
        self._raised_logged = False
        self._start()
        if hasattr(os, "register_at_fork"):  # a forked child (gunicorn --preload) gets its own worker
            reinit = weakref.WeakMethod(self._start)
            os.register_at_fork(after_in_child=lambda: (r := reinit()) is not None and r())

    def _start(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: collections.deque = collections.deque()
        self._accepted = 0  # spans ever queued
        self._resolved = 0  # of those: exported, failed or abandoned (queue order, so a prefix)
        self._failed = 0  # of those: not delivered
        self._flush_to = 0  # export without waiting for a full batch until _resolved reaches this
        self._inflight = 0
        self._inflight_abandoned = False
        self._stopping = self._gave_up = False
        self._thread = threading.Thread(target=self._run, name="agenttrace-export", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        return len(self._queue)

    # ------------------------------------------------------------------ agent thread

    def on_start(self, span, parent_context=None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context.trace_flags.sampled:
            return
        with self._cond:
            if self._stopping:
                reason = "abandoned"
            elif len(self._queue) >= self.max_queue_size:
                reason = "queue_full"
            else:
                self._queue.append(span)
                self._accepted += 1
                if len(self._queue) in (1, self.batch_size):
                    self._cond.notify_all()
                return
        self.drops.add(reason, 1)

    # ------------------------------------------------------------------ worker

    def _next_batch(self) -> Optional[list]:
        """Called holding the lock: wait for a full batch, the schedule delay, a flush or a shutdown."""
        due = None
        while not self._gave_up:
            n = len(self._queue)
            if not n:
                if self._stopping:
                    return None
                due = None
                self._cond.wait()
                continue
            now = time.monotonic()
            due = due or now + self.delay
            if n >= self.batch_size or self._flush_to > self._resolved or self._stopping or now >= due:
                self._inflight, self._inflight_abandoned = min(n, self.batch_size), False
                return [self._queue.popleft() for _ in range(self._inflight)]
            self._cond.wait(due - now)
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                batch = self._next_batch()
            if batch is None:
                return
            delivered = self._export(batch)
            with self._cond:
                abandoned, self._inflight = self._inflight_abandoned, 0
                if not abandoned:
                    self._resolved += len(batch)
                    self._failed += 0 if delivered else len(batch)
                self._cond.notify_all()
            if abandoned and delivered:
                self.drops.add("abandoned", -len(batch))  # counted at the deadline, delivered after all
            elif not abandoned and not delivered:
                self.drops.add("export_failed", len(batch))

    def _export(self, batch: list) -> bool:
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))  # don't trace the exporter's own HTTP
        try:
            return self.exporter.export(batch) is SpanExportResult.SUCCESS
        except Exception:  # noqa: BLE001 - a raising exporter costs the batch, never the worker
            if not self._raised_logged:
                self._raised_logged = True
                logger.warning("agenttrace: the span exporter raised; the batch is dropped and counted", exc_info=True)
            return False
        finally:
            detach(token)

    # ------------------------------------------------------------------ flush / shutdown

    def request_flush(self) -> tuple[int, int, int]:
        """Start exporting everything queued now, without waiting; pass the ticket to :meth:`wait`."""
        with self._cond:
            self._flush_to = max(self._flush_to, self._accepted)
            self._cond.notify_all()
            return self._accepted, self._resolved, self._failed

    def wait(self, ticket: tuple[int, int, int], deadline: float) -> tuple[int, int]:
        """Wait until the spans of ``ticket`` are resolved or ``deadline`` (``time.monotonic()``)
        passes. Returns ``(pending, failed)`` among them: still queued or in flight, not delivered."""
        target, resolved_before, failed_before = ticket
        with self._cond:
            while self._resolved < target and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            return max(0, target - self._resolved), min(self._failed - failed_before, target - resolved_before)

    def flush(self, timeout: float) -> tuple[int, int]:
        return self.wait(self.request_flush(), time.monotonic() + timeout)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.flush(timeout_millis / 1000) == (0, 0)

    def begin_shutdown(self) -> Optional[tuple[int, int, int]]:
        """Stop taking spans and export what is queued; None if already shut down."""
        with self._cond:
            if self._stopping:
                return None
            self._stopping = True
        return self.request_flush()

    def finish_shutdown(self, ticket: Optional[tuple[int, int, int]], deadline: float) -> None:
        """Wait for :meth:`begin_shutdown`'s exports until ``deadline``, then give up on the rest
        (counted as abandoned) and shut the exporter down (which aborts its retries)."""
        if ticket is None:
            return
        self.wait(ticket, deadline)
        with self._cond:
            lost = len(self._queue) + self._inflight
            self._queue.clear()
            self._inflight_abandoned = self._inflight > 0
            self._resolved, self._failed = self._accepted, self._failed + lost
            self._gave_up = True
            self._cond.notify_all()
        if lost:
            self.drops.add("abandoned", lost)
        run_within(deadline, self.exporter.shutdown)
        if self.drops.total:
            logger.warning("agenttrace: %s", self.drops.summary())

    def shutdown(self, timeout_millis: Optional[float] = None) -> None:
        timeout = self.shutdown_timeout if timeout_millis is None else timeout_millis / 1000
        self.finish_shutdown(self.begin_shutdown(), time.monotonic() + timeout)


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
                 "opentelemetry.exporter.otlp.proto.http._common",
                 "opentelemetry.exporter.otlp.common.http"):
        logging.getLogger(name).addFilter(_OnceFilter())
