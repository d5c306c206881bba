"""``agenttrace.configure()``: one call that wires a tracer provider, an exporter and the handler."""

from __future__ import annotations

import atexit
import logging
import os
import weakref
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Optional

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from . import semconv as sc
from .export import BoundedBatchProcessor, DropCounter, otlp_exporter, parse_headers, quiet_exporter_logs, resolve_endpoint, resolve_protocol
from .handler import CallbackHandler

logger = logging.getLogger("agenttrace")

_HANDLER_OPTIONS = {"redact", "max_content_length", "run_ttl", "max_open_runs"}
_METRIC_OPTIONS = {"profiles", "scorer", "theme_json", "metrics_queue_size", "embedding_model"}
_EXPORT_OPTIONS = {"batch", "max_queue_size", "schedule_delay_millis", "export_timeout"}
_PROFILE_OPTIONS = {"profile_store", "segment_keys", "profile_window", "clock"}
PROFILE_STORE_ENV = "AGENTTRACE_PROFILE_STORE"


@dataclass
class Telemetry:
    """What :func:`configure` returns: the handler to pass to LangChain, and the pipeline behind it."""

    callback_handler: CallbackHandler
    tracer_provider: Any
    project: str
    endpoint: Optional[str]
    protocol: Optional[str]
    processor: Optional[Any]
    owns_provider: bool
    drops: DropCounter
    profiler: Optional[Any] = None  # the TrajectoryProcessor writing drift profiles, when enabled

    @property
    def dropped_spans(self) -> int:
        return self.drops.total

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait for pending metric scores, then export everything finished so far; False on timeout."""
        metrics = self.callback_handler.metrics
        if metrics is not None and not metrics.flush(timeout):
            return False
        try:
            target = self.tracer_provider if hasattr(self.tracer_provider, "force_flush") else self.processor
            return bool(target.force_flush(int(timeout * 1000))) if target is not None else True
        except Exception:  # noqa: BLE001
            logger.warning("agenttrace: flush failed", exc_info=True)
            return False

    def shutdown(self) -> None:
        """Flush and stop the pipeline agenttrace created (a user's own provider is left running)."""
        self.callback_handler.runs.sweep(float("inf"))  # end whatever is still open, marked expired
        if self.callback_handler.metrics is not None:
            self.callback_handler.metrics.shutdown()  # drain: scores of finished steps are not lost
        try:
            if self.owns_provider:
                self.tracer_provider.shutdown()
            else:
                for processor in (self.processor, self.profiler):
                    if processor is not None:
                        processor.force_flush()
                        processor.shutdown()
        except Exception:  # noqa: BLE001
            logger.warning("agenttrace: shutdown failed", exc_info=True)


def _metrics_engine(options: dict):
    """``profiles=`` (a path, a dict or a ProfileSet) → a MetricsEngine; heavy metrics need a scorer."""
    if options.get("profiles") is None:
        return None
    import json

    from .metrics import MetricsEngine, load

    theme_json = options.get("theme_json")
    custom = list(json.loads(theme_json) if isinstance(theme_json, str) else (theme_json or {}))
    profiles = load(options["profiles"], known_metrics=["jailbreak_similarity"] + [f"{g}_similarity" for g in custom])
    scorer = options.get("scorer")
    if scorer is None and profiles.heavy_metrics:
        try:
            from agenttrace_langkit import LangKitScorer
        except ImportError:
            raise RuntimeError(
                f"agenttrace: the profiles ask for {', '.join(sorted(profiles.heavy_metrics))}, which need the LangKit "
                "integration: pip install torch==2.13.0 && pip install -e integrations/langkit") from None
        scorer = LangKitScorer(model=options.get("embedding_model"), theme_json=theme_json)
    return MetricsEngine(profiles, scorer, queue_size=int(options.get("metrics_queue_size", 10_000)))


def _profiler(options: dict):
    """``profile_store=`` (a directory, or any sink with write/flush/close) → a TrajectoryProcessor."""
    store = options.get("profile_store") or os.environ.get(PROFILE_STORE_ENV) or None
    if store is None:
        return None
    from .profiling import TrajectoryProcessor
    from .trajectory import DEFAULT_SEGMENT_KEYS

    keys = tuple(options.get("segment_keys") or DEFAULT_SEGMENT_KEYS)
    if isinstance(store, (str, os.PathLike)):
        try:
            from agenttrace_whylogs import ProfileStore
        except ImportError as err:
            raise RuntimeError("agenttrace: profile_store= needs the whylogs integration: "
                               f"pip install -e integrations/whylogs (agenttrace-whylogs) [{err}]") from None
        window = options.get("profile_window", 3600)
        window = window if isinstance(window, timedelta) else timedelta(seconds=float(window))
        store = ProfileStore(store, window=window, segment_keys=keys)
    return TrajectoryProcessor(store, segment_keys=keys)


def _resource(project: str, service_name: Optional[str]) -> Resource:
    attrs = {sc.OI_PROJECT_NAME: project}
    if service_name:
        attrs["service.name"] = service_name
    # Resource.create() also merges OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME
    resource = Resource.create(attrs)
    if not service_name and not os.environ.get("OTEL_SERVICE_NAME") and "service.name=" not in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        resource = resource.merge(Resource({"service.name": project}))
    return resource


def configure(
    project: Optional[str] = None,
    service_name: Optional[str] = None,
    endpoint: Optional[str] = None,
    protocol: Optional[str] = None,
    headers: Any = None,
    capture_content: Optional[bool] = None,
    span_exporter: Optional[SpanExporter] = None,
    tracer_provider: Optional[Any] = None,
    **more: Any,
) -> Telemetry:
    """Set up tracing for LangChain/LangGraph agents and return a :class:`Telemetry`.

    With nothing passed it honours ``OTEL_EXPORTER_OTLP_*`` / ``OTEL_SERVICE_NAME`` and otherwise
    exports over OTLP/HTTP to a local Phoenix (``http://localhost:6006/v1/traces``). A global SDK
    TracerProvider the application already installed is reused, not replaced.

    Extra keyword options: ``redact``, ``max_content_length``, ``run_ttl``, ``max_open_runs``
    (handler); ``batch`` (default True), ``max_queue_size``, ``schedule_delay_millis``,
    ``export_timeout`` (export pipeline); ``set_global`` (default True); ``profiles``, ``scorer``,
    ``theme_json``, ``metrics_queue_size``, ``embedding_model`` (metrics); ``profile_store`` (a
    directory: whylogs trajectory profiles for drift detection, also ``AGENTTRACE_PROFILE_STORE``),
    ``segment_keys``, ``profile_window`` (seconds or timedelta, default one hour); ``clock``
    (a callable returning ns since the epoch for span timestamps: replays, simulations).
    """
    set_global = more.pop("set_global", True)
    unknown = set(more) - _HANDLER_OPTIONS - _EXPORT_OPTIONS - _METRIC_OPTIONS - _PROFILE_OPTIONS
    if unknown:
        raise TypeError(f"agenttrace.configure() got unexpected option(s): {', '.join(sorted(unknown))}")
    project = project or os.environ.get("PHOENIX_PROJECT_NAME") or service_name or os.environ.get("OTEL_SERVICE_NAME") or "default"

    owns = False
    provider = tracer_provider
    if provider is None:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            provider = current  # the application's own provider: add to it, don't replace it
        else:
            provider = TracerProvider(resource=_resource(project, service_name))
            owns = True

    drops = DropCounter()
    processor = None
    resolved_endpoint = resolved_protocol = None
    wants_otlp = span_exporter is None and (owns or endpoint is not None or protocol is not None)
    exporter = span_exporter
    if wants_otlp:
        resolved_protocol = resolve_protocol(protocol)
        resolved_endpoint = resolve_endpoint(endpoint, resolved_protocol)
        exporter = otlp_exporter(resolved_endpoint, resolved_protocol, parse_headers(headers), more.get("export_timeout"))
        quiet_exporter_logs()
    if exporter is not None:
        if more.get("batch", True):
            processor = BoundedBatchProcessor(
                exporter,
                max_queue_size=int(more.get("max_queue_size", 2048)),
                schedule_delay_millis=float(more.get("schedule_delay_millis", 1000)),
                drops=drops,
            )
        else:
            processor = SimpleSpanProcessor(exporter)
        provider.add_span_processor(processor)

    profiler = _profiler(more)
    if profiler is not None:
        provider.add_span_processor(profiler)

    if owns and set_global:
        trace.set_tracer_provider(provider)
        owns = trace.get_tracer_provider() is provider or owns

    handler = CallbackHandler(
        provider,
        capture_content=capture_content,
        metrics=_metrics_engine(more),
        clock=more.get("clock"),
        **{k: v for k, v in more.items() if k in _HANDLER_OPTIONS},
    )
    telemetry = Telemetry(handler, provider, project, resolved_endpoint, resolved_protocol, processor, owns, drops, profiler)
    ref = weakref.ref(telemetry)
    atexit.register(lambda: (t := ref()) is not None and t.flush(timeout=5.0))
    return telemetry
