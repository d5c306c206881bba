"""Agents nobody here wrote, traced right: prebuilt and multi-agent graphs, human-in-the-loop,
AgentExecutor, fallbacks (tests/agent_shapes.py builds them from the real packages)."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Command
from opentelemetry.trace import StatusCode

import agent_shapes as shapes
from agenttrace import CallbackHandler
from agenttrace import semconv as sc


def _no_errors(s):
    failed = [(x.name, x.attributes.get(sc.ERROR_TYPE)) for x in s.all if x.status.status_code is StatusCode.ERROR]
    assert not failed, failed
    assert not [x.name for x in s.all if sc.ERROR_TYPE in x.attributes]


# --- 1. control flow is not failure ------------------------------------------------------------


def test_interrupt_in_a_tool_pauses_the_run_without_any_error(provider, spans):
    handler = CallbackHandler(provider, capture_content=True)
    graph, inputs = shapes.approval_graph()
    config = {"callbacks": [handler], "configurable": {"thread_id": "approval-1"}}
    paused = graph.invoke(inputs, config=config)
    assert "__interrupt__" in paused
    interrupt_id = paused["__interrupt__"][0].id

    s = spans()
    _no_errors(s)
    tool = s.one("execute_tool refund")
    assert tool.attributes[sc.INTERRUPTED] is True and tool.status.status_code is StatusCode.UNSET
    root = s.one("invoke_agent refunds")
    assert root.parent is None and root.status.status_code is StatusCode.UNSET
    assert root.attributes[sc.INTERRUPTED] is True and root.attributes[sc.INTERRUPT_ID] == interrupt_id
    event = next(e for e in root.events if e.name == sc.INTERRUPT_EVENT)
    assert event.attributes[sc.INTERRUPT_ID] == interrupt_id
    assert json.loads(event.attributes[sc.INTERRUPT_VALUE]) == {"question": "approve refund for A1?"}

    # the human approves: the resumed run is a new trace on the same conversation (thread id)
    done = graph.invoke(Command(resume="approved"), config=config)
    assert done["messages"][-1].content == "Refund done."
    roots = [r for r in spans().roots() if r.name == "invoke_agent refunds"]
    assert len(roots) == 2 and roots[0].context.trace_id != roots[1].context.trace_id
    assert {r.attributes[sc.CONVERSATION_ID] for r in roots} == {"approval-1"}
    resumed = max(roots, key=lambda r: r.start_time)
    assert sc.INTERRUPTED not in resumed.attributes
    _no_errors(spans())


def test_interrupt_value_is_content_and_stays_out_without_capture(handler, spans):
    graph, inputs = shapes.approval_graph()
    graph.invoke(inputs, config={"callbacks": [handler], "configurable": {"thread_id": "approval-2"}})
    root = spans().one("invoke_agent refunds")
    event = next(e for e in root.events if e.name == sc.INTERRUPT_EVENT)
    assert sc.INTERRUPT_ID in event.attributes and sc.INTERRUPT_VALUE not in event.attributes


def test_consumer_stopping_a_stream_is_a_cancellation_not_an_error(handler, spans):
    graph, inputs = shapes.react_agent()
    stream = graph.stream(inputs, config={"callbacks": [handler]}, stream_mode="updates")
    next(stream)
    stream.close()  # the caller stops reading: GeneratorExit inside the graph
    s = spans()
    root = s.one("invoke_agent react-support")
    assert root.attributes[sc.CANCELLED] is True
    assert root.status.status_code is StatusCode.UNSET and sc.ERROR_TYPE not in root.attributes
    _no_errors(s)


@pytest.mark.parametrize("build, source, target, tool", [
    (shapes.supervisor, "supervisor", "researcher", "transfer_to_researcher"),
    (shapes.swarm, "triage", "billing", "transfer_to_billing"),
])
def test_multi_agent_handoff_is_a_route(build, source, target, tool, provider, spans):
    handler = CallbackHandler(provider, capture_content=True, content_format="both")
    graph, inputs = build()
    graph.invoke(inputs, config={"callbacks": [handler], "configurable": {"thread_id": f"team-{source}"}})
    s = spans()
    _no_errors(s)
    assert not s.with_attr(sc.INTERRUPTED), [x.name for x in s.with_attr(sc.INTERRUPTED)]
    handoff = s.one(f"execute_tool {tool}")
    assert handoff.attributes[sc.ROUTE_SOURCE] == source and handoff.attributes[sc.ROUTE_TARGET] == target
    # the tool's output says where control went, not the whole Command with the message history
    result = json.loads(handoff.attributes[sc.TOOL_CALL_RESULT])
    assert result["goto"] == target and result["graph"] == "parent"
    assert "HumanMessage" not in handoff.attributes[sc.TOOL_CALL_RESULT] and len(handoff.attributes[sc.TOOL_CALL_RESULT]) < 200
    handing_off = next(x for x in s.named(f"invoke_agent {source}") if any(e.name == sc.HANDOFF_EVENT for e in x.events))
    event = next(e for e in handing_off.events if e.name == sc.HANDOFF_EVENT)
    assert dict(event.attributes) == {sc.ROUTE_SOURCE: source, sc.ROUTE_TARGET: target}
    assert s.named(f"invoke_agent {target}"), "the receiving agent runs as an agent span"


# --- 2. agents are agents ----------------------------------------------------------------------


@pytest.mark.parametrize("build, name", [
    (shapes.react_agent, "react-support"),
    (shapes.langchain_agent, "lc-support"),
    (shapes.agent_executor, "AgentExecutor"),
    (shapes.supervisor, "support-team"),
    (shapes.swarm, "swarm"),
])
def test_model_driven_agents_are_invoke_agent_from_the_start(build, name, handler, spans):
    graph, inputs = build()
    graph.invoke(inputs, config={"callbacks": [handler], "configurable": {"thread_id": "t"}})
    s = spans()
    root = s.one(f"invoke_agent {name}")
    a = root.attributes
    assert root.parent is None
    assert a[sc.OPERATION] == "invoke_agent" and a[sc.AGENT_NAME] == name and a[sc.OI_SPAN_KIND] == "AGENT"
    assert sc.WORKFLOW_NAME not in a, "decided once: an agent is not also a workflow"
    # what the run's model calls used, and their summed usage
    chats = [x for x in s.all if x.attributes.get(sc.OPERATION) == "chat"]
    assert a[sc.USAGE_INPUT_TOKENS] == sum(c.attributes[sc.USAGE_INPUT_TOKENS] for c in chats) > 0
    assert a[sc.USAGE_OUTPUT_TOKENS] == sum(c.attributes[sc.USAGE_OUTPUT_TOKENS] for c in chats)
    assert a[sc.PROVIDER] == "openai"
    models = {c.attributes[sc.REQUEST_MODEL] for c in chats}
    if len(models) == 1:
        assert a[sc.REQUEST_MODEL] == models.pop()
    else:
        assert sc.REQUEST_MODEL not in a and sorted(a[sc.AGENT_REQUEST_MODELS]) == sorted(models)
    assert a[sc.OI_TOKENS_PROMPT] == 0, "Phoenix sums the LLM spans' counts itself"


def test_agent_span_starts_with_its_operation(provider, exporter):
    """Samplers see the operation at span creation: record what span processors get on start."""
    from opentelemetry.sdk.trace import SpanProcessor

    seen = {}

    class OnStart(SpanProcessor):
        def on_start(self, span, parent_context=None):
            seen[span.name] = dict(span.attributes)

    provider.add_span_processor(OnStart())
    graph, inputs = shapes.langchain_agent()
    graph.invoke(inputs, config={"callbacks": [CallbackHandler(provider)]})
    assert seen["invoke_agent lc-support"][sc.OPERATION] == "invoke_agent"
    assert seen["invoke_agent lc-support"][sc.AGENT_NAME] == "lc-support"


def test_hand_written_graph_is_a_workflow_with_the_agent_kind(handler, spans):
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class S(TypedDict):
        text: str

    g = StateGraph(S)
    g.add_node("draft", lambda s: {"text": s["text"] + " draft"})
    g.add_node("polish", lambda s: {"text": s["text"] + " polished"})
    g.add_edge(START, "draft")
    g.add_edge("draft", "polish")
    g.add_edge("polish", END)
    g.compile(name="copy-pipeline").invoke({"text": "x"}, config={"callbacks": [handler]})
    root = spans().one("invoke_workflow copy-pipeline")
    assert root.attributes[sc.OPERATION] == "invoke_workflow" and root.attributes[sc.WORKFLOW_NAME] == "copy-pipeline"
    assert root.attributes[sc.OI_SPAN_KIND] == "AGENT" and sc.AGENT_NAME not in root.attributes


def test_agent_executor_tool_spans_carry_the_model_tool_call_id(handler, spans):
    executor, inputs = shapes.agent_executor()
    assert executor.invoke(inputs, config={"callbacks": [handler]})["output"] == "Order A1 shipped yesterday."
    s = spans()
    tool = s.one("execute_tool order_status")
    assert tool.attributes[sc.TOOL_CALL_ID] == "call_exec_1" and tool.attributes[sc.OI_TOOL_CALL_ID] == "call_exec_1"
    assert s.parent(tool) is s.one("invoke_agent AgentExecutor")


def test_structured_output_request_sets_output_type(handler, spans):
    from pydantic import BaseModel

    from agenttrace.testing import ScriptedChatModel

    model = ScriptedChatModel(replies=['{"headline": "Socks"}'], model="gpt-4o-mini")
    model.invoke("headline please", config={"callbacks": [handler]}, response_format={"type": "json_object"})
    plain = ScriptedChatModel(replies=["Socks"], model="gpt-4o")
    plain.invoke("headline please", config={"callbacks": [handler]})

    class Headline(BaseModel):
        headline: str

    structured = ScriptedChatModel(replies=["x"], model="gpt-4.1").bind(ls_structured_output_format={"schema": Headline})
    structured.invoke("headline please", config={"callbacks": [handler]})
    s = spans()
    assert s.one("chat gpt-4o-mini").attributes[sc.OUTPUT_TYPE] == "json"
    assert s.one("chat gpt-4.1").attributes[sc.OUTPUT_TYPE] == "json"
    assert sc.OUTPUT_TYPE not in s.one("chat gpt-4o").attributes


def test_fallbacks_are_numbered_and_counted(handler, spans):
    chain, inputs = shapes.fallback_chain()
    assert chain.invoke(inputs, config={"callbacks": [handler]}).content == "Backup answer."
    s = spans()
    wrapper = s.one("invoke_workflow RunnableWithFallbacks")  # at the root: the workflow the application invoked
    primary, backup = s.one("chat gpt-4.1"), s.one("chat gpt-4o-mini")
    assert s.parent(primary) is wrapper and s.parent(backup) is wrapper
    assert primary.attributes[sc.FALLBACK_INDEX] == 0 and backup.attributes[sc.FALLBACK_INDEX] == 1
    assert primary.status.status_code is StatusCode.ERROR and backup.status.status_code is StatusCode.UNSET
    assert wrapper.attributes[sc.FALLBACK_FAILED] == 1 and wrapper.status.status_code is StatusCode.UNSET


def test_embeddings_provider_from_known_classes_only(provider, exporter):
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from agenttrace import traced_embeddings
    from agenttrace.embeddings import provider_of

    traced_embeddings(DeterministicFakeEmbedding(size=4), provider).embed_query("x")
    span = exporter.get_finished_spans()[-1]
    assert sc.PROVIDER not in span.attributes, "langchain_core's fake embeddings have no provider"

    OpenAIEmbeddings = type("OpenAIEmbeddings", (), {"__module__": "langchain_openai.embeddings.base"})
    Community = type("OpenAIEmbeddings", (), {"__module__": "langchain_community.embeddings.openai"})
    Bedrock = type("BedrockEmbeddings", (), {"__module__": "langchain_aws.embeddings.bedrock"})
    Local = type("HuggingFaceEmbeddings", (), {"__module__": "langchain_community.embeddings.huggingface"})
    assert provider_of(OpenAIEmbeddings()) == "openai"
    assert provider_of(Community()) == "openai"
    assert provider_of(Bedrock()) == "aws.bedrock"
    assert provider_of(Local()) is None
