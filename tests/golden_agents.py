"""Agent factories for the golden-suite tests (``agenttrace golden run --agent golden_agents:<name>``):
real LangGraph agents on scripted chat models."""

from __future__ import annotations

import itertools
from typing import Mapping, Optional

from langchain_core.messages import AIMessage

from agenttrace.testing import ScriptedChatModel
from conftest import build_agent, order_status, support_reply, tool_call

_flaky_turns = itertools.count()


def support(model_overrides: Optional[Mapping[str, str]] = None):
    """The support bot: order_status, then start_return, then a reply. ``gpt-4o`` may be overridden."""
    model = (model_overrides or {}).get("gpt-4o", "gpt-4o")
    return build_agent(ScriptedChatModel(replies=[support_reply], model=model, response_model=model))


def status_only():
    """Looks the order up and answers: one tool call, no return started."""
    def reply(messages):
        if not any(m.type == "tool" for m in messages):
            return tool_call("order_status", {"order_id": "A1"}, "call_status_1")
        return AIMessage(content="Your order A1 shipped yesterday.")

    return build_agent(ScriptedChatModel(replies=[reply], model="gpt-4o"), tools=(order_status,), name="status-bot")


def flaky():
    """Every other run answers without looking the order up: the route path changes between repeats."""
    def reply(messages):
        if not any(m.type == "tool" for m in messages):
            if next(_flaky_turns) % 2:
                return AIMessage(content="I cannot help with that.")
            return tool_call("order_status", {"order_id": "A1"}, "call_status_1")
        return AIMessage(content="Your order A1 shipped yesterday.")

    return build_agent(ScriptedChatModel(replies=[reply], model="gpt-4o"), tools=(order_status,), name="status-bot")


not_a_runnable = "not an agent"


def hedging_judge():
    """The judge model of the golden tests' profile file: hedged when the reply says "might"."""
    from agenttrace.testing import RuleJudgeModel

    return RuleJudgeModel(rules=[(r"(?i)\bmight\b|\bperhaps\b", "hedged", "it hedges")],
                          default=("confident", "states it plainly"))


def hedging_support():
    """The support bot, hedging its final answer."""
    def reply(messages):
        answer = support_reply(messages)
        if answer.tool_calls:
            return answer
        return AIMessage(content="Your order A1 might have shipped; a return might be started.")

    return build_agent(ScriptedChatModel(replies=[reply], model="gpt-4o"))


def broken():
    """An agent whose model fails on every call."""
    def reply(messages):
        raise RuntimeError("provider unavailable")

    return build_agent(ScriptedChatModel(replies=[reply], model="gpt-4o"))
