"""Always-on trajectory profiling: real agents, the real OTel SDK, the TrajectoryProcessor worker."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from langchain_core.runnables import RunnableLambda
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agenttrace
from agenttrace.profiling import TrajectoryProcessor
from agenttrace.testing import ScriptedChatModel
from conftest import ask, build_agent


class ListSink:
    """A trajectory sink that keeps rows in memory (the TrajectorySink protocol)."""

    def __init__(self):
        self.rows, self.flushes, self.closed = [], 0, False
        self.lock = threading.Lock()

    def write(self, trajectories):
        with self.lock:
            self.rows.extend(trajectories)

    def flush(self):
        self.flushes += 1

    def close(self):
        self.closed = True


class LengthScorer:
    """A heavy-metric scorer (the agenttrace Scorer protocol) that is slow on purpose, so the metric
    worker ends LLM spans well after their run has ended."""

    metrics = ("refusal_similarity",)

    def score(self, pairs, metrics):
        time.sleep(0.05)
        return [{"refusal_similarity": 0.9 if "sorry" in response.lower() else 0.1} for _, response in pairs]


PROFILES = {"profiles": {"p": {"metrics": ["refusal_similarity"], "thresholds": {"refusal_similarity": 0.5}}},
            "rules": [{"match": {"operation": "chat"}, "profile": "p"}]}


def configure(sink, **kw):
    return agenttrace.configure(project="profiling", span_exporter=InMemorySpanExporter(), batch=False, set_global=False,
                                profile_store=sink, **kw)


def test_every_run_becomes_one_trajectory_with_its_features():
    sink = ListSink()
    at = configure(sink)
    graph = build_agent()
    for i in range(3):
        graph.invoke(ask(), config={"callbacks": [at.callback_handler], "configurable": {"thread_id": f"t{i}"},
                                    "metadata": {"segment": "B", "prompt_template": "support-v2", "client_category": "retail"}})
    assert at.flush(10)
    assert len(sink.rows) == 3 and sink.flushes >= 1
    row = sink.rows[0]
    assert row.segments == {"agent": "support-bot", "prompt_template": "support-v2", "segment": "B",
                            "client_category": "retail", "request_model": "gpt-4o"}
    f = row.features
    assert f["tool_sequence"] == "order_status>start_return"
    assert f["route_path"] == "tools>tools>__end__"
    assert f["llm_calls"] == 3 and f["tool_calls"] == 2 and f["step_count"] == 5
    assert f["response_model"] == "gpt-4o-2024-08-06" and f["fingerprint"] == "fp_abc"
    assert f["model_version"] == "gpt-4o → gpt-4o-2024-08-06 (fp_abc)"
    assert f["error"] == 0 and f["retry_count"] == 0 and f["input_tokens"] > 0 and f["latency_ms"] > 0
    assert len({r.trace_id for r in sink.rows}) == 3
    at.shutdown()
    assert sink.closed


def test_scores_that_arrive_after_the_run_ended_are_in_its_row():
    sink = ListSink()
    at = configure(sink, profiles=PROFILES, scorer=LengthScorer())
    model = ScriptedChatModel(replies=["Here is your copy.", "I'm sorry, but I can't help with that."], model="m")
    chain = RunnableLambda(lambda x: model.invoke(x), name="writer")
    for _ in range(4):
        chain.invoke("write", config={"callbacks": [at.callback_handler]})
    assert at.flush(10)
    flagged = sorted(r.features["refusal_flagged"] for r in sink.rows)
    assert flagged == [0.0, 0.0, 1.0, 1.0]
    assert sorted(r.features["refusal_similarity"] for r in sink.rows) == [0.1, 0.1, 0.9, 0.9]
    at.shutdown()


def test_retries_errors_and_concurrent_runs():
    sink = ListSink()
    at = configure(sink)
    calls = {"n": 0}

    def flaky(x):
        calls["n"] += 1
        if calls["n"] % 3:
            raise ConnectionError("429 Too Many Requests")
        return x

    retried = RunnableLambda(flaky, name="provider").with_retry(stop_after_attempt=3, wait_exponential_jitter=False)
    retried.invoke("a", config={"callbacks": [at.callback_handler]})
    with pytest.raises(ValueError):
        RunnableLambda(lambda x: (_ for _ in ()).throw(ValueError("bad")), name="broken").invoke(
            "b", config={"callbacks": [at.callback_handler]})
    graph = build_agent()

    async def many():
        await asyncio.gather(*(graph.ainvoke(ask(), config={"callbacks": [at.callback_handler]}) for _ in range(20)))

    asyncio.run(many())
    assert at.flush(10)
    retry_row = next(r for r in sink.rows if r.segments["agent"] == "provider")
    assert retry_row.features["retry_count"] == 2 and retry_row.features["retry_exhausted"] == 0
    error_row = next(r for r in sink.rows if r.segments["agent"] == "broken")
    assert error_row.features["error"] == 1 and error_row.features["error_type"] == "ValueError"
    agents = [r for r in sink.rows if r.segments["agent"] == "support-bot"]
    assert len(agents) == 20 and len({r.trace_id for r in agents}) == 20
    assert all(r.features["tool_sequence"] == "order_status>start_return" for r in agents)
    at.shutdown()


def test_run_under_an_application_span_is_profiled_when_the_tree_ends():
    sink = ListSink()
    at = configure(sink)
    tracer = at.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("POST /support"):
        build_agent().invoke(ask(), config={"callbacks": [at.callback_handler]})
        at.flush(10)
        assert sink.rows == []  # the request span is still open
    assert at.flush(10)
    assert len(sink.rows) == 1 and sink.rows[0].segments["agent"] == "support-bot"
    at.shutdown()


def test_clock_sets_span_and_trajectory_times():
    sink = ListSink()
    offset = 10 * 86400 * 10**9  # ten days ago
    exporter = InMemorySpanExporter()
    at = agenttrace.configure(project="clock", span_exporter=exporter, batch=False, set_global=False, profile_store=sink,
                              clock=lambda: time.time_ns() - offset)
    build_agent().invoke(ask(), config={"callbacks": [at.callback_handler]})
    assert at.flush(10)
    spans = exporter.get_finished_spans()
    now = time.time_ns()
    assert all(now - offset - 60e9 < s.start_time <= s.end_time < now - offset + 60e9 for s in spans)
    assert abs(sink.rows[0].end_time - (now - offset) / 1e9) < 60
    at.shutdown()


def test_a_failing_sink_never_reaches_the_agent():
    class Broken(ListSink):
        def write(self, trajectories):
            raise OSError("disk full")

    at = configure(Broken())
    result = build_agent().invoke(ask(), config={"callbacks": [at.callback_handler]})
    assert result["messages"][-1].content.startswith("Your order A1 shipped")
    assert at.flush(10)
    at.shutdown()


def test_full_queue_drops_and_counts_instead_of_blocking():
    from opentelemetry.sdk.trace import TracerProvider

    sink = ListSink()
    processor = TrajectoryProcessor(sink, queue_size=1)
    tp = TracerProvider()
    tp.add_span_processor(processor)
    tracer = tp.get_tracer("t")
    for _ in range(2000):
        with tracer.start_as_current_span("x"):
            pass
    assert processor.dropped > 0
    tp.shutdown()
