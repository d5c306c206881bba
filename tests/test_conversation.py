"""Runs that read like the conversation: a message-based agent's root span shows this turn's user
message and the final reply as text (Phoenix's Sessions view reads the root spans), the full state
stays in ``agenttrace.run.input`` / ``agenttrace.run.output`` (content capture on)."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

import agent_shapes as shapes
from agenttrace import CallbackHandler
from agenttrace import semconv as sc
from conftest import build_agent

ANSWERS = {
    "create_react_agent": (shapes.react_agent, shapes.QUESTION, "Order A1 shipped yesterday."),
    "create_agent": (shapes.langchain_agent, shapes.QUESTION, "Order A1 shipped yesterday."),
    "AgentExecutor": (shapes.agent_executor, shapes.QUESTION, "Order A1 shipped yesterday."),
    "supervisor": (shapes.supervisor, shapes.QUESTION, "Your order A1 shipped yesterday."),
    "swarm": (shapes.swarm, "I want a refund for A1", "Your refund for A1 is on its way."),
}


def _root(s):
    (root,) = s.roots()
    return root.attributes


def _config(handler, thread=None):
    config = {"callbacks": [handler]}
    if thread is not None:
        config["configurable"] = {"thread_id": thread}
    return config


@pytest.mark.parametrize("shape", sorted(ANSWERS))
def test_root_span_shows_the_user_message_and_the_final_reply_as_text(content_handler, spans, shape):
    factory, question, answer = ANSWERS[shape]
    agent, inputs = factory()
    agent.invoke(inputs, _config(content_handler, "t-" + shape))
    root = _root(spans())
    assert (root[sc.OI_INPUT_VALUE], root[sc.OI_INPUT_MIME]) == (question, sc.TEXT_MIME)
    assert (root[sc.OI_OUTPUT_VALUE], root[sc.OI_OUTPUT_MIME]) == (answer, sc.TEXT_MIME)
    if shape == "AgentExecutor":  # its input and output were the text already: nothing to keep twice
        assert sc.RUN_INPUT not in root and sc.RUN_OUTPUT not in root
        return
    # the full input / state stays available, as OpenInference writes it
    assert json.loads(root[sc.RUN_INPUT])["messages"][0]["data"]["content"] == question
    assert answer in root[sc.RUN_OUTPUT] and len(json.loads(root[sc.RUN_OUTPUT])["messages"]) >= 3


def test_second_turn_on_a_thread_shows_only_its_new_message(content_handler, spans, exporter):
    agent = build_agent()  # a MessagesState graph with a tool loop
    agent.checkpointer = InMemorySaver()
    config = _config(content_handler, "thread-7")
    agent.invoke({"messages": [HumanMessage("Where is my order A1? I want to return it.")]}, config)
    exporter.clear()
    agent.invoke({"messages": [("user", "Thanks! How long does the refund take?")]}, config)
    root = _root(spans())
    assert root[sc.OI_INPUT_VALUE] == "Thanks! How long does the refund take?"
    assert root[sc.OI_OUTPUT_VALUE] == "Your order A1 shipped and a return is started."
    assert root[sc.OI_SESSION_ID] == "thread-7"
    # the state holds the whole history; the input of this turn only the new message
    state = json.loads(root[sc.RUN_OUTPUT])
    assert len(state["messages"]) > 4 and "Where is my order A1" in root[sc.RUN_OUTPUT]
    assert "Where is my order A1" not in root[sc.RUN_INPUT]


@pytest.mark.parametrize("messages,expected", [
    ("hello there", "hello there"),
    ([{"role": "user", "content": "from a dict"}], "from a dict"),
    ([("system", "be brief"), ("user", "first"), ("human", "second")], "first\n\nsecond"),
    ([HumanMessage(content=[{"type": "text", "text": "look at"}, {"type": "image_url", "image_url": {"url": "http://x/y.png"}}])],
     "look at"),
])
def test_user_messages_in_any_form_langgraph_accepts(content_handler, spans, messages, expected):
    agent = build_agent()
    agent.invoke({"messages": messages}, _config(content_handler))
    assert _root(spans())[sc.OI_INPUT_VALUE] == expected


def test_interrupt_and_resume_read_as_question_and_answer(content_handler, spans, exporter):
    agent, inputs = shapes.approval_graph()
    config = _config(content_handler, "refund-1")
    agent.invoke(inputs, config)
    first = _root(spans())
    assert first[sc.OI_INPUT_VALUE] == "Refund A1 please"
    assert json.loads(first[sc.OI_OUTPUT_VALUE]) == {"question": "approve refund for A1?"}  # what the graph asks
    assert first[sc.OI_OUTPUT_MIME] == sc.JSON_MIME and first[sc.INTERRUPTED] is True
    exporter.clear()
    agent.invoke(Command(resume="yes, approved"), config)
    second = _root(spans())
    assert (second[sc.OI_INPUT_VALUE], second[sc.OI_INPUT_MIME]) == ("yes, approved", sc.TEXT_MIME)
    assert second[sc.OI_OUTPUT_VALUE] == "Refund done."
    assert "resume" in second[sc.RUN_INPUT]


def test_agent_executor_with_chat_history(content_handler, spans):
    agent, _ = shapes.agent_executor()
    history = [HumanMessage("Hi"), AIMessage("Hello! How can I help?")]
    agent.invoke({"input": shapes.QUESTION, "chat_history": history}, _config(content_handler))
    root = _root(spans())
    assert root[sc.OI_INPUT_VALUE] == shapes.QUESTION
    assert "How can I help" in root[sc.RUN_INPUT]


def test_state_attribute_passes_redaction_and_the_length_cap(provider, exporter, spans):
    handler = CallbackHandler(provider, capture_content=True, max_content_length=60,
                              redact=lambda key, text: text.replace("A1", "[ORDER]"))
    agent = build_agent()
    agent.invoke({"messages": [HumanMessage("Where is my order A1? I want to return it.")]}, _config(handler))
    root = _root(spans())
    assert root[sc.OI_INPUT_VALUE] == "Where is my order [ORDER]? I want to return it."
    assert len(root[sc.RUN_INPUT]) == 60 and len(root[sc.RUN_OUTPUT]) == 60
    assert root[sc.CONTENT_TRUNCATED] is True
    assert not any("A1" in str(v) for v in root.values())


def test_capture_off_exports_no_conversation(handler, spans):
    agent, inputs = shapes.react_agent()
    agent.invoke(inputs, _config(handler))
    root = _root(spans())
    assert not {sc.OI_INPUT_VALUE, sc.OI_OUTPUT_VALUE, sc.RUN_INPUT, sc.RUN_OUTPUT} & set(root)


def test_graphs_without_messages_keep_their_state_as_input_and_output(content_handler, spans):
    from test_retry_route import _graph

    _graph().invoke({"score": 0.9, "text": ""}, _config(content_handler))
    root = _root(spans())
    assert json.loads(root[sc.OI_INPUT_VALUE]) == {"score": 0.9, "text": ""}
    assert json.loads(root[sc.OI_OUTPUT_VALUE]) == {"score": 0.9, "text": "draft polished"}
    assert sc.RUN_INPUT not in root and sc.RUN_OUTPUT not in root


def test_a_nested_agent_keeps_openinference_values(content_handler, spans):
    """Only the root reads as the turn: a sub-agent's span keeps the input it was given."""
    agent, inputs = shapes.supervisor()
    agent.invoke(inputs, _config(content_handler))
    researcher = spans().one("invoke_agent researcher").attributes
    assert researcher[sc.OI_INPUT_MIME] == sc.JSON_MIME and sc.RUN_INPUT not in researcher
