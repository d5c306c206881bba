"""``agenttrace.configure()``: one call that wires a tracer provider, an exporter and the handler."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from . import semconv as sc
from . import shutdown as _exit
from .content import CONTENT_FORMATS, Redactor
from .export import BoundedBatchProcessor, DropCounter, otlp_exporter, quiet_exporter_logs
from .handler import CallbackHandler
from .sampling import RecordUnsampled
from .score_sinks import SinkTarget, check_mode, open_sinks
from .otlp_config import (
    EnvProblem,
    compression_problems,
    env_headers_problems,
    parse_headers,
    resolve_endpoint,
    resolve_protocol,
    resolve_timeout,
    warn_once,
)
from .shutdown import DEFAULT_EXIT_TIMEOUT, FlushResult
from .trajectory import DEFAULT_PROFILE_WINDOW

__all__ = ["FlushResult", "Telemetry", "configure"]

logger = logging.getLogger("agenttrace")

PROFILE_STORE_ENV = "AGENTTRACE_PROFILE_STORE"


@dataclass(eq=False)
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
    exit_timeout: float = DEFAULT_EXIT_TIMEOUT  # seconds exit / SIGTERM / shutdown() wait at most
    handle_sigterm: bool = False  # whether a SIGTERM runs the bounded shutdown before the process ends
    export_timeout: Optional[float] = None  # seconds one OTLP export may take (None: not an OTLP pipeline)
    score_sinks: tuple = ()  # integrations writing the scores beside the spans (Phoenix annotations)
    retry_monitor: Optional[Any] = None  # the RetryMonitor detecting retry storms / herds (snapshot(), storms())
    dead_letter: Optional[Any] = None  # the DeadLetterQueue (written / dropped / store_errors), when on
    meter: Optional[Any] = None  # the MetricsPipeline of the GenAI metrics (meter_provider, prometheus_address)

    @property
    def dropped_spans(self) -> int:
        """Spans that never reached the backend: queue full, refused by it, or still pending when a
        flush/exit deadline passed (``drops`` has the count per cause)."""
        return self.drops.total

    @property
    def dropped_scores(self) -> int:
        """Score writes of the score sinks (Phoenix annotations) given up on: their queue was full,
        their span never reached the backend, the backend refused them, or an exit deadline passed.
        The scores themselves stay on the spans."""
        return sum(sink.dropped for sink in self.score_sinks)

    def flush(self, timeout: float = 30.0) -> FlushResult:
        """Deliver what has finished so far — metric scores, spans, trajectory profiles — waiting at
        most ``timeout`` seconds in all. Returns a :class:`FlushResult`, truthy when everything was
        delivered; otherwise it says what was not (still pending, refused) — nothing is lost by
        returning early: pending spans stay queued for the next flush or for exit."""
        return _exit.flush_pipeline(self, timeout)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Flush and stop the pipeline agenttrace created, within ``timeout`` seconds (process exit
        and SIGTERM call it with ``exit_timeout``); what is still undelivered then is counted in
        ``dropped_spans``. A user's own tracer provider is left running."""
        _exit.unregister(self)
        _exit.shutdown_pipeline(self, timeout)


def _metrics_engine(profiles: Any, scorer: Any, theme_json: Any, queue_size: int, embedding_model: Optional[str]):
    """``profiles=`` (a path, a dict or a ProfileSet) → a MetricsEngine; heavy metrics need a scorer."""
    if profiles is None:
        return None
    import json

    from .metrics import MetricsEngine, load

    custom = list(json.loads(theme_json) if isinstance(theme_json, str) else (theme_json or {}))
    profile_set = load(profiles, known_metrics=["jailbreak_similarity"] + [f"{g}_similarity" for g in custom])
    if scorer is None and profile_set.heavy_metrics:
        from . import plugins

        try:
            make_scorer = plugins.load(plugins.SCORERS, "langkit")
        except plugins.PluginMissing as err:
            raise RuntimeError(f"agenttrace: the profiles ask for {', '.join(sorted(profile_set.heavy_metrics))}, "
                               f"which need a scorer: {err}") from None
        scorer = make_scorer(model=embedding_model, theme_json=theme_json)
    return MetricsEngine(profile_set, scorer, queue_size=int(queue_size))


def _profiler(store: Any, segment_keys: Optional[Sequence[str]], window: Union[float, timedelta], sync_interval: float,
              problems: list):
    """``profile_store=`` (a directory, or any sink with write/flush/close) → a TrajectoryProcessor.
    From ``AGENTTRACE_PROFILE_STORE`` a store that cannot be opened is a warning, not a crash."""
    from_env = store is None
    store = store or os.environ.get(PROFILE_STORE_ENV, "").strip() or None
    if store is None:
        return None
    try:
        if from_env:  # a path that cannot be a directory: say so now, not at every write
            os.makedirs(store, exist_ok=True)
        return _open_profiler(store, segment_keys, window, sync_interval)
    except Exception as err:
        if not from_env:
            raise
        problems.append(EnvProblem(PROFILE_STORE_ENV, repr(store), f"cannot be used as a profile store ({err})",
                                   "no trajectory profiling"))
        return None


def _open_profiler(store: Any, segment_keys: Optional[Sequence[str]], window: Union[float, timedelta], sync_interval: float):
    from .profiling import TrajectoryProcessor
    from .trajectory import DEFAULT_SEGMENT_KEYS

    keys = tuple(segment_keys or DEFAULT_SEGMENT_KEYS)
    if isinstance(store, (str, os.PathLike)):
        from . import plugins

        try:
            ProfileStore = plugins.load(plugins.PROFILE_STORES, "whylogs")
        except (plugins.PluginMissing, ImportError) as err:
            raise RuntimeError(f"agenttrace: profile_store= needs a profile store: {err}") from None
        window = window if isinstance(window, timedelta) else timedelta(seconds=float(window))
        store = ProfileStore(store, window=window, segment_keys=keys, sync_interval=sync_interval)
    return TrajectoryProcessor(store, segment_keys=keys, sync_interval=sync_interval)


def _retry_monitor(setting: Any, clock: Optional[Callable[[], int]]):
    """``retry_monitor=`` True / a dict of thresholds → a RetryMonitor; False / None → none."""
    if setting is None or setting is False:
        return None
    from .retry_monitor import RetryMonitor

    return RetryMonitor(None if setting is True else setting, clock=clock)


def _resource(project: str, service_name: Optional[str]) -> Resource:
    attrs = {sc.OI_PROJECT_NAME: project}
    if service_name:
        attrs["service.name"] = service_name
    # Resource.create() also merges OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME
    resource = Resource.create(attrs)
    if not service_name and not os.environ.get("OTEL_SERVICE_NAME") and "service.name=" not in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        resource = resource.merge(Resource({"service.name": project}))
    return resource


def _otlp(endpoint: Optional[str], protocol: Optional[str], headers: Any, export_timeout: Optional[float],
          problems: list):
    """Resolve the OTLP destination (arguments strictly, the environment leniently) → the exporter."""
    resolved_protocol = resolve_protocol(protocol, problems)
    resolved_endpoint = resolve_endpoint(endpoint, resolved_protocol, problems)
    timeout = resolve_timeout(export_timeout, problems)
    env_headers, hide = env_headers_problems(problems)
    hide += compression_problems(problems)
    hide += [p.variable for p in problems if p.variable.endswith("TIMEOUT")]  # the gRPC exporter float()s them
    merged = {**env_headers, **(parse_headers(headers) or {})} if env_headers else parse_headers(headers)
    exporter = otlp_exporter(resolved_endpoint, resolved_protocol, merged, timeout, tuple(hide))
    return exporter, resolved_endpoint, resolved_protocol, timeout, merged or {}


def _check(name: str, value: Any, ok: bool) -> None:
    if not ok:
        raise ValueError(f"agenttrace: {name}={value!r} is not valid")


def configure(
    project: Optional[str] = None,
    service_name: Optional[str] = None,
    endpoint: Optional[str] = None,
    protocol: Optional[str] = None,
    headers: Union[Mapping[str, str], str, None] = None,
    capture_content: Optional[bool] = None,
    span_exporter: Optional[SpanExporter] = None,
    tracer_provider: Optional[Any] = None,
    *,
    # the handler
    redact: Optional[Redactor] = None,
    max_content_length: Optional[int] = None,
    content_format: Optional[str] = None,
    run_ttl: Optional[float] = None,
    max_open_runs: Optional[int] = None,
    clock: Optional[Callable[[], int]] = None,
    # the export pipeline
    batch: bool = True,
    max_queue_size: int = 2048,
    schedule_delay_millis: float = 1000,
    export_timeout: Optional[float] = None,
    set_global: bool = True,
    exit_timeout: float = DEFAULT_EXIT_TIMEOUT,
    handle_sigterm: bool = True,
    # metrics
    profiles: Any = None,
    scorer: Any = None,
    theme_json: Union[str, Mapping[str, Any], None] = None,
    metrics_queue_size: int = 10_000,
    embedding_model: Optional[str] = None,
    # trajectory profiles for drift detection
    profile_store: Any = None,
    segment_keys: Optional[Sequence[str]] = None,
    profile_window: Union[float, timedelta] = DEFAULT_PROFILE_WINDOW,
    profile_sync_interval: float = 1.0,
    # scores beside the spans
    annotate_scores: Union[bool, str, None] = None,
    # retry storm / thundering herd detection
    retry_monitor: Union[bool, Mapping[str, Any]] = True,
    # runs that exhausted their retries, kept for replay
    dead_letter: Any = None,
    # OTel GenAI metrics (gen_ai.client.*) and agenttrace counters
    metrics: Any = None,
) -> Telemetry:
    """Set up tracing for LangChain/LangGraph agents and return a :class:`Telemetry`.

    With nothing passed it honours ``OTEL_EXPORTER_OTLP_*`` / ``OTEL_SERVICE_NAME`` and otherwise
    exports over OTLP/HTTP to a local Phoenix (``http://localhost:6006/v1/traces``). A global SDK
    TracerProvider the application already installed is reused, not replaced. A bad argument raises
    ``ValueError``; a bad environment value is logged once and the default is used instead.

    Args:
        project: Phoenix project (``openinference.project.name``); default ``PHOENIX_PROJECT_NAME``,
            then the service name, then ``"default"``.
        service_name: ``service.name`` of the resource; default ``OTEL_SERVICE_NAME``, then the project.
        endpoint: OTLP endpoint; default from ``OTEL_EXPORTER_OTLP_*``, else a local Phoenix.
        protocol: ``"http/protobuf"`` or ``"grpc"``; default from ``OTEL_EXPORTER_OTLP_*PROTOCOL``.
        headers: extra export headers, a dict or ``"k=v,k2=v2"``.
        capture_content: export prompts, responses and tool I/O; default
            ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, else off.
        span_exporter: any SDK ``SpanExporter`` to use instead of OTLP.
        tracer_provider: the SDK ``TracerProvider`` to add to, instead of creating one.
        redact: ``redact(key, value) -> value`` applied to every captured value before export.
        max_content_length: truncate captured values to this many characters.
        content_format: the attributes captured content is written in: ``"openinference"`` (what
            Phoenix renders; the default), ``"genai"`` (the GenAI conventions' ``gen_ai.input.messages``,
            ... for other OTLP backends) or ``"both"``; default ``AGENTTRACE_CONTENT_FORMAT``.
        run_ttl: seconds after which a run that never ended is ended and marked expired (default 3600).
        max_open_runs: at most this many runs tracked at once (default 10,000).
        clock: a callable returning ns since the epoch for span timestamps (replays, simulations).
        batch: export on a background thread in batches (default); False exports on the agent's thread.
        max_queue_size: spans waiting for export at most; past that they are dropped and counted.
        schedule_delay_millis: how long a partial batch waits before it is exported.
        export_timeout: seconds one OTLP export may take, retries included; default
            ``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`` / ``OTEL_EXPORTER_OTLP_TIMEOUT``, else 5.
        set_global: install the created provider as the global OTel provider (default True).
        exit_timeout: seconds process exit, SIGTERM and ``shutdown()`` wait at most for pending
            spans, metric scores and profiles (default 3); what is left is counted as dropped.
        handle_sigterm: on SIGTERM, run the same bounded shutdown as exit before the process ends
            (default True; installed from the main thread only; an existing handler is chained to).
        profiles: metric profiles (a path, a dict or a ProfileSet): score steps, flag them for review.
        scorer: the scorer for heavy metrics (default: the LangKit integration's).
        theme_json: custom similarity themes (JSON text or a dict) for the LangKit scorer.
        metrics_queue_size: steps waiting for heavy scoring at most; past that scoring is skipped.
        embedding_model: sentence-transformers model name for the LangKit scorer.
        profile_store: a directory (whylogs drift profiles) or any sink with write/flush/close;
            default ``AGENTTRACE_PROFILE_STORE``.
        segment_keys: run metadata keys that segment trajectory profiles.
        profile_window: profile window, seconds or a timedelta (default 10 minutes: the fast rules of
            ``agenttrace watch`` test each window as it closes).
        profile_sync_interval: seconds within which a finished run's profile row is on disk (default 1;
            what a kill -9 can lose).
        annotate_scores: also write each metric score as an annotation where the backend has them
            (Phoenix span and trace annotations, through an installed score-sink integration).
            None (default): when profiles are configured and the export target answers as a
            Phoenix; True: always; a URL: always, to that Phoenix; False: never.
        retry_monitor: detect retry storms and thundering herds per provider/model (default True);
            a dict sets thresholds (``amplification``, ``min_calls``, ``window_s``, ``herd_retries``,
            ``herd_window_ms``, ``jitter_spread_ms``; see docs/retries.md); False: off.
        dead_letter: keep root runs that failed after exhausting their retries (retryable provider
            errors by default) for ``agenttrace dlq replay``: True (``AGENTTRACE_DEAD_LETTER``, else
            ``.agenttrace/dead-letter.sqlite``), a SQLite path, a ``postgresql://`` URL, or an
            :class:`agenttrace.DeadLetter` with a predicate. Written off the agent's thread; see
            docs/dead-letter.md.
        metrics: the GenAI client metrics (token usage, operation duration) and agenttrace counters
            through an OTel MeterProvider: ``"otlp"``, ``"prometheus"``, ``"console"``, a list or a dict
            of options of those, True (= ``"otlp"``), an SDK MeterProvider, or False. Default None:
            ``OTEL_METRICS_EXPORTER`` (unset: off). See docs/metrics-prometheus.md.
    """
    problems: list = []
    _check("content_format", content_format, content_format is None or content_format in CONTENT_FORMATS)
    _check("exit_timeout", exit_timeout, isinstance(exit_timeout, (int, float)) and 0 <= exit_timeout < float("inf"))
    _check("max_queue_size", max_queue_size, isinstance(max_queue_size, int) and max_queue_size > 0)
    _check("profile_sync_interval", profile_sync_interval,
           isinstance(profile_sync_interval, (int, float)) and 0 < profile_sync_interval < float("inf"))
    annotate_scores = check_mode(annotate_scores)
    project = project or os.environ.get("PHOENIX_PROJECT_NAME") or service_name or os.environ.get("OTEL_SERVICE_NAME") or "default"

    owns = False
    provider = tracer_provider
    if provider is None:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            provider = current  # the application's own provider: add to it, don't replace it
        else:  # agenttrace's exit hook shuts it down within exit_timeout (the SDK's own hook has no bound)
            provider = TracerProvider(resource=_resource(project, service_name), shutdown_on_exit=False)
            # the sampler the SDK resolved from OTEL_TRACES_SAMPLER samples the export; profiles and
            # counters still see every run (agenttrace.sampling)
            provider.sampler = RecordUnsampled(provider.sampler)
            owns = True

    drops = DropCounter()
    processor = None
    resolved_endpoint = resolved_protocol = resolved_timeout = None
    export_headers: dict = {}
    exporter = span_exporter
    if span_exporter is None and (owns or endpoint is not None or protocol is not None):
        exporter, resolved_endpoint, resolved_protocol, resolved_timeout, export_headers = _otlp(
            endpoint, protocol, headers, export_timeout, problems)
        quiet_exporter_logs()
    if exporter is not None:
        if batch:
            processor = BoundedBatchProcessor(exporter, max_queue_size=max_queue_size, drops=drops,
                                              schedule_delay_millis=float(schedule_delay_millis),
                                              shutdown_timeout=float(exit_timeout))
        else:
            processor = SimpleSpanProcessor(exporter)
        provider.add_span_processor(processor)

    monitor = _retry_monitor(retry_monitor, clock)
    if monitor is not None:
        provider.add_span_processor(monitor)
    profiler = _profiler(profile_store, segment_keys, profile_window, profile_sync_interval, problems)
    if profiler is not None:
        provider.add_span_processor(profiler)
    from .metrics_export import install_global, open_metrics

    meter = open_metrics(metrics, provider.resource if hasattr(provider, "resource") else None, problems)
    if meter is not None:
        from .genai_metrics import GenAIMetrics

        meter.recorder = GenAIMetrics(meter.meter_provider, drops)
        provider.add_span_processor(meter.recorder)
        if set_global:
            install_global(meter)
    warn_once(problems)

    if owns and set_global:
        trace.set_tracer_provider(provider)
        owns = trace.get_tracer_provider() is provider or owns

    handler_options = {"redact": redact, "max_content_length": max_content_length, "run_ttl": run_ttl,
                       "max_open_runs": max_open_runs, "content_format": content_format}
    engine = _metrics_engine(profiles, scorer, theme_json, metrics_queue_size, embedding_model)
    sinks = tuple(open_sinks(SinkTarget(annotate_scores, resolved_endpoint, resolved_protocol, export_headers, project,
                                        resolved_timeout or 5.0, engine is not None)))
    for sink in sinks:
        provider.add_span_processor(sink)
    from .dead_letter import open_queue

    dlq = open_queue(dead_letter, redact)
    handler = CallbackHandler(
        provider,
        capture_content=capture_content,
        metrics=engine,
        clock=clock,
        dead_letter=dlq,
        **{k: v for k, v in handler_options.items() if v is not None},
    )
    created = owns or processor is not None or profiler is not None or bool(sinks) or dlq is not None or meter is not None
    sigterm = bool(handle_sigterm) and created and _exit.install_sigterm()
    telemetry = Telemetry(handler, provider, project, resolved_endpoint, resolved_protocol, processor, owns, drops,
                          profiler, float(exit_timeout), sigterm, resolved_timeout, sinks, monitor, dlq, meter)
    _exit.register(telemetry)
    return telemetry
