"""The runs the OpenInference side-by-side script traces: each a function ``run(callbacks)`` that
invokes one real LangChain/LangGraph runnable with the given callbacks, offline (scripted models).

The agent shapes come from ``tests/agent_shapes.py`` (the same agents the tests trace); the model
calls that exercise particular message and usage payloads are built here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import PromptTemplate
from langchain_core.utils.function_calling import convert_to_openai_tool

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import agent_shapes as shapes  # noqa: E402

Run = Callable[[list], Any]


def _shape(factory: Callable[[], tuple], **config: Any) -> Run:
    def run(callbacks: list) -> Any:
        runnable, inputs = factory()
        return runnable.invoke(inputs, config={"callbacks": callbacks, **config})

    run.__name__ = factory.__name__
    return run


react_agent = _shape(shapes.react_agent, metadata={"session_id": "s-react", "user_id": "u-1"})
create_agent_ = _shape(shapes.langchain_agent, tags=["beta"])
supervisor = _shape(shapes.supervisor)
swarm = _shape(shapes.swarm, configurable={"thread_id": "t-swarm"})
agent_executor = _shape(shapes.agent_executor)
prompt_chain = _shape(shapes.prompt_chain)


def retriever(callbacks: list) -> Any:
    return shapes.retriever().invoke("returns ship", config={"callbacks": callbacks})


def string_prompt_completion(callbacks: list) -> Any:
    prompt = PromptTemplate.from_template("Say {word} twice.")
    chain = prompt | FakeListLLM(responses=["hello hello"])
    return chain.invoke({"word": "hello"}, config={"callbacks": callbacks})


def multipart_message(callbacks: list) -> Any:
    tools = [convert_to_openai_tool(shapes.order_status)]
    model = shapes.model(["A cat on a mat."], name="gpt-4o").bind(tools=tools)
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
    "retriever": retriever,
    "multi-part message": multipart_message,
    "usage details": usage_details,
}
