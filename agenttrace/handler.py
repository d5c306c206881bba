"""The LangChain/LangGraph callback handler: callbacks in, OpenTelemetry spans out.

The agent's thread does the minimum here: look up the parent, build a handful of attributes,
start or end a span. Parents come from LangChain's own run tree (``parent_run_id``), never from
whatever OTel context happens to be current, so concurrent runs, thread pools and asyncio tasks
cannot cross-wire. While a run is open its span is also made the current OTel context, so spans
of other instrumentations (httpx, database clients, user code) started inside a tool, node or
model call nest under it. Every callback is wrapped: an exception in here is logged once and
swallowed, never raised into the agent.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any, Callable, Optional
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import extract as ex
from . import openinference as oi
from . import openinference_llm as oi_llm
from . import semconv as sc
from ._version import __version__
from .content import ContentPolicy, Redactor, to_text
from .runs import RunRegistry, RunState

logger = logging.getLogger("agenttrace")

# LangGraph control flow that travels as exceptions but is not a failure.
_CONTROL_FLOW = {"GraphBubbleUp", "GraphInterrupt", "NodeInterrupt", "ParentCommand"}


def _guard(method):
    @functools.wraps(method)
    def safe(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception:  # noqa: BLE001 - tracing must never break the agent
            self._internal_error(method.__name__)
            return None

    return safe


def _error_type(error: BaseException) -> str:
    cls = type(error)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _is_control_flow(error: BaseException) -> bool:
    return any(c.__name__ in _CONTROL_FLOW for c in type(error).__mro__)


def _route_targets(output: Any) -> Optional[Any]:
    """A LangGraph routing function's output (node name, END, Send, or a list of them) → targets."""
    def one(item: Any) -> Optional[str]:
        if isinstance(item, str):
            return item
        if type(item).__name__ == "Send":
            return str(getattr(item, "node", ""))
        return None

    if isinstance(output, (list, tuple)):
        targets = [one(i) for i in output]
        return targets if targets and all(t is not None for t in targets) else None
    return one(output)


class CallbackHandler(BaseCallbackHandler):
    """Turns LangChain/LangGraph runs into OTel GenAI spans.

    Pass it per call (``config={"callbacks": [handler]}``) or let :func:`agenttrace.instrument`
    add it to every run. Without ``tracer_provider`` the global provider is used.
    """

    run_inline = True  # run in the caller's thread/task so context and parents stay correct
    raise_error = False

    def __init__(
        self,
        tracer_provider: Optional[trace.TracerProvider] = None,
        *,
        capture_content: Optional[bool] = None,
        redact: Optional[Redactor] = None,
        max_content_length: Optional[int] = None,
        run_ttl: float = 3600.0,
        max_open_runs: int = 10_000,
        metrics: Optional[Any] = None,
        clock: Optional[Callable[[], int]] = None,
    ) -> None:
        super().__init__()
        # span timestamps (ns since the epoch); None = the SDK's clock. Replays and simulations pass their own.
        self.clock = clock
        self._tracer = trace.get_tracer("agenttrace", __version__, tracer_provider=tracer_provider)
        self.content = ContentPolicy.resolve(capture_content, redact, max_content_length)
        self.runs = RunRegistry(run_ttl, max_open_runs, self._expire)
        self.internal_errors = 0
        self._reported: set[str] = set()
        self.metrics = metrics  # an agenttrace.metrics.MetricsEngine, or None

    # ------------------------------------------------------------------ bookkeeping

    def _now(self) -> Optional[int]:
        return self.clock() if self.clock is not None else None

    def _internal_error(self, where: str) -> None:
        self.internal_errors += 1
        if where not in self._reported:
            self._reported.add(where)
            logger.warning("agenttrace: internal error in %s (the agent is unaffected; further ones are counted)", where, exc_info=True)

    def _start(
        self,
        run_id: UUID,
        parent_run_id: Optional[UUID],
        run_type: str,
        name: str,
        span_name: str,
        kind: SpanKind,
        attrs: dict,
        tags: Any,
        metadata: Any,
        parent: Optional[RunState] = None,
    ) -> RunState:
        if parent is None:
            parent = self.runs.get(parent_run_id)
        conversation = oi.labels(attrs, self.content, tags, metadata, parent.conversation_id if parent else None)
        attrs[sc.RUN_ID] = str(run_id)
        if parent is not None:
            ctx = trace.set_span_in_context(parent.span)
        else:
            ctx = None  # the caller's current context: an application span, a remote parent, ...
            current = trace.get_current_span()
            if getattr(current, "end_time", None) is not None:
                ctx = trace.set_span_in_context(trace.INVALID_SPAN)  # never parent under an ended (e.g. expired) span
        span = self._tracer.start_span(span_name, context=ctx, kind=kind, attributes=attrs, start_time=self._now())
        token = otel_context.attach(trace.set_span_in_context(span))
        state = RunState(span=span, token=token, run_type=run_type, name=name, parent=parent, conversation_id=conversation)
        self.runs.add(run_id, state)
        return state

    def _detach(self, state: RunState) -> None:
        token = state.token
        state.token = None
        if token is None or trace.get_current_span() is not state.span:
            return  # ended in another thread/task, or a newer context is still active: leave it
        var = getattr(token, "var", None)
        try:
            if var is not None:
                var.reset(token)
            else:
                otel_context.detach(token)
        except (ValueError, RuntimeError):
            pass  # token belongs to another contextvars.Context: nothing of ours is attached here

    def _finish(self, state: RunState, attrs: dict, error: Optional[BaseException] = None, end: bool = True) -> None:
        span = state.span
        if state.retry_attempts:
            attrs[sc.RETRY_COUNT] = state.retry_attempts - 1
            attrs[sc.RETRY_EXHAUSTED] = error is not None
        if error is not None:
            attrs[sc.ERROR_TYPE] = _error_type(error)
        if attrs:
            span.set_attributes(attrs)
        if error is not None:
            try:
                span.record_exception(error, timestamp=self._now())
            except Exception:  # noqa: BLE001 - e.g. an exception whose __str__ raises
                span.add_event("exception", {"exception.type": _error_type(error)})
            try:
                message = str(error)[:1000]
            except Exception:  # noqa: BLE001
                message = _error_type(error)
            span.set_status(Status(StatusCode.ERROR, message))
        self._detach(state)
        if end:
            span.end(end_time=self._now())

    def _expire(self, state: RunState) -> None:
        try:
            state.span.set_attribute(sc.RUN_EXPIRED, True)
            state.span.end(end_time=self._now())
        except Exception:  # noqa: BLE001
            self._internal_error("expire")

    def _end(self, run_id: UUID, error: Optional[BaseException] = None) -> None:
        state = self.runs.pop(run_id)
        if state is not None:
            self._finish(state, {}, error)

    def _metrics_context(self, state: RunState, operation: str, tags: Any, metadata: Any, extra: dict) -> None:
        node = state.parent
        while node is not None and node.node is None:
            node = node.parent
        state.step = {"operation": operation, "kind": state.run_type, "name": state.name, "node": node.node if node else None,
                      "tags": ex.user_tags(tags), "metadata": ex.user_metadata(metadata), **extra}

    def _score_and_finish(self, state: RunState, attrs: dict, response: Any) -> None:
        """Hand a finished step to the metric engine; it ends the span itself when it scores it."""
        owned = False
        if self.metrics is not None and state.step is not None:
            step = dict(state.step, attributes=attrs)
            try:
                owned = self.metrics.on_step_end(state.span, step, state.prompt, to_text(response or ""),
                                                 time.monotonic() - state.started, self._now())
            except Exception:  # noqa: BLE001
                self._internal_error("metrics")
        self._finish(state, attrs, end=not owned)

    def _number_attempt(self, parent: Optional[RunState], name: str, tags: Any, attrs: dict) -> None:
        """Retry attempts: ``with_retry`` tags attempts 2.. as ``retry:attempt:N``; the first
        attempt is the wrapper's first child of the same name."""
        if parent is None:
            return
        parent.children += 1
        attempt = ex.tag_number(tags, "retry:attempt")
        if attempt is None and parent.children == 1 and parent.name == name and parent.run_type == "chain" and parent.node is None and not parent.is_agent:
            attempt = 1
        if attempt is not None:
            parent.retry_attempts = max(parent.retry_attempts, attempt)
            attrs[sc.RETRY_ATTEMPT] = attempt

    def _route(self, router: RunState, source: str, target: Any, condition: Optional[int] = None, on: Optional[RunState] = None) -> None:
        attrs = {sc.ROUTE_SOURCE: source, sc.ROUTE_TARGET: target}
        if condition is not None:
            attrs[sc.ROUTE_CONDITION] = condition
        router.span.set_attributes(attrs)
        step = on or router.parent or router
        step.span.add_event(sc.ROUTE_EVENT, attrs, timestamp=self._now())

    # ------------------------------------------------------------------ chains, graphs, nodes

    @_guard
    def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, tags=None, metadata=None, **kwargs):
        metadata = metadata or {}
        name = ex.run_name(serialized, kwargs, "chain")
        parent = self.runs.get(parent_run_id)
        attrs: dict = {}
        self._number_attempt(parent, name, tags, attrs)

        graph_step = ex.tag_number(tags, "graph:step")
        node = metadata.get("langgraph_node") if graph_step is not None else None
        if node is not None and parent is not None and not parent.is_agent:
            self._promote_to_agent(parent)  # a subgraph: we learn it is a graph from its first node
        is_agent = node is None and (
            (parent_run_id is None and metadata.get("ls_integration") == "langgraph") or name == "LangGraph"
        )
        if is_agent:
            op, span_name = sc.OP_INVOKE_AGENT, f"{sc.OP_INVOKE_AGENT} {name}"
            attrs.update({sc.OPERATION: op, sc.AGENT_NAME: name, sc.OI_SPAN_KIND: "AGENT"})
        elif parent_run_id is None:
            op, span_name = sc.OP_INVOKE_WORKFLOW, f"{sc.OP_INVOKE_WORKFLOW} {name}"
            attrs.update({sc.OPERATION: op, sc.WORKFLOW_NAME: name, sc.OI_SPAN_KIND: oi.chain_kind(kwargs)})
        else:
            op, span_name = None, name
            attrs[sc.OI_SPAN_KIND] = oi.chain_kind(kwargs)
        if node is not None:
            attrs[sc.GRAPH_NODE] = str(node)
            attrs[sc.GRAPH_STEP] = graph_step
            triggers = metadata.get("langgraph_triggers")
            if isinstance(triggers, (list, tuple)):
                attrs[sc.GRAPH_TRIGGERS] = [str(t) for t in triggers]
        oi.chain_input(attrs, self.content, inputs, serialized)
        state = self._start(run_id, parent_run_id, "chain", name, span_name, SpanKind.INTERNAL, attrs, tags, metadata, parent)
        state.operation = op
        state.is_agent = is_agent
        state.node = str(node) if node is not None else None
        state.seq_step = ex.tag_number(tags, "seq:step")
        branch = ex.branch_tag(tags)
        if branch is not None and parent is not None:
            self._route(parent, parent.name, branch, int(branch) if branch.isdigit() else None)

    def _promote_to_agent(self, state: RunState) -> None:
        state.is_agent = True
        state.operation = sc.OP_INVOKE_AGENT
        state.span.update_name(f"{sc.OP_INVOKE_AGENT} {state.name}")
        state.span.set_attributes({sc.OPERATION: sc.OP_INVOKE_AGENT, sc.AGENT_NAME: state.name, sc.OI_SPAN_KIND: "AGENT"})

    @_guard
    def on_chain_end(self, outputs, *, run_id, **kwargs):
        state = self.runs.pop(run_id)
        if state is None:
            return
        attrs: dict = {}
        oi.chain_output(attrs, self.content, outputs, kwargs.get("inputs"))
        parent = state.parent
        if parent is not None and parent.node is not None and state.node is None and (state.seq_step or 0) >= 2:
            targets = _route_targets(outputs)  # a conditional edge's routing function
            if targets is not None:
                self._route(state, parent.node, targets)
        if state.node is not None and type(outputs).__name__ == "Command":
            goto = getattr(outputs, "goto", None)
            targets = _route_targets(goto) if goto not in (None, (), []) else None
            if targets is not None:
                self._route(state, state.node, targets)
        self._finish(state, attrs)

    @_guard
    def on_chain_error(self, error, *, run_id, **kwargs):
        state = self.runs.pop(run_id)
        if state is None:
            return
        if _is_control_flow(error):
            state.span.add_event(sc.INTERRUPT_EVENT, {"exception.type": _error_type(error)}, timestamp=self._now())
            self._finish(state, {sc.INTERRUPTED: True})
        else:
            self._finish(state, {}, error)

    # ------------------------------------------------------------------ model calls

    def _llm_start(self, operation, serialized, run_id, parent_run_id, tags, metadata, kwargs, messages=None, prompts=None):
        metadata = metadata or {}
        invocation = kwargs.get("invocation_params") or {}
        model = ex.requested_model(invocation, metadata)
        prov = ex.provider(invocation, metadata)
        name = ex.run_name(serialized, kwargs, str(invocation.get("_type") or operation))
        parent = self.runs.get(parent_run_id)
        attrs: dict = {sc.OPERATION: operation, sc.PROVIDER: prov, sc.OI_SPAN_KIND: "LLM"}
        if model:
            attrs[sc.REQUEST_MODEL] = model
            attrs[sc.OI_LLM_MODEL] = model
        ex.request_params(attrs, invocation, metadata)
        oi_llm.llm_request(attrs, invocation, metadata)
        self._number_attempt(parent, name, tags, attrs)
        if self.content.capture:
            if messages is not None:
                ex.input_messages(attrs, self.content, messages)
            elif prompts:
                self.content.put(attrs, sc.INPUT_MESSAGES, [{"role": "user", "parts": [{"type": "text", "content": p}]} for p in prompts[:1]])
            oi_llm.llm_input(attrs, self.content, messages, prompts)
        span_name = f"{operation} {model}" if model else operation
        state = self._start(run_id, parent_run_id, "llm", name, span_name, SpanKind.CLIENT, attrs, tags, metadata, parent)
        state.operation = operation
        state.provider = prov
        if self.metrics is not None:
            self._metrics_context(state, operation, tags, metadata, {"model": model, "tool": None})
            state.prompt = ex.prompt_text(messages, prompts)

    @_guard
    def on_chat_model_start(self, serialized, messages, *, run_id, parent_run_id=None, tags=None, metadata=None, **kwargs):
        self._llm_start(sc.OP_CHAT, serialized, run_id, parent_run_id, tags, metadata, kwargs, messages=messages)

    @_guard
    def on_llm_start(self, serialized, prompts, *, run_id, parent_run_id=None, tags=None, metadata=None, **kwargs):
        self._llm_start(sc.OP_TEXT_COMPLETION, serialized, run_id, parent_run_id, tags, metadata, kwargs, prompts=prompts)

    @_guard
    def on_llm_new_token(self, token, *, run_id, **kwargs):
        state = self.runs.get(run_id)
        if state is not None:
            if state.first_chunk_at is None:
                state.first_chunk_at = time.monotonic()
            state.chunks += 1

    @_guard
    def on_llm_end(self, response, *, run_id, **kwargs):
        state = self.runs.pop(run_id)
        if state is None:
            return
        attrs: dict = {}
        ex.llm_response(attrs, self.content, response, state.provider)
        oi_llm.llm_output(attrs, self.content, response)
        if state.first_chunk_at is not None:
            attrs[sc.RESPONSE_TIME_TO_FIRST_CHUNK] = state.first_chunk_at - state.started
            attrs[sc.STREAMED_CHUNKS] = state.chunks
        if self.metrics is not None:
            self._score_and_finish(state, attrs, ex.response_text(response))
        else:
            self._finish(state, attrs)

    @_guard
    def on_llm_error(self, error, *, run_id, **kwargs):
        self._end(run_id, error)

    @_guard
    def on_retry(self, retry_state, *, run_id, **kwargs):
        """Integration-level retries (e.g. provider SDK retry decorators) → events on the call."""
        state = self.runs.get(run_id)
        if state is None:
            return
        attrs = {sc.RETRY_ATTEMPT: int(getattr(retry_state, "attempt_number", 0) or 0)}
        outcome = getattr(retry_state, "outcome", None)
        if outcome is not None and getattr(outcome, "failed", False):
            attrs[sc.ERROR_TYPE] = _error_type(outcome.exception())
        state.span.add_event(sc.RETRY_EVENT, attrs, timestamp=self._now())

    # ------------------------------------------------------------------ tools and retrievers

    @_guard
    def on_tool_start(self, serialized, input_str, *, run_id, parent_run_id=None, tags=None, metadata=None, inputs=None, **kwargs):
        name = ex.run_name(serialized, kwargs, "tool")
        parent = self.runs.get(parent_run_id)
        attrs: dict = {
            sc.OPERATION: sc.OP_EXECUTE_TOOL,
            sc.TOOL_NAME: name,
            sc.TOOL_TYPE: "function",
            sc.OI_SPAN_KIND: "TOOL",
            sc.OI_TOOL_NAME: name,
        }
        description = serialized.get("description") if isinstance(serialized, dict) else None
        if description:
            attrs[sc.TOOL_DESCRIPTION] = to_text(description)
            attrs[sc.OI_TOOL_DESCRIPTION] = to_text(description)
        call_id = kwargs.get("tool_call_id")
        if call_id:
            attrs[sc.TOOL_CALL_ID] = to_text(call_id)
            attrs[sc.OI_TOOL_CALL_ID] = to_text(call_id)
        self._number_attempt(parent, name, tags, attrs)
        if self.content.capture:
            args = inputs if inputs is not None else input_str
            self.content.put(attrs, sc.TOOL_CALL_ARGUMENTS, args)
            oi.tool_input(attrs, self.content, input_str, inputs)
        state = self._start(run_id, parent_run_id, "tool", name, f"{sc.OP_EXECUTE_TOOL} {name}", SpanKind.INTERNAL, attrs, tags, metadata, parent)
        state.operation = sc.OP_EXECUTE_TOOL
        if self.metrics is not None:
            self._metrics_context(state, sc.OP_EXECUTE_TOOL, tags, metadata, {"model": None, "tool": name})
            state.prompt = to_text(inputs if inputs is not None else input_str or "")

    @_guard
    def on_tool_end(self, output, *, run_id, **kwargs):
        state = self.runs.pop(run_id)
        if state is None:
            return
        attrs: dict = {}
        failure = ex.tool_output(attrs, self.content, output)
        oi.tool_output(attrs, self.content, output)
        if failure is not None:
            attrs[sc.ERROR_TYPE] = failure
            state.span.set_status(Status(StatusCode.ERROR, "tool returned an error message"))
        if self.metrics is not None:
            self._score_and_finish(state, attrs, getattr(output, "content", output))
        else:
            self._finish(state, attrs)

    @_guard
    def on_tool_error(self, error, *, run_id, **kwargs):
        self._end(run_id, error)

    @_guard
    def on_retriever_start(self, serialized, query, *, run_id, parent_run_id=None, tags=None, metadata=None, **kwargs):
        metadata = metadata or {}
        name = ex.run_name(serialized, kwargs, "retriever")
        source = str(metadata.get("ls_vector_store_provider") or name)
        attrs: dict = {sc.OPERATION: sc.OP_RETRIEVAL, sc.DATA_SOURCE_ID: source, sc.OI_SPAN_KIND: "RETRIEVER"}
        self._number_attempt(self.runs.get(parent_run_id), name, tags, attrs)
        self.content.put(attrs, sc.RETRIEVAL_QUERY_TEXT, query)
        oi.retriever_input(attrs, self.content, query)
        state = self._start(run_id, parent_run_id, "retriever", name, f"{sc.OP_RETRIEVAL} {source}", SpanKind.CLIENT, attrs, tags, metadata)
        state.operation = sc.OP_RETRIEVAL

    @_guard
    def on_retriever_end(self, documents, *, run_id, **kwargs):
        state = self.runs.pop(run_id)
        if state is None:
            return
        attrs: dict = {}
        ex.documents(attrs, self.content, documents)
        oi.retriever_output(attrs, self.content, documents)
        self._finish(state, attrs)

    @_guard
    def on_retriever_error(self, error, *, run_id, **kwargs):
        self._end(run_id, error)
