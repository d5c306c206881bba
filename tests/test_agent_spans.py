"""What a traced agent run looks like: agent, node, chat and tool spans with their attributes."""

from __future__ import annotations

import json

from langchain_core.documents import Document
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from opentelemetry.trace import SpanKind, StatusCode

import agenttrace
from conftest import Catalog, HashEmbeddings, ask, build_agent

from agenttrace import semconv as sc
from agenttrace.testing import ScriptedChatModel


def test_graph_run_is_an_agent_span_with_nodes_llm_and_tool_children(handler, spans):
    graph = build_agent()
    result = graph.invoke(ask(), config={"callbacks": [handler]})
    assert result["messages"][-1].content == "Your order A1 shipped and a return is started."

    s = spans()
    root = s.one("invoke_agent support-bot")
    assert root.parent is None
    assert root.attributes[sc.OPERATION] == "invoke_agent"
    assert root.attributes[sc.AGENT_NAME] == "support-bot"
    assert root.attributes[sc.OI_SPAN_KIND] == "AGENT"

    nodes = s.with_attr(sc.GRAPH_NODE)
    assert [(n.name, n.attributes[sc.GRAPH_STEP]) for n in sorted(nodes, key=lambda n: n.start_time)] == [
        ("agent", 1), ("tools", 2), ("agent", 3), ("tools", 4), ("agent", 5)
    ]
    assert all(s.parent(n) is root and n.attributes[sc.OI_SPAN_KIND] == "CHAIN" for n in nodes)

    chats = s.named("chat gpt-4o")
    assert len(chats) == 3
    for chat in chats:
        assert chat.kind is SpanKind.CLIENT
        assert s.node_of(chat) == "agent"
        a = chat.attributes
        assert a[sc.OPERATION] == "chat"
        assert a[sc.PROVIDER] == "openai"
        assert a[sc.REQUEST_MODEL] == "gpt-4o"
        assert a[sc.RESPONSE_MODEL] == "gpt-4o-2024-08-06"  # alias vs actual, both as reported
        assert a[sc.SYSTEM_FINGERPRINT] == "fp_abc"
        assert a[sc.REQUEST_TEMPERATURE] == 0.7 and a[sc.REQUEST_MAX_TOKENS] == 256
        assert a[sc.RESPONSE_ID].startswith("chatcmpl-")
        assert a[sc.USAGE_INPUT_TOKENS] > 0 and a[sc.OI_TOKENS_PROMPT] == a[sc.USAGE_INPUT_TOKENS]
        assert a[sc.OI_LLM_MODEL] == "gpt-4o-2024-08-06"
    assert [c.attributes[sc.RESPONSE_FINISH_REASONS] for c in sorted(chats, key=lambda c: c.start_time)] == [
        ("tool_calls",), ("tool_calls",), ("stop",)
    ]

    status = s.one("execute_tool order_status")
    ret = s.one("execute_tool start_return")
    assert status.attributes[sc.TOOL_CALL_ID] == "call_status_1"  # the id the model emitted
    assert ret.attributes[sc.TOOL_CALL_ID] == "call_return_1"
    for t in (status, ret):
        assert t.attributes[sc.OPERATION] == "execute_tool"
        assert t.attributes[sc.TOOL_TYPE] == "function"
        assert t.attributes[sc.OI_SPAN_KIND] == "TOOL"
        assert t.attributes[sc.TOOL_DESCRIPTION]
        assert s.node_of(t) == "tools"
        assert sc.TOOL_CALL_ARGUMENTS not in t.attributes  # content capture is off
    assert all(sp.status.status_code is not StatusCode.ERROR for sp in s.all)
    assert len({sp.context.trace_id for sp in s.all}) == 1


def test_top_level_chain_is_a_workflow(handler, spans):
    model = ScriptedChatModel(replies=["Subject: 20% off for you"], model="gpt-4o-mini")
    chain = (ChatPromptTemplate.from_messages([("human", "Write a subject line for {segment}")]) | model).with_config(run_name="subject-line")
    out = chain.invoke({"segment": "loyal"}, config={"callbacks": [handler]})
    assert out.content == "Subject: 20% off for you"
    s = spans()
    root = s.one("invoke_workflow subject-line")
    assert root.attributes[sc.OPERATION] == "invoke_workflow"
    assert root.attributes[sc.WORKFLOW_NAME] == "subject-line"
    assert s.parent(s.one("chat gpt-4o-mini")) is root
    assert s.parent(s.one("ChatPromptTemplate")) is root


def test_text_completion_llm(handler, spans):
    from langchain_core.language_models.fake import FakeListLLM

    llm = FakeListLLM(responses=["hello"])
    assert llm.invoke("hi", config={"callbacks": [handler]}) == "hello"
    (span,) = spans().all
    assert span.name.startswith("text_completion")
    assert span.attributes[sc.OPERATION] == "text_completion"


def test_retriever_and_embeddings_spans(content_handler, provider, spans):
    embeddings = agenttrace.traced_embeddings(HashEmbeddings(), tracer_provider=provider)
    assert embeddings.model == "hash-embed-8"
    retriever = Catalog(docs=[Document("Shoes: free returns", id="d1"), Document("Shirts: 30 days")], embeddings=embeddings)
    docs = retriever.invoke("shoes returns", config={"callbacks": [content_handler]})
    assert len(docs) == 1
    s = spans()
    retrieval = s.one("retrieval Catalog")
    assert retrieval.attributes[sc.OPERATION] == "retrieval"
    assert retrieval.attributes[sc.DATA_SOURCE_ID] == "Catalog"
    assert retrieval.attributes[sc.RETRIEVAL_DOCUMENT_COUNT] == 1
    assert retrieval.attributes[sc.RETRIEVAL_QUERY_TEXT] == "shoes returns"
    assert json.loads(retrieval.attributes[sc.RETRIEVAL_DOCUMENTS])[0]["content"] == "Shoes: free returns"
    emb = s.one("embeddings hash-embed-8")
    assert emb.attributes[sc.OPERATION] == "embeddings"
    assert emb.attributes[sc.EMBEDDINGS_DIMENSION_COUNT] == 8
    assert s.parent(emb) is retrieval


def test_errors_are_recorded_with_type_status_and_event(handler, spans):
    def broken(_):
        raise KeyError("missing segment")

    chain = RunnableLambda(broken, name="personalise")
    try:
        chain.invoke({}, config={"callbacks": [handler]})
    except KeyError:
        pass
    (span,) = spans().all
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "KeyError"
    assert any(e.name == "exception" and e.attributes["exception.type"] == "KeyError" for e in span.events)


def test_graph_interrupt_is_not_an_error(handler, spans):
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt
    from typing_extensions import TypedDict

    class S(TypedDict):
        draft: str
        approved: bool

    def review(state):
        return {"approved": interrupt({"draft": state["draft"]}) == "yes"}

    g = StateGraph(S)
    g.add_node("review", review)
    g.add_edge(START, "review")
    g.add_edge("review", END)
    graph = g.compile(checkpointer=InMemorySaver(), name="approval")
    cfg = {"callbacks": [handler], "configurable": {"thread_id": "th-1"}}
    graph.invoke({"draft": "Hello", "approved": False}, config=cfg)
    out = graph.invoke(Command(resume="yes"), config=cfg)
    assert out["approved"] is True
    s = spans()
    assert all(sp.status.status_code is not StatusCode.ERROR for sp in s.all)
    interrupted = s.with_attr(sc.INTERRUPTED, True)
    assert interrupted and all(sc.ERROR_TYPE not in sp.attributes for sp in interrupted)
    assert {sp.attributes[sc.CONVERSATION_ID] for sp in s.all} == {"th-1"}


def test_metadata_tags_and_sessions_label_every_span(handler, spans):
    build_agent().invoke(ask(), config={
        "callbacks": [handler],
        "metadata": {"segment": "B", "prompt_template": "opening-v3", "model_endpoint": "eu-1", "user_id": "u-7"},
        "tags": ["client:retail"],
        "configurable": {"thread_id": "customer-42"},
    })
    s = spans()
    for sp in s.all:
        md = json.loads(sp.attributes[sc.OI_METADATA])
        assert {k: md[k] for k in ("segment", "prompt_template", "model_endpoint")} == {"segment": "B", "prompt_template": "opening-v3", "model_endpoint": "eu-1"}
        assert not any(k.startswith(("langgraph_", "ls_", "checkpoint")) for k in md)
        assert sp.attributes[sc.CONVERSATION_ID] == sp.attributes[sc.OI_SESSION_ID] == "customer-42"
        assert sp.attributes[sc.OI_USER_ID] == "u-7"
    root = s.one("invoke_agent support-bot")
    assert list(root.attributes[sc.OI_TAGS]) == ["client:retail"]
    assert all(not t.startswith(("graph:step", "seq:step")) for sp in s.all for t in sp.attributes.get(sc.OI_TAGS, ()))


def test_session_id_from_metadata_without_a_checkpointer(handler, spans):
    RunnableLambda(lambda x: x, name="mailer").invoke(1, config={"callbacks": [handler], "metadata": {"session_id": "s-1"}})
    assert spans().one("invoke_workflow mailer").attributes[sc.CONVERSATION_ID] == "s-1"
