"""Agents nobody here wrote, built from the real packages on offline scripted models.

Each factory returns ``(runnable, input)`` for one agent shape users run in production:
LangGraph's prebuilt ``create_react_agent``, langchain 1.x ``create_agent``, ``langgraph-supervisor``,
``langgraph-swarm``, the classic ``AgentExecutor`` (``langchain-classic``), an LCEL prompt chain, a
retriever chain, ``with_fallbacks`` and a human-in-the-loop approval tool (``interrupt()``). The
models are :class:`agenttrace.testing.ScriptedChatModel` (a real ``BaseChatModel``), so the runs
are real LangChain/LangGraph runs with real callbacks; only the provider is scripted.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import tool

from agenttrace.testing import ScriptedChatModel

QUESTION = "Where is my order A1?"


@tool
def order_status(order_id: str) -> str:
    """Look up the shipping status of an order."""
    return f"order {order_id} shipped yesterday"


def _calls(name: str, args: dict, call_id: str, answer: str) -> Callable:
    """A model that calls ``name`` once, then answers (decided from the conversation, so reusable)."""
    def reply(messages):
        if any(m.type == "tool" for m in messages[-1:]):
            return AIMessage(content=answer)
        return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])
    return reply


def model(replies: list, name: str = "gpt-4o-mini", **kwargs: Any) -> ScriptedChatModel:
    return ScriptedChatModel(replies=replies, model=name, response_model=f"{name}-2024-07-18",
                             system_fingerprint="fp_shape", **kwargs)


def ask(text: str = QUESTION) -> dict:
    return {"messages": [HumanMessage(text)]}


# --- model-driven agents --------------------------------------------------------------------


def react_agent(name: str = "react-support"):
    from langgraph.prebuilt import create_react_agent

    llm = model([_calls("order_status", {"order_id": "A1"}, "call_react_1", "Order A1 shipped yesterday.")])
    return create_react_agent(llm, [order_status], name=name), ask()


def langchain_agent(name: str = "lc-support"):
    from langchain.agents import create_agent

    llm = model([_calls("order_status", {"order_id": "A1"}, "call_lc_1", "Order A1 shipped yesterday.")])
    return create_agent(llm, [order_status], name=name), ask()


def agent_executor():
    from langchain_classic.agents import AgentExecutor, create_tool_calling_agent

    llm = model([_calls("order_status", {"order_id": "A1"}, "call_exec_1", "Order A1 shipped yesterday.")])
    prompt = ChatPromptTemplate.from_messages([
        ("system", "You are a support assistant."),
        ("human", "{input}"),
        ("placeholder", "{agent_scratchpad}"),
    ])
    agent = create_tool_calling_agent(llm, [order_status], prompt)
    return AgentExecutor(agent=agent, tools=[order_status]), {"input": QUESTION}


def _handoff_reply(tool_name: str, call_id: str, answer: str) -> Callable:
    """Hands off once (calls the handoff tool), answers when control comes back."""
    def reply(messages):
        if any(getattr(m, "name", None) == tool_name or (m.type == "tool" and tool_name in str(m.content)) for m in messages):
            return AIMessage(content=answer)
        return AIMessage(content="", tool_calls=[{"name": tool_name, "args": {}, "id": call_id}])
    return reply


def supervisor():
    """langgraph-supervisor: a supervisor hands the question to a research agent and answers."""
    from langgraph.prebuilt import create_react_agent
    from langgraph_supervisor import create_supervisor

    researcher = create_react_agent(
        model([_calls("order_status", {"order_id": "A1"}, "call_sup_status", "A1 shipped yesterday.")]),
        [order_status], name="researcher")

    def boss(messages):
        if any(getattr(m, "name", None) == "researcher" for m in messages):
            return AIMessage(content="Your order A1 shipped yesterday.")
        return AIMessage(content="", tool_calls=[{"name": "transfer_to_researcher", "args": {}, "id": "call_handoff_1"}])

    graph = create_supervisor([researcher], model=model([boss], name="gpt-4.1"), supervisor_name="supervisor")
    return graph.compile(name="support-team"), ask()


def swarm():
    """langgraph-swarm: triage hands the conversation to billing, which answers."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import create_react_agent
    from langgraph_swarm import create_handoff_tool, create_swarm

    triage = create_react_agent(
        model([lambda messages: AIMessage(content="", tool_calls=[{"name": "transfer_to_billing", "args": {}, "id": "call_swarm_1"}])]),
        [create_handoff_tool(agent_name="billing")], name="triage")
    billing = create_react_agent(model(["Your refund for A1 is on its way."], name="gpt-4.1"),
                                 [create_handoff_tool(agent_name="triage")], name="billing")
    graph = create_swarm([triage, billing], default_active_agent="triage").compile(checkpointer=InMemorySaver(), name="swarm")
    return graph, ask("I want a refund for A1")


# --- application-driven flows ---------------------------------------------------------------


def approval_graph():
    """Human in the loop: a tool asks for approval with ``interrupt()``; resumed with ``Command``."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import create_react_agent
    from langgraph.types import interrupt

    @tool
    def refund(order_id: str) -> str:
        """Refund an order after a human approves it."""
        answer = interrupt({"question": f"approve refund for {order_id}?"})
        return f"refund for {order_id}: {answer}"

    llm = model([_calls("refund", {"order_id": "A1"}, "call_refund_1", "Refund done.")])
    return create_react_agent(llm, [refund], name="refunds", checkpointer=InMemorySaver()), ask("Refund A1 please")


def prompt_chain():
    prompt = ChatPromptTemplate.from_messages([("system", "Write copy for {segment}."), ("human", "{product}")])
    return prompt | model(["Fresh socks, fast."]), {"segment": "VIP", "product": "socks"}


class Shelf(BaseRetriever):
    docs: list

    def _get_relevant_documents(self, query, *, run_manager):
        return [d for d in self.docs if any(w.lower() in d.page_content.lower() for w in query.split())]


def retriever(docs: Optional[list] = None) -> Shelf:
    docs = docs or [
        Document(page_content="Returns are free within 30 days.", id="doc-returns", metadata={"source": "faq", "score": 0.91}),
        Document(page_content="Orders ship within 2 days.", id="doc-shipping", metadata={"source": "faq", "score": 0.55}),
    ]
    return Shelf(docs=docs)


def fallback_chain():
    """A primary model that fails, a fallback that answers."""
    def fail(messages):
        raise TimeoutError("primary timed out")

    primary = model([fail], name="gpt-4.1")
    backup = model(["Backup answer."], name="gpt-4o-mini")
    return primary.with_fallbacks([backup]), [HumanMessage(QUESTION)]
