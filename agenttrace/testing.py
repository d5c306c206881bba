"""Helpers for tests, examples and benchmarks: a scripted chat model, a rule judge and a span-tree printer.

``ScriptedChatModel`` is a real LangChain chat model (a ``BaseChatModel`` runnable) that answers
from a script instead of a provider, and reports what real providers report: the model it was
asked for (``model``), the model that actually answered (``response_model``: the alias-vs-actual
signal), a system fingerprint, finish reason, token usage, and streamed chunks.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from typing import Any, Callable, Iterator, Optional, Sequence, Union

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

Reply = Union[str, AIMessage, Callable[[Sequence[BaseMessage]], Union[str, AIMessage]]]


def _count(text: str) -> int:
    return max(1, len(text.split())) if text else 0


class ScriptedChatModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    replies: list = []
    model: str = "scripted-model"
    response_model: Optional[str] = None
    provider: str = "openai"
    system_fingerprint: Optional[str] = None
    temperature: Optional[float] = 0.7
    max_tokens: Optional[int] = 256
    _cycle: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "scripted-chat"

    @property
    def _identifying_params(self) -> dict:
        return {"model": self.model, "temperature": self.temperature, "max_tokens": self.max_tokens}

    def _get_ls_params(self, stop: Optional[list[str]] = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(ls_provider=self.provider, ls_model_name=self.model, ls_model_type="chat")
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if self.max_tokens is not None:
            params["ls_max_tokens"] = self.max_tokens
        if stop:
            params["ls_stop"] = stop
        return params

    def bind_tools(self, tools: Any, **kwargs: Any) -> "ScriptedChatModel":
        return self

    def _next(self, messages: Sequence[BaseMessage]) -> AIMessage:
        with self._lock:
            if self._cycle is None:
                self._cycle = itertools.cycle(self.replies or ["ok"])
            reply = next(self._cycle)
        if callable(reply) and not isinstance(reply, AIMessage):
            reply = reply(messages)
        if isinstance(reply, str):
            reply = AIMessage(content=reply)
        return reply

    def _metadata(self, finish: str) -> dict:
        meta = {"model_name": self.response_model or self.model, "finish_reason": finish, "id": f"chatcmpl-{uuid.uuid4().hex[:12]}"}
        if self.system_fingerprint:
            meta["system_fingerprint"] = self.system_fingerprint
        return meta

    def _usage(self, messages: Sequence[BaseMessage], text: str) -> dict:
        prompt = sum(_count(m.content if isinstance(m.content, str) else str(m.content)) for m in messages)
        out = _count(text)
        return {"input_tokens": prompt, "output_tokens": out, "total_tokens": prompt + out}

    def _generate(self, messages: list[BaseMessage], stop: Optional[list[str]] = None,
                  run_manager: Optional[CallbackManagerForLLMRun] = None, **kwargs: Any) -> ChatResult:
        reply = self._next(messages)
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        finish = "tool_calls" if reply.tool_calls else "stop"
        message = AIMessage(content=reply.content, tool_calls=reply.tool_calls,
                            response_metadata=self._metadata(finish), usage_metadata=self._usage(messages, text))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: Optional[list[str]] = None,
                run_manager: Optional[CallbackManagerForLLMRun] = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        reply = self._next(messages)
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        words = text.split(" ") if text else []
        for i, word in enumerate(words):
            piece = word if i == len(words) - 1 else word + " "
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        finish = "tool_calls" if reply.tool_calls else "stop"
        last = AIMessageChunk(content="", response_metadata=self._metadata(finish), usage_metadata=self._usage(messages, text),
                              tool_call_chunks=[{"name": c["name"], "args": __import__("json").dumps(c["args"]), "id": c["id"], "index": i}
                                                for i, c in enumerate(reply.tool_calls)])
        yield ChatGenerationChunk(message=last)


def span_tree(spans: Sequence[Any], attributes: Sequence[str] = ()) -> str:
    """Render finished SDK spans as an indented tree (one line per span)."""
    by_parent: dict = {}
    ids = {s.context.span_id for s in spans}
    for s in sorted(spans, key=lambda s: s.start_time):
        parent = s.parent.span_id if s.parent is not None and s.parent.span_id in ids else None
        by_parent.setdefault(parent, []).append(s)
    lines: list[str] = []

    def walk(parent: Optional[int], depth: int) -> None:
        for s in by_parent.get(parent, []):
            ms = (s.end_time - s.start_time) / 1e6 if s.end_time else float("nan")
            extra = " ".join(f"{k}={s.attributes[k]}" for k in attributes if k in s.attributes)
            status = "" if s.status.is_ok else f" [{s.status.status_code.name}]"
            lines.append(f"{'  ' * depth}{s.name}{status} ({ms:.1f} ms) {extra}".rstrip())
            walk(s.context.span_id, depth + 1)

    walk(None, 0)
    return "\n".join(lines)


# --- a deterministic LLM judge -------------------------------------------------------------------

def judged_output(prompt: str) -> str:
    """The judged reply in a rendered judge prompt: the text between ``[BEGIN OUTPUT]`` and
    ``[END OUTPUT]`` (the whole prompt when the markers are absent)."""
    start, end = prompt.rfind("[BEGIN OUTPUT]"), prompt.rfind("[END OUTPUT]")
    if start < 0 or end < start:
        return prompt
    return prompt[start + len("[BEGIN OUTPUT]"):end].strip()


class RuleJudgeModel(BaseChatModel):
    """A real LangChain chat model that judges by rule: ``decide(prompt) -> (label, explanation)``,
    or the first of ``rules`` (regex, label, explanation) whose regex is found in the judged output
    (:func:`judged_output`), else ``default``. It answers a bound tool (``bind_tools`` /
    ``with_structured_output``: the classification path of phoenix-evals' LangChain adapter) with a
    tool call ``{"label", "explanation"}``, plain calls with the label; ``latency`` seconds of sleep
    stand in for the provider's round trip; ``fail`` raises (a judge error)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    decide: Optional[Callable[[str], tuple]] = None
    rules: list = []
    default: tuple = ("unknown", "no rule matched")
    model: str = "rule-judge"
    latency: float = 0.0
    fail: Optional[str] = None
    _called: int = PrivateAttr(default=0)
    _count_lock: Any = PrivateAttr(default_factory=threading.Lock)

    @property
    def calls(self) -> int:
        """How many times the model was called (from any thread)."""
        return self._called

    @property
    def _llm_type(self) -> str:
        return "rule-judge"

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any):
        from langchain_core.utils.function_calling import convert_to_openai_tool

        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _judge(self, prompt: str) -> tuple:
        if self.decide is not None:
            return tuple(self.decide(prompt))
        import re

        out = judged_output(prompt)
        for pattern, label, explanation in self.rules:
            if re.search(pattern, out, re.IGNORECASE):
                return label, explanation
        return tuple(self.default)

    def _generate(self, messages: list[BaseMessage], stop: Optional[list[str]] = None,
                  run_manager: Optional[CallbackManagerForLLMRun] = None, **kwargs: Any) -> ChatResult:
        import time as _time

        with self._count_lock:
            self._called += 1
        if self.latency:
            _time.sleep(self.latency)
        if self.fail:
            raise RuntimeError(self.fail)
        prompt = "\n".join(m.content if isinstance(m.content, str) else str(m.content) for m in messages)
        label, explanation = self._judge(prompt)
        tools = kwargs.get("tools") or []
        usage = {"input_tokens": _count(prompt), "output_tokens": _count(f"{label} {explanation}")}
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        if tools:
            call = {"name": tools[0]["function"]["name"], "args": {"label": label, "explanation": explanation},
                    "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
            message = AIMessage(content="", tool_calls=[call], usage_metadata=usage)
        else:
            message = AIMessage(content=label, usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])
