"""The dead-letter queue: what a failed root run leaves behind, and that the agent never notices."""

from __future__ import annotations

import os
import sqlite3
import stat
import time

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.runnables.retry import RunnableRetry
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agenttrace
from agenttrace import semconv as sc
from agenttrace.dead_letter_store import SQLiteStore
from dead_letter_agents import ProviderError, provider


def _configure(store, **kwargs):
    exporter = InMemorySpanExporter()
    at = agenttrace.configure(project="dlq", span_exporter=exporter, set_global=False, batch=False,
                              handle_sigterm=False, dead_letter=store, **kwargs)
    return at, exporter


def _retrying(status=429, failures=10**9, attempts=3):
    return provider(status, failures).with_retry(stop_after_attempt=attempts, wait_exponential_jitter=False,
                                                 retry_if_exception_type=(agenttrace.RetryableError,))


@pytest.fixture
def store_path(tmp_path):
    return str(tmp_path / ".agenttrace" / "dead-letter.sqlite")


def test_exhausted_root_run_is_stored_with_everything_needed_to_replay_it(store_path):
    at, exporter = _configure(store_path)
    agent = _retrying()
    inputs = {"brief": "spring sale", "messages": [HumanMessage("write copy for the spring sale")]}
    with pytest.raises(ProviderError) as caught:
        agent.invoke(inputs, config={"callbacks": [at.callback_handler], "metadata": {"client_category": "retail"},
                                     "tags": ["overnight-batch"]})
    assert caught.value.status_code == 429  # the agent's own exception, unchanged
    assert at.dead_letter.flush(5)
    at.shutdown(timeout=5)
    [entry] = SQLiteStore(store_path).list()
    root = next(s for s in exporter.get_finished_spans() if s.parent is None)
    assert entry["trace_id"] == format(root.context.trace_id, "032x")
    assert entry["span_id"] == format(root.context.span_id, "016x")
    assert entry["agent"] == root.attributes[sc.WORKFLOW_NAME]
    assert entry["attempts"] == 3
    assert entry["error_type"].endswith("ProviderError") and "429" in entry["error_message"]
    assert entry["metadata"] == {"client_category": "retail"} and entry["tags"] == ["overnight-batch"]
    assert entry["status"] == "pending"
    from agenttrace.dead_letter_replay import load_input

    assert load_input(entry) == inputs  # LangChain's own serialisation: the message comes back as itself
    assert time.time() - entry["created_at"] < 60


def test_only_retryable_failures_after_exhausted_retries_are_stored(store_path):
    at, _ = _configure(store_path)
    cb = {"callbacks": [at.callback_handler]}
    with pytest.raises(ProviderError):
        _retrying(status=400).invoke({"brief": "x"}, config=cb)  # not retryable: a content problem
    assert _retrying(failures=2).invoke({"brief": "y"}, config=cb) == {"answer": "ok"}  # recovered
    with pytest.raises(ProviderError):
        provider(503).invoke({"brief": "z"}, config=cb)  # no retry policy at all
    with pytest.raises(ProviderError):
        _retrying(status=503).invoke({"brief": "kept"}, config=cb)
    at.shutdown(timeout=5)
    assert [e["input"] for e in SQLiteStore(store_path).list()] == [{"brief": "kept"}]


def test_predicate_and_require_retries_are_configurable(store_path):
    config = agenttrace.DeadLetter(store_path, predicate=lambda err: getattr(err, "status_code", 0) == 400,
                                   require_retries=False)
    at, _ = _configure(config)
    cb = {"callbacks": [at.callback_handler]}
    for status in (400, 429):
        with pytest.raises(ProviderError):
            provider(status).invoke({"status": status}, config=cb)
    at.shutdown(timeout=5)
    assert [e["input"] for e in SQLiteStore(store_path).list()] == [{"status": 400}]


def test_redact_hook_applies_to_the_stored_input_and_message(store_path):
    at, _ = _configure(store_path, redact=lambda key, text: text.replace("jane@example.com", "[email]"))
    with pytest.raises(ProviderError):
        _retrying().invoke({"brief": "for jane@example.com"}, config={"callbacks": [at.callback_handler]})
    at.shutdown(timeout=5)
    [entry] = SQLiteStore(store_path).list()
    assert entry["input"] == {"brief": "for [email]"}


def test_sqlite_store_is_wal_and_readable_by_its_owner_only(store_path):
    at, _ = _configure(store_path)
    with pytest.raises(ProviderError):
        _retrying().invoke({"brief": "x"}, config={"callbacks": [at.callback_handler]})
    assert at.dead_letter.flush(5)
    for path in (store_path, store_path + "-wal"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert sqlite3.connect(store_path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    at.shutdown(timeout=5)


def test_unreachable_store_never_blocks_the_agent_and_is_counted(caplog):
    # a real PostgreSQL URL on a port nothing listens on; a queue of one entry
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = agenttrace.DeadLetter(f"postgresql://postgres@127.0.0.1:{port}/none", max_queue=1)
    at, _ = _configure(config)
    agent = _retrying()
    started = time.monotonic()
    for i in range(3):
        with pytest.raises(ProviderError):
            agent.invoke({"brief": i}, config={"callbacks": [at.callback_handler]})
    assert time.monotonic() - started < 2.0
    deadline = time.monotonic() + 10
    while at.dead_letter.store_errors == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert at.dead_letter.store_errors >= 1 and at.dead_letter.written == 0
    assert at.dead_letter.dropped >= 1  # the queue of one filled up
    assert "dead-letter" in caplog.text
    at.shutdown(timeout=0.5)
    assert at.dead_letter.dropped == 3 - at.dead_letter.written  # nothing silently lost: every entry counted


def test_a_failing_predicate_or_store_never_changes_the_agents_exception(store_path):
    def broken(err):
        raise RuntimeError("predicate bug")

    at, _ = _configure(agenttrace.DeadLetter(store_path, predicate=broken))
    with pytest.raises(ProviderError):
        _retrying().invoke({"brief": "x"}, config={"callbacks": [at.callback_handler]})
    at.shutdown(timeout=5)
    assert SQLiteStore(store_path).list() == []


def test_recommended_retry_is_langchains_with_retry_with_jitter_on_retryable_errors_only():
    retry = agenttrace.with_recommended_retry(provider(400))
    assert isinstance(retry, RunnableRetry)
    assert retry.max_attempt_number == 3 and retry.wait_exponential_jitter is True
    calls = []
    fails = RunnableLambda(lambda x: calls.append(x) or (_ for _ in ()).throw(ProviderError("bad request", 400)))
    with pytest.raises(ProviderError):
        agenttrace.with_recommended_retry(fails).invoke("x")
    assert len(calls) == 1  # a 400 is not retried
    assert isinstance(ProviderError("x", 429), agenttrace.RetryableError)
    assert isinstance(TimeoutError(), agenttrace.RetryableError)
    assert not isinstance(ValueError("x"), agenttrace.RetryableError)


def test_recommended_retry_exhaustion_goes_to_the_dead_letter_queue(store_path):
    at, _ = _configure(store_path)
    agent = agenttrace.with_recommended_retry(provider(429), attempts=2)
    started = time.monotonic()
    with pytest.raises(ProviderError):
        agent.invoke({"brief": "x"}, config={"callbacks": [at.callback_handler]})
    assert time.monotonic() - started >= 0.9  # tenacity waited (exponential backoff with jitter: >= 1 s)
    at.shutdown(timeout=5)
    [entry] = SQLiteStore(store_path).list()
    assert entry["attempts"] == 2


def test_a_graph_whose_node_exhausts_its_retries_is_stored_with_the_graphs_input(store_path):
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        brief: str
        copy: str

    model = _retrying(status=503, attempts=2)

    def write(state: State) -> dict:
        return {"copy": model.invoke({"brief": state["brief"]})["answer"]}

    graph = StateGraph(State)
    graph.add_node("write", write)
    graph.add_edge(START, "write")
    graph.add_edge("write", END)
    agent = graph.compile(name="ad_copy")
    at, _ = _configure(store_path)
    with pytest.raises(ProviderError):
        agent.invoke({"brief": "winter"}, config={"callbacks": [at.callback_handler], "metadata": {"segment": "b2c"}})
    at.shutdown(timeout=5)
    [entry] = SQLiteStore(store_path).list()
    assert entry["agent"] == "ad_copy" and entry["attempts"] == 2
    assert entry["input"] == {"brief": "winter"} and entry["metadata"]["segment"] == "b2c"
