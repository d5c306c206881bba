"""``agenttrace watch`` as a real process: kill -9 while its receiver is slow and failing, restart,
and nothing is lost or sent twice; SIGTERM stops it cleanly (exit 0)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from agenttrace.alerts import Alerter
from drift_traffic import alias_update
from alert_receivers import HookReceiver


def opened_of(receiver) -> list:
    return [b for b in receiver.bodies() if b["event"] == "opened"]


def watch(cwd, *args: str) -> subprocess.Popen:
    """``agenttrace watch --interval 1s ARGS`` as a process of its own."""
    env = dict(os.environ, WHYLOGS_NO_ANALYTICS="1", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "agenttrace.cli", "watch", "--interval", "1s", *args],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start(store, alerts, url, cwd) -> subprocess.Popen:
    return watch(cwd, "--retry-base", "1s", "--store", str(store), "--alert-store", str(alerts), "--webhook", url)


def terminate(proc: subprocess.Popen) -> tuple[str, str]:
    """SIGTERM, then its output once it exited (killed if it does not within a minute)."""
    try:
        proc.send_signal(signal.SIGTERM)
        return proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


def wait_for(condition, timeout: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"watch exited ({proc.returncode}) before {what}: {proc.stderr.read()}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_kill_9_loses_no_pending_delivery_and_sends_no_duplicate_and_sigterm_exits_0(tmp_path):
    store, alerts = tmp_path / "profiles", tmp_path / "alerts.sqlite"
    alias_update(store)
    with HookReceiver() as receiver:
        receiver.status, receiver.delay = 503, 0.3  # slow, then failing: every delivery stays pending
        proc = start(store, alerts, receiver.url, tmp_path)
        try:
            wait_for(lambda: receiver.attempts >= 3, 90, "retried deliveries", proc)  # the first try and retries
        finally:
            proc.kill()  # SIGKILL: no handler, no cleanup
            proc.wait(30)
        assert proc.returncode == -signal.SIGKILL

        alerter = Alerter(str(alerts), [])
        opened = [e["incident_id"] for e in alerter.history(limit=1000) if e["kind"] == "opened"]
        pending = alerter.pending()
        assert opened and receiver.bodies() == []
        assert {p["incident_id"] for p in pending if p["event"] == "opened"} == set(opened)  # kept, not lost

        receiver.status, receiver.delay = 200, 0.0
        proc = start(store, alerts, receiver.url, tmp_path)
        try:
            wait_for(lambda: len(receiver.bodies()) >= len(opened), 90, "the pending deliveries", proc)
            time.sleep(3)  # a few more passes: they must re-open nothing and send nothing
        finally:
            out, err = terminate(proc)
        assert proc.returncode == 0, err
        assert "stopped" in out and "SIGTERM" in err

    delivered = [m["incident"]["id"] for m in opened_of(receiver)]
    assert sorted(delivered) == sorted(opened) and len(set(delivered)) == len(delivered)  # each exactly once
    assert len(receiver.bodies()) == len(opened)
    after = Alerter(str(alerts), [])
    assert len([e for e in after.history(limit=1000) if e["kind"] == "opened"]) == len(opened)  # none re-opened
    assert after.pending() == []


def test_a_failing_pass_is_reported_and_the_next_one_runs(tmp_path):
    """Phoenix is down: each pass fails with one warning line, the watch keeps going, SIGTERM exits 0."""
    from phoenix_fixtures import free_port

    proc = watch(tmp_path, "--store", str(tmp_path / "none"), "--phoenix-project", "support-bot", "--phoenix-url",
                 f"http://127.0.0.1:{free_port()}", "--alert-store", str(tmp_path / "alerts.sqlite"))
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any("pass 2 failed" in line for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, lines
            lines.append(proc.stderr.readline())
    finally:
        out, err = terminate(proc)
    assert proc.returncode == 0, err
    failed = [line for line in lines if "failed" in line]
    assert failed[0].startswith("warning: pass 1 failed: ") and "is Phoenix running" in failed[0], failed
