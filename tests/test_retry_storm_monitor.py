"""The retry monitor end to end: concurrent LangChain runs of a chat model ``.with_retry(...)`` that
hits a rate limit, traced through ``configure()``; flat waits are a herd, jittered waits are not."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agenttrace
from agenttrace import semconv as sc

# LangChain's ExponentialJitterParams names the first wait "initial"; tenacity now calls it "multiplier"
# (LangChain's model drops that key) and warns about "initial"
pytestmark = pytest.mark.filterwarnings("ignore:The 'initial' parameter is deprecated:DeprecationWarning")
from agenttrace.retry_monitor import RetryMonitor
from agenttrace.testing import ScriptedChatModel


class RateLimitError(Exception):
    """Shaped like openai.RateLimitError: ``status_code`` and an httpx ``response``."""

    def __init__(self) -> None:
        request = httpx.Request("POST", "https://api.example.test/v1/chat/completions")
        self.response = httpx.Response(429, headers={"retry-after-ms": "200"}, request=request)
        self.status_code = 429
        super().__init__("Rate limit reached for gpt-4o-mini")


def limited_model(runs: int, failures: int, exhaust: str = "") -> ScriptedChatModel:
    """A chat model whose first ``failures`` calls for each input are rate limited; the first ones of
    all ``runs`` inputs fail together (they hit the limit at the same moment)."""
    seen: dict = {}
    lock = threading.Lock()
    together = threading.Barrier(runs, timeout=10)

    def reply(messages):
        text = messages[-1].content
        with lock:
            seen[text] = n = seen.get(text, 0) + 1
        if n == 1:
            together.wait()
        if n <= failures or text == exhaust:
            raise RateLimitError()
        return f"copy for {text}"

    return ScriptedChatModel(replies=[reply], model="gpt-4o-mini", provider="openai")


def run_batch(at, runnable, runs: int) -> list:
    def one(i):
        try:
            return runnable.invoke(f"brief {i}", config={"callbacks": [at.callback_handler]}).content
        except RateLimitError as err:
            return err

    with ThreadPoolExecutor(max_workers=runs) as pool:
        return list(pool.map(one, range(runs)))


@pytest.fixture
def traced():
    exporter = InMemorySpanExporter()
    made = []

    def make(**monitor):
        at = agenttrace.configure(span_exporter=exporter, batch=False, set_global=False, handle_sigterm=False,
                                  retry_monitor=monitor or True)
        made.append(at)
        return at

    yield make, exporter
    for at in made:
        at.shutdown()


def test_flat_retries_of_concurrent_runs_are_a_storm_and_a_herd(traced, caplog):
    make, exporter = traced
    at = make()
    runs = 24
    model = limited_model(runs, failures=2, exhaust="brief 0")
    runnable = model.with_retry(stop_after_attempt=3, wait_exponential_jitter=True,
                                exponential_jitter_params={"initial": 0.2, "jitter": 0.0})  # backoff, no jitter
    with caplog.at_level(logging.WARNING, logger="agenttrace"):
        results = run_batch(at, runnable, runs)
        at.retry_monitor.force_flush()
    assert sum(isinstance(r, RateLimitError) for r in results) == 1

    kinds = {e.kind: e for e in at.retry_monitor.storms()}
    assert set(kinds) == {"storm", "herd"}
    storm, herd = kinds["storm"], kinds["herd"]
    assert (storm.provider, storm.model) == ("openai", "gpt-4o-mini")
    assert storm.amplification > 1.5 and storm.active  # detected while the batch was still retrying
    assert herd.jitter_missing is True and herd.bunched_retries >= 10
    lines = [r.getMessage() for r in caplog.records if r.name == "agenttrace" and r.levelno == logging.WARNING]
    storm_lines = [line for line in lines if "retry storm on openai gpt-4o-mini" in line]
    herd_lines = [line for line in lines if "thundering herd on openai gpt-4o-mini" in line]
    assert len(storm_lines) == 1 and len(herd_lines) == 1
    assert f"amplification {storm.amplification:.2f}" in storm_lines[0] and "jitter missing" in storm_lines[0]
    assert "429: " in storm_lines[0] and "exhausted: " in storm_lines[0]

    snapshot = at.retry_monitor.snapshot()
    assert snapshot["totals"]["calls"] == runs and snapshot["totals"]["attempts"] == 3 * runs
    assert snapshot["totals"]["rate_limited"] == 2 * runs + 1 and snapshot["totals"]["exhausted"] == 1
    assert snapshot["storms"] == 1 and snapshot["herds"] == 1
    assert snapshot["windows"]["openai gpt-4o-mini"]["amplification"] == pytest.approx(3.0)

    # while it lasts, the next spans of that provider/model carry the event
    exporter.clear()
    ScriptedChatModel(replies=["ok"], model="gpt-4o-mini").invoke("one more", config={"callbacks": [at.callback_handler]})
    ScriptedChatModel(replies=["ok"], model="gpt-4.1").invoke("other model", config={"callbacks": [at.callback_handler]})
    marked = {s.attributes[sc.REQUEST_MODEL]: [e for e in s.events if e.name == sc.RETRY_STORM_EVENT]
              for s in exporter.get_finished_spans() if sc.REQUEST_MODEL in s.attributes}
    assert marked["gpt-4.1"] == []
    (event,) = marked["gpt-4o-mini"]
    assert event.attributes[sc.RETRY_STORM_KIND] == "storm+herd"
    assert event.attributes[sc.RETRY_STORM_JITTER_MISSING] is True
    assert event.attributes[sc.RETRY_STORM_AMPLIFICATION] == pytest.approx(storm.amplification, abs=1e-3)


def test_jittered_retries_of_as_many_runs_are_a_storm_but_no_herd(traced, caplog):
    make, _ = traced
    at = make(min_calls=10)
    runs = 20
    runnable = limited_model(runs, failures=1).with_retry(
        stop_after_attempt=3, wait_exponential_jitter=True, exponential_jitter_params={"initial": 0.02, "jitter": 1.0})
    with caplog.at_level(logging.WARNING, logger="agenttrace"):
        run_batch(at, runnable, runs)
        at.retry_monitor.force_flush()
    assert [e.kind for e in at.retry_monitor.storms()] == ["storm"]
    (line,) = [r.getMessage() for r in caplog.records if "retry storm" in r.getMessage()]
    assert "retry waits are jittered" in line
    assert at.retry_monitor.snapshot()["windows"]["openai gpt-4o-mini"]["amplification"] == pytest.approx(2.0)


def test_recovery_is_one_line_and_ends_the_events(traced, caplog):
    make, exporter = traced
    at = make(min_calls=5, window_s=2)
    runs = 6
    runnable = limited_model(runs, failures=1).with_retry(stop_after_attempt=2, wait_exponential_jitter=False)
    with caplog.at_level(logging.WARNING, logger="agenttrace"):
        run_batch(at, runnable, runs)
        at.retry_monitor.force_flush()
        assert at.retry_monitor.storms(active_only=True)
        threading.Event().wait(2.1)  # the window slides past the storm
        at.retry_monitor.force_flush()
    (episode,) = [e for e in at.retry_monitor.storms() if e.kind == "storm"]
    assert not episode.active and episode.recovered_ns > episode.detected_ns
    assert len([r for r in caplog.records if "retry storm on openai gpt-4o-mini is over" in r.getMessage()]) == 1
    exporter.clear()
    ScriptedChatModel(replies=["ok"], model="gpt-4o-mini").invoke("calm", config={"callbacks": [at.callback_handler]})
    assert all(not s.events for s in exporter.get_finished_spans())


def test_the_agent_thread_only_enqueues(provider):
    monitor = RetryMonitor(start=False)  # no background thread: nothing is decided until process()
    provider.add_span_processor(monitor)
    handler = agenttrace.CallbackHandler(provider)
    ScriptedChatModel(replies=["ok"], model="gpt-4o-mini").invoke("hi", config={"callbacks": [handler]})
    assert monitor.snapshot()["totals"]["attempts"] == 0 and len(monitor._queue) == 1
    monitor.process()
    assert monitor.snapshot()["totals"] == {"calls": 1, "attempts": 1, "rate_limited": 0, "server_errors": 0,
                                            "timeouts": 0, "exhausted": 0}


def test_configure_rejects_bad_thresholds_and_can_turn_it_off():
    with pytest.raises(ValueError, match="retry_monitor has no setting"):
        agenttrace.configure(span_exporter=InMemorySpanExporter(), set_global=False, retry_monitor={"treshold": 2})
    at = agenttrace.configure(span_exporter=InMemorySpanExporter(), set_global=False, handle_sigterm=False,
                              retry_monitor=False)
    assert at.retry_monitor is None
    at.shutdown()
