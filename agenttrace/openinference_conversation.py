"""The root span of an agent turn, as the conversation reads: what the user said, what the agent replied.

Phoenix's trace list and Sessions view show a trace's root ``input.value`` / ``output.value``. For
message-based agents (a ``messages`` key: ``MessagesState`` graphs, ``create_agent``,
``create_react_agent``, supervisor / swarm teams) and the classic ``AgentExecutor`` (``input`` /
``output``, with or without ``chat_history``) the root span gets, as plain text:

- input: this turn's new user message(s), read from the run's *inputs* (with a checkpointer the
  state holds the whole thread; the invoke's input only what is new). A resumed run
  (``Command(resume=...)``) shows the human's answer;
- output: the final AI reply; a run paused by ``interrupt()`` shows what it asks the human.

The values OpenInference would have written (the whole input and state as JSON) move to
``agenttrace.run.input`` / ``agenttrace.run.output``. Anything else keeps today's values. Content
only exists with capture on, and passes the content policy like every other value.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from . import semconv as sc
from .content import ContentPolicy
from .extract import plain_text
from .openinference import _json_like, dumps, isolated

_USER = {"human", "user"}


def _type(message: Any) -> Optional[str]:
    if isinstance(message, Mapping):
        return str(message.get("role") or message.get("type") or "")
    if isinstance(message, (tuple, list)) and len(message) == 2:
        return str(message[0])
    return getattr(message, "type", None)


def _content(message: Any) -> Any:
    if isinstance(message, Mapping):
        return message.get("content")
    if isinstance(message, (tuple, list)) and len(message) == 2:
        return message[1]
    return getattr(message, "content", None)


def _as_list(messages: Any) -> Sequence[Any]:
    if isinstance(messages, (list, tuple)) and not (len(messages) == 2 and isinstance(messages[0], str)):
        return messages
    return [messages]


def user_text(messages: Any) -> Optional[str]:
    """The text of the user messages among ``messages`` (any form LangGraph accepts), or None."""
    if isinstance(messages, str):
        return messages
    texts = [plain_text(_content(m)) for m in _as_list(messages) if _type(m) in _USER]
    texts = [t for t in texts if t]
    return "\n\n".join(texts) if texts else None


def reply_text(messages: Any) -> Optional[str]:
    """The final AI reply: the last message, when it is an AI message with text."""
    if not isinstance(messages, (list, tuple)) or not messages:
        return None
    last = messages[-1]
    return (plain_text(_content(last)) or None) if _type(last) in ("ai", "assistant", "AIMessageChunk") else None


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else dumps(value)


def _turn_input(inputs: Any) -> Optional[str]:
    if type(inputs).__name__ == "Command":
        resume = getattr(inputs, "resume", None)
        if resume is not None:
            return _value_text(resume)
        update = getattr(inputs, "update", None)
        return user_text(update["messages"]) if isinstance(update, Mapping) and "messages" in update else None
    if not isinstance(inputs, Mapping):
        return None
    if "messages" in inputs:
        return user_text(inputs["messages"])
    value = inputs.get("input")
    return value if isinstance(value, str) and value else None


def _turn_output(outputs: Any, interrupts: Optional[list]) -> Optional[str]:
    if isinstance(outputs, Mapping):
        if "messages" in outputs and not interrupts:
            return reply_text(outputs["messages"])
        value = outputs.get("output")
        if isinstance(value, str) and value:
            return value
    if interrupts:
        values = [v for _, v in interrupts]
        return _value_text(values[0] if len(values) == 1 else values)
    return None


def _replace(attrs: dict, policy: ContentPolicy, value_key: str, mime_key: str, full_key: str, text: Optional[str]) -> None:
    if text is None or attrs.get(value_key) == text:  # already the text (AgentExecutor's single input)
        return
    if value_key in attrs:
        attrs[full_key] = attrs[value_key]
    policy.put(attrs, value_key, text)
    if value_key in attrs:
        attrs[mime_key] = sc.JSON_MIME if _json_like(text) else sc.TEXT_MIME


@isolated
def root_input(attrs: dict, policy: ContentPolicy, inputs: Any) -> None:
    """An agent turn's root span starts (or learns its streamed inputs): this turn's user text."""
    if policy.capture:
        _replace(attrs, policy, sc.OI_INPUT_VALUE, sc.OI_INPUT_MIME, sc.RUN_INPUT, _turn_input(inputs))


@isolated
def root_output(attrs: dict, policy: ContentPolicy, outputs: Any, interrupts: Optional[list] = None) -> None:
    """An agent turn's root span ends: the final reply, or the question an interrupt asks."""
    if policy.capture:
        _replace(attrs, policy, sc.OI_OUTPUT_VALUE, sc.OI_OUTPUT_MIME, sc.RUN_OUTPUT, _turn_output(outputs, interrupts))

