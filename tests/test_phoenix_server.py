"""The local Phoenix server: install, start, status, stop, failures, and the ``agenttrace phoenix`` CLI.

Real ``phoenix serve`` processes from the shared venv (see phoenix_fixtures); no mocks.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from agenttrace.cli import main
from agenttrace_phoenix import LocalPhoenix, PhoenixError, find_running
from phoenix_fixtures import free_port, shared_venv


def serving(data_dir: Path) -> list[int]:
    """Pids of live processes serving Phoenix from ``data_dir`` (found by their environment)."""
    needle = f"PHOENIX_WORKING_DIR={data_dir}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle in (entry / "environ").read_bytes().split(b"\0"):
                if (entry / "stat").read_text().split()[2] != "Z":
                    pids.append(int(entry.name))
        except OSError:
            pass
    return pids


@pytest.fixture
def local(tmp_path) -> LocalPhoenix:
    server = LocalPhoenix(tmp_path / "px", venv_dir=shared_venv())
    yield server
    server.stop(timeout=5)
    assert serving(server.data_dir) == []


def test_start_status_stop(local):
    info = local.start(port=free_port(), grpc_port=free_port())
    assert info.url == f"http://127.0.0.1:{info.port}"
    assert info.otlp_http_endpoint == info.url + "/v1/traces"
    assert info.otlp_grpc_endpoint == f"http://127.0.0.1:{info.grpc_port}"
    assert info.working_dir == local.data_dir and info.log_file.is_file()
    assert serving(local.data_dir) == [info.pid]

    assert local.status() == info
    assert find_running(local.base_dir) == info
    assert local.start() == info  # already running: no second server
    with urllib.request.urlopen(info.url + "/healthz", timeout=5) as response:
        assert response.status == 200
    state = json.loads(local.state_file.read_text())
    assert state["pid"] == info.pid and state["grpc_port"] == info.grpc_port and state["version"] == info.version

    assert local.stop() is True
    assert local.status() is None
    assert not local.state_file.exists()
    assert serving(local.data_dir) == []
    with pytest.raises(ProcessLookupError):
        os.kill(info.pid, 0)
    assert local.stop() is False


@pytest.mark.parametrize("which", ["port", "grpc_port"])
def test_requested_port_in_use(local, which):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        with pytest.raises(PhoenixError, match=f"port {taken} is already in use"):
            local.start(**{which: taken})
    assert not local.data_dir.exists() and not local.state_file.exists()  # refused before spawning
    assert serving(local.data_dir) == []


def test_start_timeout_kills_the_server(local):
    with pytest.raises(PhoenixError, match="did not answer within"):
        local.start(port=free_port(), grpc_port=free_port(), timeout=0.5)
    assert serving(local.data_dir) == []
    assert local.status() is None and not local.state_file.exists()


def test_install_failure_names_pip(tmp_path):
    server = LocalPhoenix(tmp_path / "px", version="0.0.0", venv_dir=tmp_path / "venv")
    with pytest.raises(PhoenixError) as raised:
        server.install(log=lambda line: None)
    message = str(raised.value)
    assert "pip install arize-phoenix==0.0.0 failed" in message
    assert str(server.install_log) in message and "is ignored" not in message
    assert not server.installed  # no marker: the next install retries


def write_state(server: LocalPhoenix, pid: int) -> None:
    server.base_dir.mkdir(parents=True, exist_ok=True)
    server.state_file.write_text(json.dumps({
        "pid": pid, "port": 1, "grpc_port": 2, "url": "http://127.0.0.1:1", "version": "x",
        "working_dir": str(server.data_dir), "log_file": str(server.log_file)}))


def test_stale_state_file_is_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    server = LocalPhoenix(tmp_path / "px", venv_dir=shared_venv())
    write_state(server, dead.pid)
    assert server.status() is None
    assert not server.state_file.exists()


def test_recycled_pid_is_not_signalled(tmp_path):
    """The state file's pid now belongs to another program: it is neither reported nor killed."""
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        server = LocalPhoenix(tmp_path / "px", venv_dir=shared_venv())
        write_state(server, other.pid)
        assert server.stop() is False
        assert other.poll() is None
        write_state(server, other.pid)
        assert server.status() is None and not server.state_file.exists()
    finally:
        other.kill()
        other.wait()


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_help():
    result = CliRunner().invoke(main, ["phoenix", "--help"])
    assert result.exit_code == 0
    for command in ("start", "stop", "status", "url"):
        assert command in result.output


def test_cli_start_uses_configured_endpoint(tmp_path):
    env = {"PHOENIX_COLLECTOR_ENDPOINT": "http://phoenix.example:6006"}
    result = CliRunner().invoke(main, ["phoenix", "start", "--dir", str(tmp_path / "px")], env=env)
    assert result.exit_code == 0, result.output
    assert "PHOENIX_COLLECTOR_ENDPOINT=http://phoenix.example:6006" in result.output
    assert "not starting" in result.output
    assert not (tmp_path / "px").exists()


def test_cli_status_and_stop_when_none_running(tmp_path):
    runner = CliRunner()
    status = runner.invoke(main, ["phoenix", "status", "--dir", str(tmp_path)])
    assert status.exit_code == 1 and "no local Phoenix is running" in status.output
    url = runner.invoke(main, ["phoenix", "url", "--dir", str(tmp_path)])
    assert url.exit_code == 1 and "Traceback" not in url.output
    stop = runner.invoke(main, ["phoenix", "stop", "--dir", str(tmp_path)])
    assert stop.exit_code == 0 and "no local Phoenix is running" in stop.output


def test_cli_start_port_in_use_is_one_line(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        result = CliRunner().invoke(main, ["phoenix", "start", "--local", "--port", str(taken), "--dir", str(tmp_path)],
                                    env={"AGENTTRACE_PHOENIX_VENV": str(shared_venv())})
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: port {taken} is already in use"


def test_cli_without_the_integration_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "agenttrace_phoenix", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "agenttrace_phoenix.cli", raising=False)
    result = CliRunner().invoke(main, ["phoenix", "status", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "pip install -e integrations/phoenix" in result.output and "Traceback" not in result.output


def test_cli_finds_a_server_started_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("AGENTTRACE_PHOENIX_DIR", raising=False)
    server = LocalPhoenix(tmp_path / "project" / ".agenttrace" / "phoenix", venv_dir=shared_venv())
    info = server.start(port=free_port(), grpc_port=free_port())
    try:
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        runner = CliRunner()
        status = runner.invoke(main, ["phoenix", "status"])
        assert status.exit_code == 0 and f"(pid {info.pid}" in status.output and str(server.data_dir) in status.output
        assert runner.invoke(main, ["phoenix", "url"]).output.strip() == info.url
        assert find_running() == info
        stop = runner.invoke(main, ["phoenix", "stop"])
        assert stop.exit_code == 0 and "Phoenix stopped" in stop.output, stop.output
        assert server.status() is None and not list((tmp_path / "state").rglob("*.json"))  # pointer removed
        assert runner.invoke(main, ["phoenix", "status"]).exit_code == 1
    finally:
        server.stop(timeout=5)
