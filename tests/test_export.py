"""Export: OTLP over HTTP and gRPC to real receivers, env configuration, and a failing backend."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agenttrace
from agenttrace.cli import main as cli
from agenttrace.export import resolve_endpoint, resolve_protocol
from conftest import ask, build_agent, run_python
from otlp_receivers import GrpcReceiver, HttpReceiver, closed_port_endpoint


@pytest.fixture
def http_receiver():
    r = HttpReceiver()
    yield r
    r.close()


def _run(telemetry, n=1):
    graph = build_agent()
    return [graph.invoke(ask(), config={"callbacks": [telemetry.callback_handler]}) for _ in range(n)]


def test_http_protobuf_export_with_project_resource(http_receiver):
    t = agenttrace.configure(project="email-personalizer", endpoint=http_receiver.endpoint, set_global=False)
    _run(t)
    assert t.flush(10)
    assert "invoke_agent support-bot" in http_receiver.names and "execute_tool order_status" in http_receiver.names
    resource = {kv.key: kv.value.string_value for kv in http_receiver.requests[0].resource_spans[0].resource.attributes}
    assert resource["openinference.project.name"] == "email-personalizer"
    assert resource["service.name"] == "email-personalizer"
    t.shutdown()


def test_grpc_export():
    receiver = GrpcReceiver()
    try:
        t = agenttrace.configure(project="p", endpoint=receiver.endpoint, protocol="grpc", set_global=False)
        _run(t)
        assert t.flush(10)
        assert "chat gpt-4o" in receiver.names
        t.shutdown()
    finally:
        receiver.close()


def test_standard_otel_environment_is_honoured(monkeypatch, http_receiver):
    base = http_receiver.endpoint.removesuffix("/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "mailer-svc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=growth")
    t = agenttrace.configure(project="mailer", set_global=False)
    assert t.endpoint == base + "/v1/traces" and t.protocol == "http/protobuf"
    _run(t)
    assert t.flush(10) and http_receiver.names
    resource = {kv.key: kv.value.string_value for kv in http_receiver.requests[0].resource_spans[0].resource.attributes}
    assert resource["service.name"] == "mailer-svc"
    t.shutdown()


def test_endpoint_resolution_rules(monkeypatch):
    for var in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "PHOENIX_COLLECTOR_ENDPOINT",
                "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"):
        monkeypatch.delenv(var, raising=False)
    assert resolve_endpoint(None, "http/protobuf") == "http://localhost:6006/v1/traces"
    assert resolve_endpoint(None, "grpc") == "http://localhost:4317"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/custom")
    assert resolve_endpoint(None, "http/protobuf") == "http://collector:4318/custom"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
    assert resolve_protocol(None) == "grpc"
    with pytest.raises(ValueError, match="unsupported OTLP protocol"):
        resolve_protocol("http/json")


def test_custom_span_exporter_and_existing_provider_are_used():
    exporter = InMemorySpanExporter()
    mine = TracerProvider()
    t = agenttrace.configure(tracer_provider=mine, span_exporter=exporter)
    assert t.tracer_provider is mine and not t.owns_provider
    _run(t)
    t.flush()
    assert any(s.name == "invoke_agent support-bot" for s in exporter.get_finished_spans())
    with pytest.raises(TypeError, match="unexpected keyword argument .colour."):
        agenttrace.configure(span_exporter=exporter, tracer_provider=mine, colour="blue")


def test_global_sdk_provider_is_reused_not_replaced():
    """Runs in a fresh interpreter: the global provider can be set only once per process."""
    code = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "import agenttrace\n"
        "app = TracerProvider(); trace.set_tracer_provider(app)\n"
        "t = agenttrace.configure(project='x')\n"
        "assert t.tracer_provider is app and not t.owns_provider and trace.get_tracer_provider() is app\n"
        "t2 = agenttrace.configure(project='y', endpoint='http://127.0.0.1:9/v1/traces')\n"
        "assert t2.processor is not None and t2.tracer_provider is app\n"
        "print('ok')\n"
    )
    out = run_python(code)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("mode", ["down", "503", "slow"])
def test_failing_backend_never_hurts_the_agent(mode, caplog):
    receiver = None
    if mode == "down":
        endpoint = closed_port_endpoint()
    else:
        receiver = HttpReceiver(mode=mode, delay=1.0)
        endpoint = receiver.endpoint
    try:
        t = agenttrace.configure(project="p", endpoint=endpoint, set_global=False, max_queue_size=64,
                                 schedule_delay_millis=50, export_timeout=1)
        expected = [m.content for m in build_agent().invoke(ask())["messages"]]
        with caplog.at_level(logging.WARNING):
            results = _run(t, n=40)  # ~13 spans a run: far more than the 64-span queue holds
            processor = t.processor
            assert processor.queued <= 64  # memory bounded
        assert all([m.content for m in r["messages"]] == expected for r in results)
        t.flush(5)
        assert t.dropped_spans > 0
        drop_lines = [r for r in caplog.records if "dropped" in r.getMessage() and r.name == "agenttrace"]
        assert len(drop_lines) == 1  # logged once, not per span
        assert not [r for r in caplog.records if "Queue full" in r.getMessage()]
        t.tracer_provider.shutdown()
    finally:
        if receiver:
            receiver.close()
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_cli_help_version_and_config(monkeypatch):
    runner = CliRunner()
    assert "Usage" in runner.invoke(cli, ["--help"]).output
    assert agenttrace.__version__ in runner.invoke(cli, ["--version"]).output
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.delenv("PHOENIX_COLLECTOR_ENDPOINT", raising=False)
    out = runner.invoke(cli, ["config"]).output
    assert "grpc" in out and "localhost:4317" in out
    bad = runner.invoke(cli, ["config", "--protocol", "smoke-signals"])
    assert bad.exit_code != 0 and "smoke-signals" in bad.output
