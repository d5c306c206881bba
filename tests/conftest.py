"""Shared fixtures: a real OTel SDK pipeline into memory, and small real LangGraph agents."""

from __future__ import annotations

import operator
import os
import tempfile
import subprocess
import sys
from typing import Annotated, Callable, Optional

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, tools_condition
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from typing_extensions import TypedDict

from agenttrace import CallbackHandler
from agenttrace.testing import ScriptedChatModel

pytest_plugins = ("phoenix_fixtures",)

# local Phoenix servers the tests start note where they run under $XDG_STATE_HOME: not the user's home
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="agenttrace-tests-state-")


def run_python(code: str, env: Optional[dict] = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter: process-global state (the OTel provider, signal
    handlers, exit hooks) starts empty there."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(autouse=True)
def no_leaked_context():
    """Every test must leave no OTel context attached in the test's thread."""
    from opentelemetry import trace

    yield
    assert trace.get_current_span() is trace.INVALID_SPAN, "a test left an OTel span attached"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter) -> TracerProvider:
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    yield tp
    tp.shutdown()


@pytest.fixture
def handler(provider) -> CallbackHandler:
    return CallbackHandler(provider, capture_content=False)


@pytest.fixture
def content_handler(provider) -> CallbackHandler:
    """Content capture on, in both attribute families (the tests check each family's values)."""
    return CallbackHandler(provider, capture_content=True, content_format="both")


class Spans:
    """Query helper over finished spans."""

    def __init__(self, spans):
        self.all = list(spans)

    def named(self, name: str):
        return [s for s in self.all if s.name == name]

    def one(self, name: str):
        found = self.named(name)
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.all]}"
        return found[0]

    def parent(self, span):
        if span.parent is None:
            return None
        return next((s for s in self.all if s.context.span_id == span.parent.span_id), None)

    def children(self, span):
        return [s for s in self.all if s.parent is not None and s.parent.span_id == span.context.span_id]

    def node_of(self, span):
        """The LangGraph node span a span runs under."""
        while span is not None and "agenttrace.graph.node" not in span.attributes:
            span = self.parent(span)
        return span.attributes["agenttrace.graph.node"] if span is not None else None

    def with_attr(self, key: str, value=None):
        return [s for s in self.all if key in s.attributes and (value is None or s.attributes[key] == value)]

    def roots(self):
        ids = {s.context.span_id for s in self.all}
        return [s for s in self.all if s.parent is None or s.parent.span_id not in ids]


@pytest.fixture
def spans(exporter) -> Callable[[], Spans]:
    return lambda: Spans(exporter.get_finished_spans())


# --- a real tool-calling LangGraph agent ---------------------------------------------------


@tool
def order_status(order_id: str) -> str:
    """Look up the shipping status of an order."""
    return f"order {order_id} shipped yesterday"


@tool
def start_return(order_id: str, reason: str) -> str:
    """Start a return for an order."""
    return f"return started for {order_id}: {reason}"


class AgentState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def tool_call(name: str, args: dict, call_id: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


def support_reply(messages) -> AIMessage:
    """Decides from the conversation itself, so concurrent runs sharing one model stay independent."""
    done = sum(1 for m in messages if m.type == "tool")
    if done == 0:
        return tool_call("order_status", {"order_id": "A1"}, "call_status_1")
    if done == 1:
        return tool_call("start_return", {"order_id": "A1", "reason": "too small"}, "call_return_1")
    return AIMessage(content="Your order A1 shipped and a return is started.")


def support_model(**kwargs) -> ScriptedChatModel:
    return ScriptedChatModel(replies=[support_reply], model="gpt-4o", response_model="gpt-4o-2024-08-06", system_fingerprint="fp_abc", **kwargs)


def build_agent(model: Optional[ScriptedChatModel] = None, tools=(order_status, start_return), name: str = "support-bot"):
    model = model or support_model()
    tools = list(tools)

    def agent(state: AgentState, config):
        return {"messages": [model.invoke(state["messages"], config)]}

    async def aagent(state: AgentState, config):
        return {"messages": [await model.ainvoke(state["messages"], config)]}

    from langchain_core.runnables import RunnableLambda

    g = StateGraph(AgentState)
    g.add_node("agent", RunnableLambda(agent, afunc=aagent, name="agent"))
    g.add_node("tools", ToolNode(tools))
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", tools_condition)
    g.add_edge("tools", "agent")
    return g.compile(name=name)


def ask(text: str = "Where is my order A1? I want to return it.") -> dict:
    return {"messages": [HumanMessage(text)]}


# --- a real retriever with (traceable) embeddings ------------------------------------------


class HashEmbeddings(Embeddings):
    model = "hash-embed-8"

    def embed_documents(self, texts):
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text):
        return [float((hash(text) >> i) & 1) for i in range(8)]


class Catalog(BaseRetriever):
    """Returns the documents sharing a word with the query; embeds the query on the way."""

    docs: list
    embeddings: object

    def _get_relevant_documents(self, query, *, run_manager):
        self.embeddings.embed_query(query)  # nests under the retrieval span through the OTel context
        words = [w.strip(".,?!:").lower() for w in query.split()]
        return [d for d in self.docs if any(w and w in d.page_content.lower() for w in words)]


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster for the session (tests/postgres_server.py); skipped only when
    PostgreSQL is not installed (.ci/run installs it)."""
    from postgres_server import PostgresServer, bin_dir

    if bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql)")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """The URL of a new, empty database on the session's PostgreSQL server."""
    return postgres_server.create_database()
