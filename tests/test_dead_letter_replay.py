"""`agenttrace dlq`: list / show / replay / resolve / purge, replay semantics and concurrent replayers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agenttrace
from agenttrace import semconv as sc
from agenttrace.cli import main
from agenttrace.dead_letter_replay import replay
from agenttrace.dead_letter_store import SQLiteStore, open_store

TESTS = Path(__file__).resolve().parent


def entries(briefs, trace_id=None):
    return [{"id": uuid.uuid4().hex, "created_at": time.time() - 1 + i * 1e-3, "trace_id": trace_id or "ab" * 16,
             "span_id": "cd" * 8, "agent": "copywriter", "replay_agent": None, "input": {"brief": b},
             "metadata": {"client_category": "retail"}, "tags": ["batch"], "error_type": "RateLimitError",
             "error_message": "429", "attempts": 3} for i, b in enumerate(briefs)]


@pytest.fixture
def env(tmp_path, monkeypatch):
    log = tmp_path / "replays.log"
    monkeypatch.setenv("DLQ_REPLAY_LOG", str(log))
    monkeypatch.syspath_prepend(str(TESTS))
    return log


def _replayed(log: Path) -> list:
    return [line.split(" ", 1)[1] for line in log.read_text().splitlines()] if log.exists() else []


def _check_replay_semantics(store, log):
    store.add_many(entries(["a", "bad-1", "c"]))
    exporter = InMemorySpanExporter()
    at = agenttrace.configure(project="replay", span_exporter=exporter, set_global=False, batch=False,
                              handle_sigterm=False)
    outcomes = replay(store, at, "dead_letter_agents:replay_target", limit=10)
    assert [o.ok for o in outcomes] == [True, False, True]
    assert _replayed(log) == ["a", "bad-1", "c"]
    by_input = {e["input"]["brief"]: e for e in store.list()}
    assert by_input["a"]["status"] == "replayed" and by_input["a"]["replays"] == 1
    assert by_input["bad-1"]["status"] == "failed" and "cannot write copy" in by_input["bad-1"]["replay_error"]
    # a successful replay is never replayed again; a failed one only when asked
    assert replay(store, at, "dead_letter_agents:replay_target", limit=10) == []
    again = replay(store, at, "dead_letter_agents:replay_target", limit=10, include_failed=True)
    assert [o.entry_id for o in again] == [by_input["bad-1"]["id"]]
    assert _replayed(log) == ["a", "bad-1", "c", "bad-1"]
    # traced, linked to the original trace, outcome recorded
    spans = exporter.get_finished_spans()
    replays = [s for s in spans if s.name == sc.DEAD_LETTER_REPLAY_SPAN]
    assert len(replays) == 4
    assert all(format(s.links[0].context.trace_id, "032x") == "ab" * 16 for s in replays)
    assert [s.attributes[sc.DEAD_LETTER_OUTCOME] for s in replays] == ["replayed", "failed", "replayed", "failed"]
    agent_runs = [s for s in spans if s.parent is not None and s.parent.span_id == replays[0].context.span_id]
    assert agent_runs and agent_runs[0].attributes[sc.WORKFLOW_NAME] == "copywriter"
    at.shutdown(timeout=5)


def test_replay_semantics_sqlite(tmp_path, env):
    _check_replay_semantics(SQLiteStore(str(tmp_path / "dlq.sqlite")), env)


def test_replay_semantics_postgresql(postgres_url, env):
    _check_replay_semantics(open_store(postgres_url), env)


def _cli(store, *args, env=None):
    return CliRunner().invoke(main, ["dlq", "--store", store, *args], env=env)


def test_cli_list_show_dry_run_resolve_purge(tmp_path, env):
    path = str(tmp_path / "dlq.sqlite")
    store = SQLiteStore(path)
    first, second = entries(["a", "b"])
    store.add_many([first, second])
    listed = _cli(path, "list")
    assert listed.exit_code == 0 and first["id"] in listed.output and "RateLimitError" in listed.output
    assert json.loads(_cli(path, "show", first["id"]).output)["input"] == {"brief": "a"}
    missing = _cli(path, "show", "nope")
    assert missing.exit_code == 1 and "no dead-letter entry 'nope'" in missing.output
    dry = _cli(path, "replay", "--dry-run", "--agent", "dead_letter_agents:replay_target")
    assert dry.exit_code == 0 and dry.output.count("would replay") == 2 and "input loads" in dry.output
    assert _replayed(env) == [] and {e["status"] for e in store.list()} == {"pending"}
    assert _cli(path, "resolve", second["id"], "--note", "content policy: brief rewritten").exit_code == 0
    assert store.get(second["id"])["note"] == "content policy: brief rewritten"
    assert _cli(path, "purge", "--older-than", "soon").exit_code == 2
    assert "purged 0" in _cli(path, "purge", "--older-than", "1h").output  # too young
    assert "purged 1" in _cli(path, "purge", "--older-than", "0s").output  # the resolved one
    assert [e["id"] for e in store.list()] == [first["id"]]  # the pending one stays
    for sub in ("list", "show", "replay", "resolve", "purge"):
        assert _cli(path, sub, "--help").exit_code == 0
    assert "dlq" in CliRunner().invoke(main, ["--help"]).output


def test_cli_unreachable_store_is_one_line():
    result = _cli("postgresql://postgres@127.0.0.1:9/none", "list")
    assert result.exit_code == 1
    assert result.output.startswith("Error: dead-letter store 'postgresql://postgres@127.0.0.1:9/none': ")
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def _replayer(store: str, log: Path, limit: int = 1000, delay: float = 0.03) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(TESTS), "DLQ_REPLAY_LOG": str(log), "DLQ_REPLAY_DELAY": str(delay),
           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_EXPORTER_OTLP_TIMEOUT": "1"}  # nothing listens
    return subprocess.Popen([sys.executable, "-m", "agenttrace.cli", "dlq", "--store", store, "replay", "--agent",
                             "dead_letter_agents:replay_target", "--limit", str(limit)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_two_replayers(store_url: str, log: Path, n: int = 60, delay: float = 0.03) -> dict:
    """Two replayer processes on the same queue: every entry replayed exactly once. Returns per-process counts."""
    store = open_store(store_url)
    batch = entries([f"brief-{i}" for i in range(n)])
    store.add_many(batch)
    procs = [_replayer(store_url, log, delay=delay) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    runs = _replayed(log)
    assert sorted(runs) == sorted(e["input"]["brief"] for e in batch)  # each exactly once: no double processing
    assert {e["status"] for e in store.list(limit=n)} == {"replayed"}
    counts = {p.pid: o[0].count("replayed ") for p, o in zip(procs, outs)}
    assert all(counts.values()), counts  # both took entries: they really ran side by side
    return counts


def test_two_concurrent_replayers_sqlite(tmp_path):
    check_two_replayers(str(tmp_path / "dlq.sqlite"), tmp_path / "replays.log")


def test_two_concurrent_replayers_postgresql(postgres_url, tmp_path):
    check_two_replayers(postgres_url, tmp_path / "replays.log")


def test_a_dead_replayers_claim_is_retaken_after_its_lease_and_its_late_outcome_is_refused(tmp_path):
    store = SQLiteStore(str(tmp_path / "dlq.sqlite"))
    [entry] = entries(["a"])
    store.add_many([entry])
    assert [e["id"] for e in store.claim("dead-replayer")] == [entry["id"]]
    assert store.claim("second") == []  # claimed: nobody else takes it within the lease
    assert [e["id"] for e in store.claim("second", lease=0.0)] == [entry["id"]]  # the lease has passed
    assert store.complete(entry["id"], "dead-replayer", True, None, None) is False  # no longer its claim
    assert store.complete(entry["id"], "second", True, "ef" * 16, None) is True
    assert store.claim("third", lease=0.0) == []  # replayed: never taken again
