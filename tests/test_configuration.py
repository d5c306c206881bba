"""configure(): bad environment values never take the application down (one warning, the default
used), bad arguments raise, `agenttrace config` reports with exit 2, and every option is an explicit
keyword-only parameter."""

from __future__ import annotations

import inspect
import logging

import pytest
from click.testing import CliRunner

import agenttrace
from agenttrace import otlp_config
from agenttrace.cli import main as cli
from conftest import ask, build_agent, run_python
from otlp_receivers import HttpReceiver

OTEL_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "PHOENIX_COLLECTOR_ENDPOINT",
             "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_TIMEOUT",
             "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
             "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "AGENTTRACE_PROFILE_STORE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in OTEL_VARS:
        monkeypatch.delenv(var, raising=False)
    otlp_config._reported.clear()  # "warn once" is per process; each test starts afresh


def _agenttrace_warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "agenttrace" and r.levelno == logging.WARNING]


# (variable, bad value, protocol passed in code or None, what the Telemetry then uses)
BAD_ENV = [
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "weird", None, {"protocol": "http/protobuf"}),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", None, {"protocol": "http/protobuf"}),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", None, {"protocol": "http/protobuf"}),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://[::1", "grpc", {"endpoint": "http://localhost:4317"}),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", None, {"endpoint": "http://localhost:6006/v1/traces"}),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:99999/v1/traces", None,
     {"endpoint": "http://localhost:6006/v1/traces"}),
    ("PHOENIX_COLLECTOR_ENDPOINT", "ftp://phoenix", None, {"endpoint": "http://localhost:6006/v1/traces"}),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "abc", "grpc", {"export_timeout": 5.0}),
    ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "abc", "grpc", {"export_timeout": 5.0}),
    ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "-1", "http/protobuf", {"export_timeout": 5.0}),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "zip", "grpc", {}),
    ("OTEL_EXPORTER_OTLP_HEADERS", "garbage", "grpc", {}),
]


@pytest.mark.parametrize("variable,value,protocol,used", BAD_ENV, ids=[f"{v}={x}" for v, x, *_ in BAD_ENV])
def test_a_bad_environment_value_warns_once_and_falls_back(monkeypatch, caplog, variable, value, protocol, used):
    monkeypatch.setenv(variable, value)
    with caplog.at_level(logging.WARNING):
        t = agenttrace.configure(project="p", protocol=protocol, set_global=False, exit_timeout=0)
        again = agenttrace.configure(project="p", protocol=protocol, set_global=False, exit_timeout=0)
    warnings = _agenttrace_warnings(caplog)
    assert len(warnings) == 1, warnings  # once, although configure() ran twice
    assert variable in warnings[0] and "using" in warnings[0]
    assert value in warnings[0] or variable.endswith("HEADERS")
    for attr, expected in used.items():
        assert getattr(t, attr) == expected
    for x in (t, again):
        x.shutdown(timeout=0)


def test_bad_headers_never_log_their_values_and_good_ones_are_still_sent(monkeypatch, caplog):
    receiver = HttpReceiver()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Bearer s3cr3t-token,x-api-key=s3cr3t-key")
    try:
        with caplog.at_level(logging.DEBUG):
            t = agenttrace.configure(project="p", endpoint=receiver.endpoint, set_global=False)
            build_agent().invoke(ask(), config={"callbacks": [t.callback_handler]})
            assert t.flush(10)
        assert "s3cr3t" not in caplog.text  # neither ours nor the exporter's log shows a header value
        assert "OTEL_EXPORTER_OTLP_HEADERS" in caplog.text and "x-api-key" in caplog.text
        assert receiver.headers[0]["x-api-key"] == "s3cr3t-key"
        t.shutdown()
    finally:
        receiver.close()


def test_an_unusable_profile_store_from_the_environment_disables_profiling(monkeypatch, caplog, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("AGENTTRACE_PROFILE_STORE", str(blocker / "profiles"))
    with caplog.at_level(logging.WARNING):
        t = agenttrace.configure(project="p", endpoint="http://127.0.0.1:9/v1/traces", set_global=False,
                                 exit_timeout=0)
    assert t.profiler is None
    (warning,) = _agenttrace_warnings(caplog)
    assert "AGENTTRACE_PROFILE_STORE" in warning and "no trajectory profiling" in warning
    t.shutdown(timeout=0)


def test_the_application_starts_with_a_bad_protocol_in_its_environment():
    """The issue's crash, end to end: a fresh interpreter, the variable set, configure() at start-up."""
    code = "import agenttrace; t = agenttrace.configure(project='p'); print(t.protocol)"
    env = {**__import__("os").environ, "OTEL_EXPORTER_OTLP_PROTOCOL": "weird"}
    out = run_python(code, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "http/protobuf", out.stderr
    assert "OTEL_EXPORTER_OTLP_PROTOCOL='weird'" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("option,value", [("protocol", "http/json"), ("endpoint", "collector:4318"),
                                          ("export_timeout", "soon"), ("export_timeout", 0),
                                          ("exit_timeout", -1), ("max_queue_size", 0)])
def test_a_bad_argument_in_code_still_raises(option, value):
    with pytest.raises(ValueError, match=option if option != "protocol" else "protocol"):
        agenttrace.configure(project="p", set_global=False, **{option: value})


@pytest.mark.parametrize("variable,value", [(v, x) for v, x, *_ in BAD_ENV])
def test_cli_config_reports_a_bad_environment_value_with_exit_2_and_one_line(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and variable in result.stderr and "Traceback" not in result.stderr


def test_cli_config_shows_the_resolved_export_timeout(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2.5")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0 and "export timeout:   2.5 s" in result.stdout


def test_export_timeout_default_and_environment(monkeypatch):
    t = agenttrace.configure(project="p", endpoint="http://127.0.0.1:9/v1/traces", set_global=False, exit_timeout=0)
    assert t.export_timeout == 5.0 and t.processor.exporter._client._timeout == 5.0
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "7")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2")  # the signal-specific one wins
    g = agenttrace.configure(project="p", endpoint="http://127.0.0.1:9", protocol="grpc", set_global=False,
                             exit_timeout=0)
    assert g.export_timeout == 2.0 and g.processor.exporter._timeout == 2.0
    for x in (t, g):
        x.shutdown(timeout=0)


# ------------------------------------------------------------------------------------ signature

OPTIONS = ("redact", "max_content_length", "run_ttl", "max_open_runs", "batch", "max_queue_size",
           "schedule_delay_millis", "export_timeout", "set_global", "profiles", "scorer", "theme_json",
           "metrics_queue_size", "embedding_model", "profile_store", "segment_keys", "profile_window", "clock",
           "exit_timeout", "handle_sigterm")


def test_every_option_is_a_documented_keyword_only_parameter():
    params = inspect.signature(agenttrace.configure).parameters
    assert not [p for p in params.values() if p.kind is p.VAR_KEYWORD]
    doc = inspect.getdoc(agenttrace.configure)
    assert all(params[name].kind is inspect.Parameter.KEYWORD_ONLY for name in OPTIONS)
    for name, param in params.items():  # every parameter, including ones added later
        assert param.annotation is not inspect.Parameter.empty, name
        assert f"\n    {name}: " in doc, f"{name} has no line in configure()'s docstring"
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        agenttrace.configure(project="p", colour="blue")
