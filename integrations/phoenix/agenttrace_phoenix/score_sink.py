"""Metric scores as Phoenix annotations: the ``agenttrace.score_sinks`` plug-in of this integration.

``configure()`` finds :func:`create` through the entry point and adds the :class:`ScoreAnnotations`
span processor it returns to the tracer provider. As each span ends the processor reads its scores
(:mod:`.score_rows`) and queues one span annotation per score; when a trace's last open span ends it
queues the trace's annotations. An :class:`~.annotation_writer.AnnotationWriter` thread sends them.

When it is on (``configure(annotate_scores=...)``):

- ``None`` (the default): when metric profiles are configured and the OTLP target may be a
  Phoenix — an OTLP/HTTP endpoint ``<base>/v1/traces`` (the default ``http://localhost:6006/v1/traces``
  among them), or for gRPC the http(s) URL in ``PHOENIX_COLLECTOR_ENDPOINT`` (a gRPC port says
  nothing about where Phoenix's REST API is, and guessing could write to another Phoenix). The
  writer thread then asks ``<base>/arize_phoenix_version`` before writing anything and turns itself
  off (one log line) if the answer is not Phoenix's.
- ``True``: always, to the base URL derived as above (no probe); an error if none can be derived.
- a URL string: always, to that Phoenix (e.g. its UI/REST URL when spans go through a collector).
- ``False``: never.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Optional
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.sdk.trace import SpanProcessor

from .annotation_writer import SPAN, TRACE, AnnotationWriter
from .score_rows import TraceScores, span_rows, span_scores

logger = logging.getLogger("agenttrace")

SHUTDOWN_TIMEOUT = 3.0  # seconds a provider's own shutdown() gives the writer


class ScoreAnnotations(SpanProcessor):
    """Reads the scores off ending spans and queues them as Phoenix span and trace annotations."""

    def __init__(self, writer: AnnotationWriter, traces: Optional[TraceScores] = None):
        self.writer = writer
        self.traces = traces or TraceScores()
        self.internal_errors = 0

    @property
    def dropped(self) -> int:
        return self.writer.drops.total

    @property
    def pending(self) -> int:
        return self.writer.pending

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if not span.context.trace_flags.sampled:
            return  # recorded for profiles and counters, never exported: nothing to annotate in Phoenix
        try:
            self.traces.start(span.context.trace_id)
        except Exception:  # noqa: BLE001 - never the agent's problem
            self.internal_errors += 1

    def on_end(self, span: Any) -> None:
        if not span.context.trace_flags.sampled:
            return
        try:
            scores = span_scores(span) if span.events else []
            if scores:
                for row in span_rows(format(span.context.span_id, "016x"), scores):
                    self.writer.put(SPAN, row)
            for row in self.traces.end(span.context.trace_id, scores) or ():
                self.writer.put(TRACE, row)
        except Exception:  # noqa: BLE001
            self.internal_errors += 1
            if self.internal_errors == 1:
                logger.warning("agenttrace: reading scores for Phoenix annotations failed (the span is unaffected)",
                               exc_info=True)

    def request_flush(self) -> None:
        self.writer.request_flush()

    def flush(self, deadline: float) -> int:
        return self.writer.flush(deadline)

    def shutdown_by(self, deadline: float) -> None:
        self.writer.shutdown_by(deadline)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.flush(time.monotonic() + timeout_millis / 1000) == 0

    def shutdown(self) -> None:
        self.shutdown_by(time.monotonic() + SHUTDOWN_TIMEOUT)


def _base(url: str) -> Optional[str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit((parts.scheme, parts.netloc, "", "", "")).rstrip("/")


def phoenix_url(endpoint: Optional[str], protocol: Optional[str]) -> Optional[str]:
    """The base URL of the Phoenix an OTLP endpoint may belong to, or None."""
    if not endpoint:
        return None
    if protocol == "grpc":
        collector = os.environ.get("PHOENIX_COLLECTOR_ENDPOINT", "").strip()
        return collector.rstrip("/") if collector.startswith(("http://", "https://")) and _base(collector) else None
    path = urlsplit(endpoint).path.rstrip("/")
    if not path.endswith("/v1/traces"):
        return None
    base = _base(endpoint)
    prefix = path[:-len("/v1/traces")]
    return base + prefix if base else None


def create(target: Any) -> Optional[ScoreAnnotations]:
    """The ``agenttrace.score_sinks`` factory (see :mod:`agenttrace.score_sinks`)."""
    if target.mode is False or (target.mode is None and not target.scored):
        return None
    url = target.mode if isinstance(target.mode, str) else phoenix_url(target.endpoint, target.protocol)
    if url is None:
        if target.mode is True:
            raise ValueError("agenttrace: annotate_scores=True, but Phoenix's URL cannot be told from the export "
                             f"target ({target.endpoint or 'a span exporter'}); pass it: annotate_scores='http://host:6006'")
        return None
    writer = AnnotationWriter(url, target.headers, timeout=target.timeout, probe=target.mode is None)
    return ScoreAnnotations(writer)
