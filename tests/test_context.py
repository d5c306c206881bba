"""Context correctness: foreign spans nest under ours; concurrent runs never cross; nothing leaks."""

from __future__ import annotations

import asyncio
import threading

from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from opentelemetry import trace

from agenttrace import semconv as sc
from conftest import ask, build_agent, support_model


def test_foreign_spans_nest_in_sync_code(handler, provider, spans):
    user_tracer = provider.get_tracer("user-code")

    @tool
    def lookup(order_id: str) -> str:
        """Look up an order."""
        with user_tracer.start_as_current_span("http GET /orders"):
            return "shipped"

    def node(x):
        with user_tracer.start_as_current_span("db query"):
            return lookup.invoke({"order_id": x})

    assert RunnableLambda(node, name="step").invoke("A1", config={"callbacks": [handler]}) == "shipped"
    s = spans()
    assert s.parent(s.one("http GET /orders")) is s.one("execute_tool lookup")
    assert s.parent(s.one("db query")) is s.one("invoke_workflow step")
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left attached


def test_foreign_spans_nest_in_async_nodes_and_llm_calls(handler, provider, spans):
    user_tracer = provider.get_tracer("user-code")

    @tool
    async def order_status(order_id: str) -> str:
        """Look up the shipping status of an order."""
        with user_tracer.start_as_current_span("async http call"):
            await asyncio.sleep(0)
            return "shipped"

    @tool
    async def start_return(order_id: str, reason: str) -> str:
        """Start a return."""
        with user_tracer.start_as_current_span("async return call"):
            return "ok"

    graph = build_agent(tools=(order_status, start_return))
    asyncio.run(graph.ainvoke(ask(), config={"callbacks": [handler]}))
    s = spans()
    assert s.parent(s.one("async http call")) is s.one("execute_tool order_status")
    assert s.parent(s.one("async return call")) is s.one("execute_tool start_return")
    assert len(s.roots()) == 1


def test_foreign_spans_nest_in_threads(handler, provider, spans):
    user_tracer = provider.get_tracer("user-code")

    def work(i):
        with user_tracer.start_as_current_span(f"worker {i}"):
            return i

    parallel = {f"b{i}": RunnableLambda(lambda _, i=i: work(i), name=f"branch{i}") for i in range(4)}
    from langchain_core.runnables import RunnableParallel

    RunnableParallel(parallel).with_config(run_name="fan_out").invoke(None, config={"callbacks": [handler]})
    s = spans()
    for i in range(4):
        assert s.parent(s.one(f"worker {i}")) is s.one(f"branch{i}")
        assert s.parent(s.one(f"branch{i}")) is s.one("invoke_workflow fan_out")


def test_user_parent_span_wraps_the_agent(handler, provider, spans):
    with provider.get_tracer("app").start_as_current_span("POST /chat") as request:
        build_agent().invoke(ask(), config={"callbacks": [handler]})
        assert trace.get_current_span() is request
    s = spans()
    assert s.parent(s.one("invoke_agent support-bot")) is s.one("POST /chat")


def test_fifty_concurrent_ainvoke_runs_make_fifty_separate_complete_traces(handler, spans):
    graph = build_agent()

    async def main():
        results = await asyncio.gather(*[
            graph.ainvoke(ask(f"order {i}"), config={"callbacks": [handler], "metadata": {"run": i}, "configurable": {"thread_id": f"t{i}"}})
            for i in range(50)
        ])
        assert trace.get_current_span() is trace.INVALID_SPAN
        return results

    results = asyncio.run(main())
    assert all(r["messages"][-1].content for r in results)
    s = spans()
    traces: dict = {}
    for sp in s.all:
        traces.setdefault(sp.context.trace_id, []).append(sp)
    assert len(traces) == 50
    for members in traces.values():
        roots = [m for m in members if m.parent is None]
        assert len(roots) == 1 and roots[0].name == "invoke_agent support-bot"
        # every span of a trace carries that run's own session id: no cross-wired parents
        assert len({m.attributes[sc.CONVERSATION_ID] for m in members}) == 1
        ids = {m.context.span_id for m in members}
        assert all(m.parent is None or m.parent.span_id in ids for m in members)
        names = sorted(m.name for m in members)
        assert names.count("execute_tool order_status") == 1 and names.count("execute_tool start_return") == 1
        assert names.count("chat gpt-4o") == 3
    assert len(handler.runs) == 0
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_threads_running_agents_concurrently(handler, spans):
    graph = build_agent(support_model())
    errors = []

    def run(i):
        try:
            graph.invoke(ask(f"order {i}"), config={"callbacks": [handler], "configurable": {"thread_id": f"th{i}"}})
            assert trace.get_current_span() is trace.INVALID_SPAN
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    s = spans()
    assert len(s.roots()) == 8
    for root in s.roots():
        members = [m for m in s.all if m.context.trace_id == root.context.trace_id]
        assert len({m.attributes[sc.CONVERSATION_ID] for m in members}) == 1


def test_runs_started_side_by_side_in_one_context_leave_nothing_attached(handler, provider, spans):
    """RunnableRetry.batch starts every input's run in the caller's context, then ends them in order."""
    calls = {"n": 0}

    def flaky(x):
        calls["n"] += 1
        if calls["n"] % 2:
            raise ValueError("try again")
        return x * 10

    retried = RunnableLambda(flaky).with_retry(stop_after_attempt=3, wait_exponential_jitter=False)
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("app-request") as app_span:
        assert retried.batch([1, 2, 3], config={"callbacks": [handler]}) == [10, 20, 30]
        assert trace.get_current_span() is app_span  # the application's span is current again, not a run's
        with tracer.start_as_current_span("after") as after:
            pass
    assert trace.get_current_span() is trace.INVALID_SPAN
    roots = [s for s in spans().all if s.name.startswith("invoke_workflow")]
    assert len(roots) == 3 and all(s.parent.span_id == app_span.get_span_context().span_id for s in roots)
    assert after.parent.span_id == app_span.get_span_context().span_id  # not nested under an ended run
