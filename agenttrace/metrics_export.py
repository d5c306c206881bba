"""``configure(metrics=...)``: the MeterProvider the GenAI metrics go through, and its exporters.

``metrics`` is ``None`` (default: ``OTEL_METRICS_EXPORTER`` decides; unset or ``none`` = off), ``False``
(off), ``True`` (= ``"otlp"``), ``"otlp"``, ``"prometheus"``, ``"console"``, a list of those, a dict
``{"otlp": {"endpoint": ..., "protocol": ...}, "prometheus": {"host": ..., "port": ...}}``, or an SDK
``MeterProvider`` to record through. With exporters asked for and a global SDK MeterProvider already
installed by the application, agenttrace records through that one (its readers decide the export).

OTLP: the OpenTelemetry metric exporters read ``OTEL_EXPORTER_OTLP_METRICS_*`` / ``OTEL_EXPORTER_OTLP_*``
(endpoint, headers, timeout, compression, temporality preference, default histogram aggregation)
themselves; the protocol comes from ``OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`` /
``OTEL_EXPORTER_OTLP_PROTOCOL`` (default http/protobuf); ``OTEL_METRIC_EXPORT_INTERVAL`` sets the
period. Prometheus: ``opentelemetry-exporter-prometheus``'s reader behind prometheus_client's HTTP
server on ``OTEL_EXPORTER_PROMETHEUS_HOST``:``OTEL_EXPORTER_PROMETHEUS_PORT`` (default localhost:9464).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from opentelemetry import metrics as otel_metrics

from .otlp_config import EnvProblem

logger = logging.getLogger("agenttrace")

EXPORTERS = ("otlp", "prometheus", "console")
PROTOCOLS = ("http/protobuf", "grpc")


@dataclass(eq=False)
class MetricsPipeline:
    """The meter provider agenttrace records through, and what it started for it."""

    meter_provider: Any
    owns_provider: bool
    exporters: tuple = ()
    prometheus_server: Any = None
    prometheus_address: Optional[tuple] = None  # (host, port) being served, when the scrape endpoint is up
    _readers: list = field(default_factory=list)
    recorder: Any = None  # the GenAIMetrics span processor recording into meter_provider

    def force_flush(self, timeout_millis: int = 10000) -> bool:
        if self.recorder is not None:  # the spans queued for recording first
            self.recorder.drain()
        return bool(self.meter_provider.force_flush(timeout_millis)) if self.owns_provider else True

    def shutdown(self, timeout_millis: int = 3000) -> None:
        if self.recorder is not None:  # spans ending later (an application's own provider) record nothing
            self.recorder.enabled = False
            self.recorder.shutdown()
        if self.prometheus_server is not None:
            self.prometheus_server.shutdown()
            self.prometheus_server.server_close()
            self.prometheus_server = None
        if self.owns_provider:
            self.meter_provider.shutdown(timeout_millis=timeout_millis)


def _requested(setting: Any, problems: list) -> Optional[dict]:
    """``metrics=`` → {exporter: options}, a provider → {"provider": it}, off → None. Bad arguments raise."""
    if setting is None:
        raw = os.environ.get("OTEL_METRICS_EXPORTER", "").strip().lower()
        names = [n.strip() for n in raw.split(",") if n.strip() and n.strip() != "none"]
        bad = [n for n in names if n not in EXPORTERS]
        if bad:
            problems.append(EnvProblem("OTEL_METRICS_EXPORTER", raw, f"names unknown exporter(s) {bad}",
                                       "those are left out"))
        return {n: {} for n in names if n in EXPORTERS} or None
    if setting is False:
        return None
    if setting is True:
        return {"otlp": {}}
    if hasattr(setting, "get_meter"):
        return {"provider": setting}
    if isinstance(setting, Mapping):
        chosen = {str(k): dict(v or {}) for k, v in setting.items()}
    elif isinstance(setting, (str, list, tuple)):
        chosen = {str(k): {} for k in ([setting] if isinstance(setting, str) else setting)}
    else:
        raise ValueError(f"agenttrace: metrics={setting!r} is not valid")
    unknown = [k for k in chosen if k not in EXPORTERS]
    if unknown or not chosen:
        raise ValueError(f"agenttrace: metrics={setting!r} is not valid (exporters: {', '.join(EXPORTERS)})")
    return chosen


def _otlp_reader(options: dict, problems: list):
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    protocol = options.get("protocol")
    if protocol is None:
        for name in ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
            raw = os.environ.get(name, "").strip()
            if raw and raw not in PROTOCOLS:
                problems.append(EnvProblem(name, raw, "is not http/protobuf or grpc", "http/protobuf"))
            elif raw:
                protocol = raw
                break
    elif protocol not in PROTOCOLS:
        raise ValueError(f"agenttrace: metrics otlp protocol={protocol!r} is not valid (http/protobuf or grpc)")
    kwargs = {k: options[k] for k in ("endpoint", "headers", "timeout") if options.get(k) is not None}
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        if str(kwargs.get("endpoint", "")).startswith("http://"):
            kwargs["insecure"] = True
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    interval = options.get("export_interval_millis")
    return PeriodicExportingMetricReader(OTLPMetricExporter(**kwargs),
                                         **({"export_interval_millis": float(interval)} if interval else {}))


def _env_port(problems: list) -> int:
    raw = os.environ.get("OTEL_EXPORTER_PROMETHEUS_PORT", "").strip()
    if raw:
        try:
            port = int(raw)
            if 0 <= port < 65536:
                return port
        except ValueError:
            pass
        problems.append(EnvProblem("OTEL_EXPORTER_PROMETHEUS_PORT", raw, "is not a port number", "9464"))
    return 9464


def _prometheus(options: dict, problems: list, from_env: bool):
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server
    except ImportError:
        raise RuntimeError("agenttrace: metrics='prometheus' needs opentelemetry-exporter-prometheus "
                           "(pip install 'agenttrace[prometheus]')") from None
    host = options.get("host") or os.environ.get("OTEL_EXPORTER_PROMETHEUS_HOST", "").strip() or "localhost"
    port = options.get("port")
    port = _env_port(problems) if port is None else int(port)
    try:
        server, _thread = start_http_server(port, addr=host)
    except OSError as err:
        message = f"cannot serve the Prometheus endpoint on {host}:{port} ({err.strerror or err})"
        if not from_env:
            raise RuntimeError(f"agenttrace: metrics='prometheus': {message}") from None
        problems.append(EnvProblem("OTEL_METRICS_EXPORTER", "prometheus", message, "no Prometheus endpoint"))
        return None, None, None
    return PrometheusMetricReader(), server, (host, server.server_port)


def open_metrics(setting: Any, resource: Any, problems: list) -> Optional[MetricsPipeline]:
    """Build (or find) the meter provider for ``configure(metrics=setting)``; None when metrics are off."""
    chosen = _requested(setting, problems)
    if chosen is None:
        return None
    if "provider" in chosen:
        return MetricsPipeline(chosen["provider"], owns_provider=False)
    from opentelemetry.sdk.metrics import MeterProvider

    current = otel_metrics.get_meter_provider()
    if isinstance(current, MeterProvider):  # the application's own: its readers decide where metrics go
        logger.info("agenttrace: recording GenAI metrics through the application's global MeterProvider")
        return MetricsPipeline(current, owns_provider=False)
    readers: list = []
    server = address = None
    try:
        if "otlp" in chosen:
            readers.append(_otlp_reader(chosen["otlp"], problems))
        if "console" in chosen:
            from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader

            readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter()))
        if "prometheus" in chosen:
            reader, server, address = _prometheus(chosen["prometheus"], problems, setting is None)
            if reader is not None:
                readers.append(reader)
        provider = MeterProvider(metric_readers=readers, resource=resource, shutdown_on_exit=False)
    except BaseException:
        for reader in readers:
            reader.shutdown()
        if server is not None:
            server.shutdown()
            server.server_close()
        raise
    return MetricsPipeline(provider, True, tuple(chosen), server, address, readers)


def install_global(pipeline: MetricsPipeline) -> None:
    """Make agenttrace's meter provider the global one when none is installed yet."""
    from opentelemetry.sdk.metrics import MeterProvider

    if pipeline.owns_provider and not isinstance(otel_metrics.get_meter_provider(), MeterProvider):
        otel_metrics.set_meter_provider(pipeline.meter_provider)
