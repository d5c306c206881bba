"""Real LangChain runnables for the dead-letter tests and benchmarks, and the writer process the
kill -9 trials run (``python dead_letter_agents.py write STORE``)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableLambda


class ProviderError(Exception):
    """An error shaped like a provider SDK's: an HTTP status on ``status_code``."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


def provider(status: int = 429, failures: int = 10**9):
    """A model call that fails ``failures`` times with ``status``, then answers."""
    calls = {"n": 0}

    def call(inputs):
        calls["n"] += 1
        if calls["n"] <= failures:
            raise ProviderError(f"Error code: {status} - rate limit reached for request req_{calls['n']}", status)
        return {"answer": "ok"}

    return RunnableLambda(call, name="provider_call")


def _record(inputs):
    """The replay target: appends the brief to $DLQ_REPLAY_LOG (O_APPEND, one line per run) and
    answers; fails for briefs starting with "bad"."""
    brief = inputs["brief"] if isinstance(inputs, dict) else str(inputs)
    path = os.environ.get("DLQ_REPLAY_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{os.getpid()} {brief}\n".encode())
        finally:
            os.close(fd)
    time.sleep(float(os.environ.get("DLQ_REPLAY_DELAY", "0")))  # a model call's latency, so replayers overlap
    if str(brief).startswith("bad"):
        raise ValueError(f"cannot write copy for {brief}")
    return {"copy": f"copy for {brief}"}


replay_target = RunnableLambda(_record, name="copywriter")


def write(store: str, count: int = 10**9) -> None:
    """Fail runs one after another into the dead-letter queue; print ``ACK <brief>`` once each
    entry is committed (``flush``), so a parent that kills this process knows what was acknowledged."""
    import agenttrace
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    at = agenttrace.configure(project="dlq-kill", span_exporter=InMemorySpanExporter(), set_global=False,
                              dead_letter=store, handle_sigterm=False)
    # the recommended policy's retry filter, without its backoff waits (this loop fails on purpose)
    agent = provider(429).with_retry(stop_after_attempt=2, wait_exponential_jitter=False,
                                     retry_if_exception_type=(agenttrace.RetryableError,))
    print("READY", flush=True)
    for i in range(count):
        brief = f"brief-{i}"
        try:
            agent.invoke({"brief": brief, "messages": [HumanMessage(f"write copy for {brief}")]},
                         config={"callbacks": [at.callback_handler]})
        except Exception:  # noqa: BLE001 - the expected failure
            pass
        if at.dead_letter.flush(10.0):
            print(f"ACK {brief}", flush=True)


def kill_trial(store: str, rng: random.Random, min_kill: float = 0.2, max_kill: float = 1.5) -> dict:
    """Start a writer process, SIGKILL it a random time after its first acknowledged entry, then
    check the store: every acknowledged entry must be there (and the database intact)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, __file__, "write", store], stdout=subprocess.PIPE, text=True, env=env)
    acked = []
    try:
        assert proc.stdout.readline().strip() == "READY"
        first = proc.stdout.readline().strip()
        assert first.startswith("ACK "), first
        acked.append(first[4:])
        time.sleep(rng.uniform(min_kill, max_kill))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        acked += [line[4:].strip() for line in proc.stdout.read().splitlines() if line.startswith("ACK ")]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    from agenttrace.dead_letter_store import open_store

    reader = open_store(store)
    found = {e["input"]["brief"] for e in reader.list(limit=10**9)}
    integrity = None
    if not store.startswith("postgres"):
        import sqlite3

        integrity = sqlite3.connect(store).execute("PRAGMA integrity_check").fetchone()[0]
    reader.close()
    lost = [b for b in acked if b not in found]
    return {"acknowledged": len(acked), "stored": len(found), "lost": len(lost), "integrity": integrity}


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 10**9)
