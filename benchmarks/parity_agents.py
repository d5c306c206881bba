"""The runs the OpenInference side-by-side script traces: each a function ``run(callbacks)`` that
invokes one real LangChain/LangGraph runnable with the given callbacks, offline (scripted models)."""

from __future__ import annotations

from typing import Any, Callable

from langchain_core.documents import Document
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool

from agenttrace.testing import ScriptedChatModel

Run = Callable[[list], Any]


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: 21 C, light wind"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _call(name: str, args: dict, call_id: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}])


def _tool_model(final: str = "It is 21 C in Paris.") -> ScriptedChatModel:
    return ScriptedChatModel(model="gpt-4o-mini", replies=[
        _call("get_weather", {"city": "Paris"}, "call_weather"),
        _call("add", {"a": 21, "b": 2}, "call_add"),
        final,
    ])


def _question(text: str = "Weather in Paris, plus 2?") -> dict:
    return {"messages": [HumanMessage(content=text)]}


def react_agent(callbacks: list) -> Any:
    from langgraph.prebuilt import create_react_agent

    graph = create_react_agent(_tool_model(), [get_weather, add], prompt="You are a weather assistant.")
    return graph.invoke(_question(), config={"callbacks": callbacks, "metadata": {"session_id": "s-react", "user_id": "u-1"}})


def create_agent_(callbacks: list) -> Any:
    from langchain.agents import create_agent

    graph = create_agent(_tool_model(), [get_weather, add], system_prompt="You are a weather assistant.", name="weather")
    return graph.invoke(_question(), config={"callbacks": callbacks, "tags": ["beta"]})


def _worker(name: str, reply: str) -> Any:
    from langgraph.prebuilt import create_react_agent

    return create_react_agent(ScriptedChatModel(model="gpt-4o-mini", replies=[reply]), [add], name=name)


def supervisor(callbacks: list) -> Any:
    from langgraph_supervisor import create_supervisor

    boss = ScriptedChatModel(model="gpt-4o", replies=[
        _call("transfer_to_math_expert", {}, "call_handoff"),
        "The answer is 23.",
    ])
    graph = create_supervisor([_worker("math_expert", "21 + 2 = 23"), _worker("writer", "ok")], model=boss).compile()
    return graph.invoke(_question("What is 21 + 2?"), config={"callbacks": callbacks})


def swarm(callbacks: list) -> Any:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import create_react_agent
    from langgraph_swarm import create_handoff_tool, create_swarm

    alice = create_react_agent(ScriptedChatModel(model="gpt-4o-mini", replies=[_call("transfer_to_bob", {}, "call_bob")]),
                               [add, create_handoff_tool(agent_name="bob")], name="alice")
    bob = create_react_agent(ScriptedChatModel(model="gpt-4o-mini", replies=["Bob here: 23."]),
                             [create_handoff_tool(agent_name="alice")], name="bob")
    graph = create_swarm([alice, bob], default_active_agent="alice").compile(checkpointer=InMemorySaver())
    return graph.invoke(_question("Talk to Bob"), config={"callbacks": callbacks, "configurable": {"thread_id": "t-swarm"}})


def agent_executor(callbacks: list) -> Any:
    from langchain_classic.agents import AgentExecutor, create_tool_calling_agent

    prompt = ChatPromptTemplate.from_messages([
        ("system", "You are a {role}."), ("placeholder", "{chat_history}"), ("human", "{input}"), ("placeholder", "{agent_scratchpad}"),
    ])
    tools = [get_weather, add]
    agent = create_tool_calling_agent(_tool_model(), tools, prompt)
    executor = AgentExecutor(agent=agent, tools=tools)
    return executor.invoke({"input": "Weather in Paris, plus 2?", "role": "weather assistant"}, config={"callbacks": callbacks})


def prompt_chain(callbacks: list) -> Any:
    prompt = ChatPromptTemplate.from_messages([("system", "Answer as a {persona}."), ("human", "{question}")])
    model = ScriptedChatModel(model="gpt-4o-mini", replies=["Paris."]).bind(tools=[convert_to_openai_tool(get_weather)])
    chain = prompt | model | StrOutputParser()
    return chain.invoke({"persona": "geographer", "question": "Capital of France?"}, config={"callbacks": callbacks})


def string_prompt_completion(callbacks: list) -> Any:
    prompt = PromptTemplate.from_template("Say {word} twice.")
    chain = prompt | FakeListLLM(responses=["hello hello"])
    return chain.invoke({"word": "hello"}, config={"callbacks": callbacks})


class Catalog(BaseRetriever):
    """A retriever over a fixed list of documents with ids, metadata and relevance scores."""

    def _get_relevant_documents(self, query: str, *, run_manager: Any = None) -> list[Document]:
        return [
            Document(id="doc-1", page_content="Paris is the capital of France.", metadata={"source": "atlas", "score": 0.92}),
            Document(id="doc-2", page_content="France borders Spain.", metadata={"source": "wiki", "relevance_score": 0.41}),
        ]


def retriever_chain(callbacks: list) -> Any:
    retriever = Catalog()
    prompt = ChatPromptTemplate.from_template("Context: {context}\nQuestion: {question}")
    chain = {"context": retriever | (lambda docs: "\n".join(d.page_content for d in docs)), "question": lambda q: q} | prompt \
        | ScriptedChatModel(model="gpt-4o-mini", replies=["Paris."]) | StrOutputParser()
    return chain.invoke("Capital of France?", config={"callbacks": callbacks})


def multipart_message(callbacks: list) -> Any:
    model = ScriptedChatModel(model="gpt-4o", replies=["A cat on a mat."])
    message = HumanMessage(content=[
        {"type": "text", "text": "part one"},
        {"type": "text", "text": "part two"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ])
    return model.invoke([SystemMessage(content="Describe images."), message], config={"callbacks": callbacks})


def usage_details(callbacks: list) -> Any:
    reply = AIMessage(
        content="Cached answer.",
        additional_kwargs={"function_call": {"name": "lookup", "arguments": '{"q": "cache"}'}},  # a legacy function call
        response_metadata={"finish_reason": "stop", "model_name": "gpt-4o-2024-08-06"},
        usage_metadata={"input_tokens": 120, "output_tokens": 40, "total_tokens": 160,
                        "input_token_details": {"cache_read": 100, "audio": 4},
                        "output_token_details": {"reasoning": 25, "audio": 2}},
    )
    model = GenericFakeChatModel(messages=iter([reply]))
    return model.invoke("Summarise the cached prompt.", config={"callbacks": callbacks})


AGENTS: dict[str, Run] = {
    "create_react_agent": react_agent,
    "create_agent": create_agent_,
    "create_supervisor": supervisor,
    "create_swarm": swarm,
    "AgentExecutor": agent_executor,
    "prompt | chat model": prompt_chain,
    "prompt | completion model": string_prompt_completion,
    "retriever chain": retriever_chain,
    "multi-part message": multipart_message,
    "usage details": usage_details,
}
