"""Retries and routing: the two things no other LangChain tracer records."""

from __future__ import annotations

import operator
from typing import Annotated

import pytest
from langchain_core.runnables import RunnableBranch, RunnableLambda
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send
from opentelemetry.trace import StatusCode
from typing_extensions import TypedDict

from agenttrace import semconv as sc
from agenttrace.testing import ScriptedChatModel


class RateLimited(Exception):
    pass


def flaky(failures: int):
    calls = {"n": 0}

    def call(x):
        calls["n"] += 1
        if calls["n"] <= failures:
            raise RateLimited("429 Too Many Requests")
        return f"copy for {x}"

    return RunnableLambda(call, name="provider_call")


def _attempts(s):
    return sorted(s.with_attr(sc.RETRY_ATTEMPT), key=lambda sp: sp.attributes[sc.RETRY_ATTEMPT])


def test_success_after_retries_numbers_attempts_and_is_not_an_error(handler, spans):
    runnable = flaky(2).with_retry(stop_after_attempt=4, wait_exponential_jitter=False, retry_if_exception_type=(RateLimited,))
    assert runnable.invoke("vip", config={"callbacks": [handler]}) == "copy for vip"
    s = spans()
    attempts = _attempts(s)
    assert [a.attributes[sc.RETRY_ATTEMPT] for a in attempts] == [1, 2, 3]
    assert [a.status.status_code for a in attempts] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]
    assert all(a.attributes.get(sc.ERROR_TYPE, "").endswith("RateLimited") for a in attempts[:2])
    wrapper = s.parent(attempts[0])
    assert all(s.parent(a) is wrapper for a in attempts)
    assert wrapper.attributes[sc.RETRY_COUNT] == 2
    assert wrapper.attributes[sc.RETRY_EXHAUSTED] is False
    assert wrapper.status.status_code is not StatusCode.ERROR


def test_exhausted_retries_are_an_error(handler, spans):
    runnable = flaky(10).with_retry(stop_after_attempt=3, wait_exponential_jitter=False)
    with pytest.raises(RateLimited):
        runnable.invoke("vip", config={"callbacks": [handler]})
    s = spans()
    attempts = _attempts(s)
    assert [a.attributes[sc.RETRY_ATTEMPT] for a in attempts] == [1, 2, 3]
    wrapper = s.parent(attempts[0])
    assert wrapper.attributes[sc.RETRY_COUNT] == 2
    assert wrapper.attributes[sc.RETRY_EXHAUSTED] is True
    assert wrapper.status.status_code is StatusCode.ERROR


def test_retry_around_a_chat_model(handler, spans):
    state = {"n": 0}

    def reply(messages):
        state["n"] += 1
        if state["n"] == 1:
            raise RateLimited("429")
        return "Fresh copy"

    model = ScriptedChatModel(replies=[reply], model="gpt-4o-mini").with_retry(stop_after_attempt=3, wait_exponential_jitter=False)
    outer = RunnableLambda(lambda x: model.invoke(x).content, name="write_copy")
    assert outer.invoke("write", config={"callbacks": [handler]}) == "Fresh copy"
    attempts = _attempts(spans())
    # the tree shows names: "{operation} {model} attempt N"; the GenAI attributes stay as the conventions say
    assert [(a.name, a.attributes[sc.RETRY_ATTEMPT]) for a in attempts] == [("chat gpt-4o-mini attempt 1", 1),
                                                                             ("chat gpt-4o-mini attempt 2", 2)]
    assert {(a.attributes["gen_ai.operation.name"], a.attributes["gen_ai.request.model"]) for a in attempts} == {
        ("chat", "gpt-4o-mini")}
    wrapper = spans().parent(attempts[0])
    assert wrapper.attributes[sc.RETRY_COUNT] == 1
    assert wrapper.name == "retry chat gpt-4o-mini" and sc.OPERATION not in wrapper.attributes


def test_runnable_branch_records_condition_and_route(handler, spans):
    router = RunnableBranch(
        (lambda x: x["score"] > 0.8, RunnableLambda(lambda x: "capable", name="capable_model")),
        (lambda x: x["score"] > 0.3, RunnableLambda(lambda x: "balanced", name="balanced_model")),
        RunnableLambda(lambda x: "cheap", name="cheap_model"),
    ).with_config(run_name="model_router")
    outer = RunnableLambda(lambda x: router.invoke(x), name="route_request")
    assert outer.invoke({"score": 0.5}, config={"callbacks": [handler]}) == "balanced"
    s = spans()
    branch = s.one("model_router")
    assert branch.attributes[sc.ROUTE_SOURCE] == "model_router"
    assert branch.attributes[sc.ROUTE_TARGET] == "2"
    assert branch.attributes[sc.ROUTE_CONDITION] == 2
    parent = s.parent(branch)
    assert parent.name == "invoke_workflow route_request"
    (event,) = [e for e in parent.events if e.name == sc.ROUTE_EVENT]
    assert event.attributes[sc.ROUTE_TARGET] == "2"
    assert s.one("balanced_model")

    handler_spans_before = len(s.all)
    assert router.invoke({"score": 0.1}, config={"callbacks": [handler]}) == "cheap"
    s = spans()
    default = [sp for sp in s.named("invoke_workflow model_router")][-1]
    assert len(s.all) > handler_spans_before
    assert default.attributes[sc.ROUTE_TARGET] == "default"


class Copy(TypedDict):
    score: float
    text: str


def _graph():
    def draft(state):
        return {"text": "draft"}

    def choose(state) -> str:
        return "polish" if state["score"] > 0.5 else END

    def polish(state):
        return {"text": state["text"] + " polished"}

    g = StateGraph(Copy)
    g.add_node("draft", draft)
    g.add_node("polish", polish)
    g.add_edge(START, "draft")
    g.add_conditional_edges("draft", choose)
    g.add_edge("polish", END)
    return g.compile(name="copywriter")


@pytest.mark.parametrize("score,target", [(0.9, "polish"), (0.1, "__end__")])
def test_langgraph_conditional_edge(handler, spans, score, target):
    _graph().invoke({"score": score, "text": ""}, config={"callbacks": [handler]})
    s = spans()
    router = s.one("choose")
    assert router.attributes[sc.ROUTE_SOURCE] == "draft"
    assert router.attributes[sc.ROUTE_TARGET] == target
    draft = s.parent(router)
    assert draft.attributes[sc.GRAPH_NODE] == "draft"
    (event,) = [e for e in draft.events if e.name == sc.ROUTE_EVENT]
    assert event.attributes[sc.ROUTE_TARGET] == target
    assert bool(s.named("polish")) == (target == "polish")


def test_send_fan_out_and_command_goto(handler, spans):
    class S(TypedDict):
        items: list
        done: Annotated[list, operator.add]

    def fan(state):
        return [Send("write", {"items": [i], "done": []}) for i in state["items"]]

    def write(state):
        return {"done": state["items"]}

    def decide(state):
        return Command(goto="write", update={"done": []})

    g = StateGraph(S)
    g.add_node("decide", decide)
    g.add_node("write", write)
    g.add_node("plan", lambda s: {})
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", fan)
    g.compile().invoke({"items": ["a", "b"], "done": []}, config={"callbacks": [handler]})
    s = spans()
    fan_span = s.one("fan")
    assert fan_span.attributes[sc.ROUTE_SOURCE] == "plan"
    assert list(fan_span.attributes[sc.ROUTE_TARGET]) == ["write", "write"]
    assert len(s.named("write")) == 2

    g2 = StateGraph(S)
    g2.add_node("decide", decide)
    g2.add_node("write", write)
    g2.add_edge(START, "decide")
    g2.compile().invoke({"items": ["x"], "done": []}, config={"callbacks": [handler]})
    decide_span = spans().one("decide")
    assert decide_span.attributes[sc.ROUTE_SOURCE] == "decide"
    assert decide_span.attributes[sc.ROUTE_TARGET] == "write"


# --- what the trace tree shows: the span names, and the decision on the router ------------------


def test_retry_wrapper_says_it_retries_and_chain_attempts_are_numbered_in_the_name(handler, spans):
    runnable = flaky(2).with_retry(stop_after_attempt=4, wait_exponential_jitter=False, retry_if_exception_type=(RateLimited,))
    outer = RunnableLambda(lambda x: runnable.invoke(x), name="write_copy")
    outer.invoke("vip", config={"callbacks": [handler]})
    s = spans()
    wrapper = s.one("retry provider_call")
    assert wrapper.attributes[sc.OI_SPAN_KIND] == "CHAIN" and sc.OPERATION not in wrapper.attributes
    names = [a.name for a in _attempts(s)]
    assert names == ["provider_call attempt 1", "provider_call attempt 2", "provider_call attempt 3"]
    assert all(s.parent(a) is wrapper for a in _attempts(s))


def test_async_retries_are_named_too(handler, spans):
    import asyncio

    runnable = flaky(1).with_retry(stop_after_attempt=3, wait_exponential_jitter=False)
    outer = RunnableLambda(lambda x: runnable.invoke(x), afunc=lambda x: runnable.ainvoke(x), name="write_copy")
    asyncio.run(outer.ainvoke("a", config={"callbacks": [handler]}))
    s = spans()
    assert [a.name for a in _attempts(s)] == ["provider_call attempt 1", "provider_call attempt 2"]
    assert s.parent(_attempts(s)[0]).name == "retry provider_call"


def test_fallback_wrapper_says_it_falls_back(handler, spans):
    from agent_shapes import fallback_chain

    chain, inputs = fallback_chain()
    RunnableLambda(lambda x: chain.invoke(x), name="answer").invoke(inputs, config={"callbacks": [handler]})
    s = spans()
    wrapper = s.one("fallback chat gpt-4.1")
    assert sc.OPERATION not in wrapper.attributes and wrapper.attributes[sc.FALLBACK_FAILED] == 1
    assert [c.name for c in s.children(wrapper)] == ["chat gpt-4.1", "chat gpt-4o-mini"]


def test_a_wrapper_at_the_root_is_the_workflow_the_application_invoked(handler, spans):
    """Every top-level run is an invoke_agent / invoke_workflow span (samplers and drift segments use it)."""
    flaky(1).with_retry(stop_after_attempt=2, wait_exponential_jitter=False).invoke("x", config={"callbacks": [handler]})
    s = spans()
    (root,) = s.roots()
    assert root.name == "invoke_workflow provider_call" and root.attributes[sc.RETRY_COUNT] == 1
    assert [a.name for a in _attempts(s)] == ["provider_call attempt 1", "provider_call attempt 2"]


def test_chain_fallbacks_are_numbered_in_the_name(handler, spans):
    def fail(x):
        raise TimeoutError("down")

    chain = RunnableLambda(fail, name="primary").with_fallbacks([RunnableLambda(lambda x: "ok", name="backup")])
    RunnableLambda(lambda x: chain.invoke(x), name="answer").invoke("q", config={"callbacks": [handler]})
    s = spans()
    wrapper = s.one("fallback primary")  # nested: langchain-core passes the outer config to the alternatives
    assert [c.name for c in s.children(wrapper)] == ["primary", "backup fallback 1"]
    assert s.parent(wrapper).name == "invoke_workflow answer"


def test_router_span_output_is_the_decision(content_handler, spans):
    router = RunnableBranch(
        (lambda x: x["score"] > 0.8, RunnableLambda(lambda x: "capable", name="capable")),
        RunnableLambda(lambda x: "cheap", name="cheap"),
    ).with_config(run_name="model_router")
    outer = RunnableLambda(lambda x: router.invoke(x), name="route_request")
    outer.invoke({"score": 0.9}, config={"callbacks": [content_handler]})
    branch = spans().one("model_router").attributes
    assert (branch[sc.OI_OUTPUT_VALUE], branch[sc.OI_OUTPUT_MIME]) == ("→ capable", sc.TEXT_MIME)
    assert branch[sc.ROUTE_TARGET] == "1"


@pytest.mark.parametrize("score,decision", [(0.9, "→ polish"), (0.1, "→ __end__")])
def test_conditional_edge_output_is_the_decision(content_handler, spans, score, decision):
    _graph().invoke({"score": score, "text": ""}, config={"callbacks": [content_handler]})
    assert spans().one("choose").attributes[sc.OI_OUTPUT_VALUE] == decision


def test_fan_out_decision_lists_its_targets(content_handler, spans):
    class S(TypedDict):
        items: list
        done: Annotated[list, operator.add]

    g = StateGraph(S)
    g.add_node("plan", lambda s: {})
    g.add_node("write", lambda s: {"done": s["items"]})
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", lambda s: [Send("write", {"items": [i], "done": []}) for i in s["items"]])
    g.compile().invoke({"items": ["a", "b"], "done": []}, config={"callbacks": [content_handler]})
    (router,) = spans().with_attr(sc.ROUTE_SOURCE)
    assert router.attributes[sc.OI_OUTPUT_VALUE] == "→ write, write"
