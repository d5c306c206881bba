"""Build the agent of ``agenttrace golden run`` and run it, traced, on one example.

The factory contract: ``--agent pkg.mod:factory`` names a callable returning a LangChain runnable
(a compiled LangGraph graph, a chain...). Without ``--model-override`` it is called with no
arguments; with overrides it is called as ``factory(model_overrides={"alias": "version", ...})``
and must build its chat models with the versions given (a provider switch is an override too:
``gpt-4o-mini=anthropic:claude-3-5-haiku``).

The example's input is passed as is when it is a JSON object (the graph's state); a string becomes
``{"messages": [{"role": "user", "content": <text>}]}``, LangGraph's messages state.

Each run is traced by the agenttrace callback handler into Phoenix (content capture on) and the
spans are also kept in memory, so the run's output, tool calls, route path, latency and tokens are
read from what was traced (:mod:`.spans`). The run starts a trace of its own in the project given
(not a child of the experiment's task span, whose project phoenix-client would otherwise impose).
"""

from __future__ import annotations

import contextvars
import importlib
import json
import threading
import time
import uuid
from typing import Any, Callable, Mapping, Optional

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from agenttrace.trajectory import record_from_sdk

from .spans import RunFacts, runs_of

RUN_KEY = "golden_run_key"


class AgentError(ValueError):
    """The ``--agent`` factory cannot be loaded or called."""


def load_factory(spec: str) -> Callable[..., Any]:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise AgentError(f"--agent must be module:factory, got {spec!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise AgentError(f"cannot import {module_name!r} for --agent: {err}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise AgentError(f"{module_name!r} has no {attr!r} (--agent {spec})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise AgentError(f"--agent {spec} is not callable")
    return obj


def build_agent(spec: str, model_overrides: Mapping[str, str]) -> Any:
    factory = load_factory(spec)
    try:
        agent = factory(model_overrides=dict(model_overrides)) if model_overrides else factory()
    except TypeError as err:
        if model_overrides:
            raise AgentError(f"--agent {spec} must accept model_overrides=... for --model-override: {err}") from None
        raise AgentError(f"--agent {spec}: calling the factory failed: {err}") from None
    if not hasattr(agent, "invoke"):
        raise AgentError(f"--agent {spec} returned {type(agent).__name__}, not a LangChain runnable")
    return agent


def agent_input(value: Any) -> Any:
    if isinstance(value, str):
        return {"messages": [{"role": "user", "content": value}]}
    return value


def prompt_text(value: Any) -> str:
    """The text an example asks (for relevance and judges): a string, the last user message, or JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in ("input", "question", "query", "prompt"):
            if isinstance(value.get(key), str):
                return value[key]
        messages = value.get("messages")
        if isinstance(messages, list) and messages:
            last = messages[-1]
            if isinstance(last, Mapping):
                content = last.get("content") or (last.get("data") or {}).get("content")
                if isinstance(content, str):
                    return content
            if isinstance(last, (list, tuple)) and len(last) == 2 and isinstance(last[1], str):
                return last[1]
    return json.dumps(value, ensure_ascii=False, default=str)


class _Collector(SpanProcessor):
    """Keeps the finished spans of the runs in flight, by trace id."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_trace: dict[int, list[ReadableSpan]] = {}

    def on_end(self, span: ReadableSpan) -> None:
        with self.lock:
            self.by_trace.setdefault(span.context.trace_id, []).append(span)

    def take(self, key: str) -> Optional[list[ReadableSpan]]:
        with self.lock:
            for trace_id, spans in self.by_trace.items():
                for s in spans:
                    if s.parent is None and key in str((s.attributes or {}).get("metadata", "")):
                        return self.by_trace.pop(trace_id)
        return None


class TracedAgent:
    """Runs ``agent`` traced into Phoenix project ``project`` at ``endpoint``."""

    def __init__(self, agent: Any, *, project: str, endpoint: str, metadata: Optional[Mapping[str, Any]] = None):
        import agenttrace

        self.agent = agent
        self.metadata = dict(metadata or {})
        self.telemetry = agenttrace.configure(project=project, endpoint=endpoint, capture_content=True,
                                              set_global=False, handle_sigterm=False, retry_monitor=False)
        self.collector = _Collector()
        self.telemetry.tracer_provider.add_span_processor(self.collector)

    def run(self, value: Any, metadata: Optional[Mapping[str, Any]] = None) -> dict:
        key = uuid.uuid4().hex
        config = {"callbacks": [self.telemetry.callback_handler],
                  "metadata": {**self.metadata, **(metadata or {}), RUN_KEY: key}}
        # in a fresh context: a trace of its own (not under the experiment's task span), and outside
        # phoenix-client's span capture, which would move the spans into the experiment's project
        error = contextvars.Context().run(self._invoke, agent_input(value), config)
        facts = self._facts(key)
        out = {"run_key": key, "output": facts.output if facts else None, "error": error or (facts.error if facts else None),
               "latency_ms": facts.latency_ms if facts else None, "total_tokens": facts.total_tokens if facts else None,
               "route_path": facts.route_path if facts else [], "tool_calls": facts.tool_calls if facts else [],
               "trace_id": facts.trace_id if facts else None}
        return out

    def _invoke(self, value: Any, config: dict) -> Optional[str]:
        try:
            self.agent.invoke(value, config=config)
        except Exception as err:  # noqa: BLE001 - a failing example is a result, not a crash
            return f"{type(err).__name__}: {err}"
        return None

    def _facts(self, key: str, wait: float = 2.0) -> Optional[RunFacts]:
        deadline = time.monotonic() + wait
        while True:
            spans = self.collector.take(key)
            if spans is not None:
                runs = runs_of([record_from_sdk(s) for s in spans])
                return runs[0] if runs else None
            if time.monotonic() > deadline:
                return None
            time.sleep(0.01)

    def close(self) -> bool:
        ok = self.telemetry.flush(60)
        self.telemetry.shutdown()
        return bool(ok)
