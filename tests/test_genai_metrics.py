"""OTel GenAI client metrics and agenttrace counters: names, units, attributes and buckets in memory;
OTLP export to a real receiver (the OTEL_EXPORTER_OTLP_METRICS_* variables honoured); a real
Prometheus scraping the endpoint, answering the Grafana dashboard's queries."""

from __future__ import annotations

import json
import math
import pathlib

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader

import agenttrace
import genai_traffic
from agenttrace import semconv as sc
from agenttrace.genai_metrics import DURATION_BUCKETS, OPERATION_DURATION, TOKEN_BUCKETS, TOKEN_USAGE
from conftest import run_python
from otlp_receivers import MetricsReceiver
from prometheus_server import PrometheusServer, binary

DASHBOARD = pathlib.Path(__file__).resolve().parents[1] / "docs" / "grafana" / "agenttrace-genai.json"
CLAUDE = "claude-sonnet-4"


def _configure(provider, metrics, **kwargs):
    return agenttrace.configure(tracer_provider=provider, metrics=metrics, profiles=genai_traffic.PROFILES,
                                set_global=False, handle_sigterm=False, retry_monitor=False, **kwargs)


def _points(data) -> dict:
    """metric name → (metric, its data points), from an SDK MetricsData."""
    found = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                found[metric.name] = (metric, list(metric.data.data_points))
    return found


def test_names_units_attributes_and_buckets_in_memory(provider, spans):
    reader = InMemoryMetricReader()
    telemetry = _configure(provider, MeterProvider(metric_readers=[reader]))
    genai_traffic.run(telemetry.callback_handler)
    assert telemetry.flush(10)
    found = _points(reader.get_metrics_data())
    chats = spans().with_attr(sc.OPERATION, sc.OP_CHAT)

    tokens, token_points = found[TOKEN_USAGE]
    assert TOKEN_USAGE == "gen_ai.client.token.usage" and tokens.unit == "{token}"
    assert all(tuple(p.explicit_bounds) == TOKEN_BUCKETS for p in token_points)
    by_key = {(p.attributes[sc.REQUEST_MODEL], p.attributes[sc.TOKEN_TYPE]): p for p in token_points}
    assert set(by_key) == {("gpt-4o", "input"), ("gpt-4o", "output"), (CLAUDE, "input"), (CLAUDE, "output")}
    gpt_input = by_key[("gpt-4o", "input")]
    assert dict(gpt_input.attributes) == {sc.OPERATION: "chat", sc.PROVIDER: "openai", sc.REQUEST_MODEL: "gpt-4o",
                                          sc.RESPONSE_MODEL: "gpt-4o-2024-08-06", sc.TOKEN_TYPE: "input"}
    for model, kind, attr in (("gpt-4o", "input", sc.USAGE_INPUT_TOKENS), ("gpt-4o", "output", sc.USAGE_OUTPUT_TOKENS)):
        recorded = [s.attributes[attr] for s in chats if s.attributes[sc.REQUEST_MODEL] == model]
        assert by_key[(model, kind)].sum == sum(recorded) and by_key[(model, kind)].count == len(recorded) == 6

    duration, duration_points = found[OPERATION_DURATION]
    assert OPERATION_DURATION == "gen_ai.client.operation.duration" and duration.unit == "s"
    assert all(tuple(p.explicit_bounds) == DURATION_BUCKETS for p in duration_points)
    assert sum(p.count for p in duration_points) == len(chats) == 6 + 4  # every attempt is an operation
    failed = [p for p in duration_points if sc.ERROR_TYPE in p.attributes]
    error_types = {s.attributes[sc.ERROR_TYPE] for s in chats if s.status.status_code.name == "ERROR"}
    assert len(failed) == 1 and failed[0].count == 3 and {failed[0].attributes[sc.ERROR_TYPE]} == error_types
    assert failed[0].attributes[sc.PROVIDER] == "anthropic" and failed[0].attributes[sc.REQUEST_MODEL] == CLAUDE

    counters = {name: {tuple(sorted(p.attributes.items())): p.value for p in points}
                for name, (metric, points) in found.items() if name.startswith("agenttrace.")}
    claude = ((sc.OPERATION, "chat"), (sc.PROVIDER, "anthropic"), (sc.REQUEST_MODEL, CLAUDE))
    assert counters[sc.METRIC_RETRIES] == {claude: 2}  # the second attempt of each wrapper
    assert counters[sc.METRIC_RETRIES_EXHAUSTED] == {(): 1}
    flagged = spans().with_attr(sc.REVIEW_REQUIRED, True)
    assert flagged and sum(counters[sc.METRIC_REVIEW_FLAGS].values()) == len(flagged)
    assert counters[sc.METRIC_SPANS_DROPPED] == {((sc.DROP_REASON, r),): 0 for r in ("queue_full", "export_failed", "abandoned")}
    units = {name: metric.unit for name, (metric, _) in found.items()}
    assert units[sc.METRIC_RETRIES] == "{retry}" and units[sc.METRIC_SPANS_DROPPED] == "{span}"
    telemetry.shutdown(5)


def test_off_by_default_and_bad_settings(provider, monkeypatch):
    monkeypatch.delenv("OTEL_METRICS_EXPORTER", raising=False)
    assert _configure(provider, None).meter is None
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    assert _configure(provider, None).meter is None
    with pytest.raises(ValueError, match="metrics='statsd' is not valid"):
        _configure(provider, "statsd")
    with pytest.raises(ValueError, match="protocol"):
        _configure(provider, {"otlp": {"protocol": "thrift"}})


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_otlp_export_honours_the_metrics_environment(provider, monkeypatch, protocol):
    receiver = MetricsReceiver()
    try:
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")  # metrics=None: the environment decides
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", protocol)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")  # the metrics one wins
        endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "x-team=agents")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta")
        telemetry = _configure(provider, None)
        assert telemetry.meter.exporters == ("otlp",)
        genai_traffic.run(telemetry.callback_handler, runs=1)
        assert telemetry.flush(10)
        got = receiver.metrics()
        tokens = got[TOKEN_USAGE][0]
        assert tokens.unit == "{token}" and tokens.histogram.aggregation_temporality == AggregationTemporality.DELTA
        assert list(tokens.histogram.data_points[0].explicit_bounds) == list(TOKEN_BUCKETS)
        models = {a.value.string_value for m in got[OPERATION_DURATION] for p in m.histogram.data_points
                  for a in p.attributes if a.key == sc.REQUEST_MODEL}
        assert models == {"gpt-4o", CLAUDE}
        assert {sc.METRIC_RETRIES, sc.METRIC_RETRIES_EXHAUSTED, sc.METRIC_REVIEW_FLAGS, sc.METRIC_SPANS_DROPPED} <= set(got)
        if protocol == "http/protobuf":
            assert receiver.headers and receiver.headers[0]["x-team"] == "agents"
        telemetry.shutdown(5)
    finally:
        receiver.close()


def test_a_global_meter_provider_is_used():
    result = run_python(
        "from opentelemetry import metrics\n"
        "from opentelemetry.sdk.metrics import MeterProvider\n"
        "from opentelemetry.sdk.metrics.export import InMemoryMetricReader\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter\n"
        "from agenttrace.testing import ScriptedChatModel\n"
        "import agenttrace\n"
        "reader = InMemoryMetricReader()\n"
        "metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))\n"
        "t = agenttrace.configure(span_exporter=InMemorySpanExporter(), metrics='otlp', handle_sigterm=False)\n"
        "assert t.meter.meter_provider is metrics.get_meter_provider() and not t.meter.owns_provider\n"
        "ScriptedChatModel(model='m1').invoke('hi', config={'callbacks': [t.callback_handler]})\n"
        "assert t.flush(5)\n"
        "names = [m.name for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics for m in sm.metrics]\n"
        "print(sorted(names))\n")
    assert result.returncode == 0, result.stderr
    assert "gen_ai.client.operation.duration" in result.stdout and "gen_ai.client.token.usage" in result.stdout


def test_prometheus_port_from_the_environment_and_a_busy_port(provider, monkeypatch):
    import socket
    import urllib.request

    from prometheus_server import free_port

    port = free_port()
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "prometheus")
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1")
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(port))
    telemetry = _configure(provider, None)
    try:
        assert telemetry.meter.prometheus_address == ("127.0.0.1", port)
        genai_traffic.run(telemetry.callback_handler, runs=1)
        assert telemetry.flush(5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        assert 'gen_ai_client_token_usage_bucket{' in text and "gen_ai_client_operation_duration_seconds_count{" in text
        # the port is taken now: asked for in code it is an error, from the environment a warning
        with pytest.raises(RuntimeError, match=f"cannot serve the Prometheus endpoint on 127.0.0.1:{port}"):
            _configure(provider, {"prometheus": {"host": "127.0.0.1", "port": port}})
        from_env = _configure(provider, None)
        assert from_env.meter.prometheus_address is None
        from_env.shutdown(2)
    finally:
        telemetry.shutdown(5)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # shutdown() closed the endpoint


@pytest.fixture
def scraped(provider):
    if binary() is None:
        pytest.skip("the prometheus binary is not installed (Debian package prometheus; .ci/run installs it)")
    telemetry = _configure(provider, {"prometheus": {"host": "127.0.0.1", "port": 0}})
    host, port = telemetry.meter.prometheus_address
    server = PrometheusServer(f"{host}:{port}")
    yield telemetry, server
    server.close()
    telemetry.shutdown(5)


def test_prometheus_returns_the_genai_histograms_and_the_dashboard_queries(scraped):
    telemetry, prometheus = scraped
    genai_traffic.run(telemetry.callback_handler)
    # the first scrape sees the series; traffic after it makes every rate() positive
    assert prometheus.wait_for('gen_ai_client_token_usage_count{gen_ai_request_model="claude-sonnet-4"}', count=2)
    genai_traffic.run(telemetry.callback_handler)
    # both runs scraped: 12 gpt-4o calls with token usage (6 per traffic run), 2 claude ones
    assert prometheus.wait_for('gen_ai_client_token_usage_count{gen_ai_request_model="gpt-4o"} >= 12', count=2)
    by_model = prometheus.query(
        'sum by (gen_ai_request_model, gen_ai_operation_name, gen_ai_token_type) (gen_ai_client_token_usage_count)')
    assert {(r["metric"]["gen_ai_request_model"], r["metric"]["gen_ai_token_type"]): float(r["value"][1])
            for r in by_model} == {("gpt-4o", "input"): 12, ("gpt-4o", "output"): 12, (CLAUDE, "input"): 2, (CLAUDE, "output"): 2}
    assert {(r["metric"]["gen_ai_request_model"], r["metric"]["gen_ai_operation_name"], r["metric"]["gen_ai_token_type"])
            for r in by_model} == {(m, "chat", t) for m in ("gpt-4o", CLAUDE) for t in ("input", "output")}
    buckets = prometheus.query('gen_ai_client_operation_duration_seconds_bucket{gen_ai_request_model="gpt-4o"}')
    assert {r["metric"]["le"] for r in buckets} == {str(b) for b in DURATION_BUCKETS} | {"+Inf"}
    token_buckets = prometheus.query('gen_ai_client_token_usage_bucket{gen_ai_request_model="gpt-4o",gen_ai_token_type="input"}')
    assert len(token_buckets) == len(TOKEN_BUCKETS) + 1

    panels = json.loads(DASHBOARD.read_text())["panels"]
    titles = {p["title"] for p in panels}
    assert {"Model calls / s by model and operation", "Errors / s by model and error.type", "Duration p50 by model",
            "Duration p95 by model", "Tokens / s by model and type"} <= titles
    empty = []
    for panel in panels:
        for target in panel["targets"]:
            result = prometheus.wait_for(target["expr"], timeout=15)
            values = [float(r["value"][1]) for r in result]
            if not result or not all(math.isfinite(v) for v in values):
                empty.append((panel["title"], target["expr"], result))
    assert not empty, empty
