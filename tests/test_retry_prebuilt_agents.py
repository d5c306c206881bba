"""Retries, the retry monitor and the dead-letter queue on agents nobody here wrote: LangGraph's
prebuilt ReAct agent and a classic AgentExecutor, retried with LangChain's own ``with_retry``."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agenttrace
from agenttrace import semconv as sc
from agenttrace.dead_letter_replay import load_input
from agenttrace.dead_letter_store import SQLiteStore
from agent_shapes import QUESTION, ask, model, order_status
from dead_letter_agents import ProviderError


def _rate_limited(messages):
    raise ProviderError("Error code: 429 - rate limit exceeded for gpt-4o-mini, request id req_7f3a9c", 429)


def _configure(tmp_path):
    exporter = InMemorySpanExporter()
    at = agenttrace.configure(project="prebuilt-retries", span_exporter=exporter, set_global=False, batch=False,
                              handle_sigterm=False, dead_letter=str(tmp_path / "dead-letter.sqlite"))
    return at, exporter


def _react_agent_over_a_rate_limited_model():
    from langgraph.prebuilt import create_react_agent

    return create_react_agent(model([_rate_limited]), [order_status], name="react-support"), ask()


def _agent_executor_over_a_rate_limited_model():
    from langchain_classic.agents import AgentExecutor, create_tool_calling_agent
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages([("system", "You are a support assistant."), ("human", "{input}"),
                                               ("placeholder", "{agent_scratchpad}")])
    agent = create_tool_calling_agent(model([_rate_limited]), [order_status], prompt)
    return AgentExecutor(agent=agent, tools=[order_status]), {"input": QUESTION}


@pytest.mark.parametrize("build", [_react_agent_over_a_rate_limited_model, _agent_executor_over_a_rate_limited_model],
                         ids=["create_react_agent", "AgentExecutor"])
def test_a_prebuilt_agent_that_exhausts_its_retries_is_traced_and_dead_lettered(tmp_path, build):
    at, exporter = _configure(tmp_path)
    agent, inputs = build()
    retrying = agent.with_retry(stop_after_attempt=2, wait_exponential_jitter=False,
                                retry_if_exception_type=(agenttrace.RetryableError,))
    with pytest.raises(ProviderError):
        retrying.invoke(inputs, config={"callbacks": [at.callback_handler], "metadata": {"client_category": "support"}})
    assert at.flush(10)
    spans = exporter.get_finished_spans()
    wrapper = next(s for s in spans if s.attributes.get(sc.RETRY_EXHAUSTED) is True)
    assert wrapper.attributes["agenttrace.retry.policy.max_attempts"] == 2
    attempts = sorted((s for s in spans if s.attributes.get(sc.RETRY_ATTEMPT)), key=lambda s: s.start_time)
    assert [s.attributes[sc.RETRY_ATTEMPT] for s in attempts] == [1, 2]
    assert attempts[1].attributes["agenttrace.retry.previous_error.status_code"] == 429
    assert attempts[1].attributes["agenttrace.retry.wait_ms"] >= 0
    at.retry_monitor.force_flush()  # decide now, not at its next tick
    assert at.retry_monitor.snapshot()["totals"]["rate_limited"] == 2  # both attempts: one model call each
    [entry] = SQLiteStore(str(tmp_path / "dead-letter.sqlite")).list()
    assert entry["attempts"] == 2 and "429" in entry["error_message"]
    assert entry["metadata"] == {"client_category": "support"}
    assert load_input(entry) == inputs
    at.shutdown(timeout=5)
