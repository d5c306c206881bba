"""The LangChain/LangGraph callback handler: callbacks in, OpenTelemetry spans out.

The agent's thread does the minimum here: look up the parent, build a handful of attributes,
start or end a span (:mod:`agenttrace.lifecycle`). Parents come from LangChain's own run tree
(``parent_run_id``), never from whatever OTel context happens to be current, so concurrent runs,
thread pools and asyncio tasks cannot cross-wire. What a chain *is* (graph, agent, workflow,
fallback wrapper) is decided when it starts (:mod:`agenttrace.shapes`); LangGraph control flow
(interrupts, handoffs, cancellation) is told apart from failure (:mod:`agenttrace.control`).
Every callback is wrapped (:mod:`agenttrace.guard`): an exception in here is logged once and
swallowed, never raised into the agent, and the run it concerned is ended cleanly. Tool and
retriever callbacks are in :mod:`agenttrace.handler_tools`.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables.config import var_child_runnable_config
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from . import control, errors
from . import extract as ex
from . import openinference as oi
from . import openinference_conversation as oi_turn
from . import openinference_llm as oi_llm
from . import semconv as sc
from . import shapes
from ._version import __version__
from .content import ContentPolicy, Redactor, to_text
from .flow import Flow
from .guard import guarded as _guard
from .handler_tools import ToolCallbacks
from .lifecycle import SpanLife
from .runs import RunRegistry, RunState

logger = logging.getLogger("agenttrace")

class CallbackHandler(ToolCallbacks, BaseCallbackHandler):
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
        content_format: Optional[str] = None,
        run_ttl: float = 3600.0,
        max_open_runs: int = 10_000,
        metrics: Optional[Any] = None,
        clock: Optional[Callable[[], int]] = None,
        dead_letter: Optional[Any] = None,
    ) -> None:
        super().__init__()
        tracer = trace.get_tracer("agenttrace", __version__, tracer_provider=tracer_provider)
        self.content = ContentPolicy.resolve(capture_content, redact, max_content_length, content_format)
        # content with a place in both families goes to the one(s) content_format picks
        self.genai, self.oi = self.content.family("genai"), self.content.family("openinference")
        self.runs = RunRegistry(run_ttl, max_open_runs, self._expire)
        # span timestamps (ns since the epoch); None = the SDK's clock. Replays and simulations pass their own.
        self.life = SpanLife(tracer, self.content, clock, self.runs, self._internal_error)
        self.flow = Flow(self.life, self.content)
        self.internal_errors = 0
        self._reported: set[str] = set()
        self.metrics = metrics  # an agenttrace.metrics.MetricsEngine, or None
        if hasattr(metrics, "use_content_policy"):
            metrics.use_content_policy(self.content)  # judge explanations quote content
        self.dead_letter = dead_letter  # an agenttrace.dead_letter.DeadLetterQueue, or None

    @property
    def clock(self) -> Optional[Callable[[], int]]:
        return self.life.clock

    # ------------------------------------------------------------------ bookkeeping

    def _now(self) -> Optional[int]:
        return self.life.now()

    def _internal_error(self, where: str) -> None:
        self.internal_errors += 1
        if where not in self._reported:
            self._reported.add(where)
            logger.warning("agenttrace: internal error in %s (the agent is unaffected; further ones are counted)", where, exc_info=True)

    def _abandon(self, run_id: Any) -> None:
        """A callback failed: end its run (if still registered) so no span or context is left behind."""
        try:
            state = self.runs.pop(run_id)
            if state is not None:
                self.life.finish(state, {sc.INTERNAL_ERROR: "callback failed"})
        except Exception:  # noqa: BLE001
            pass

    def _parent(self, parent_run_id: Any) -> Optional[RunState]:
        """The parent run. ``with_fallbacks`` (langchain-core 1.x) hands its alternatives the config
        it was called with, not its child config: they start without ``parent_run_id`` (or, nested,
        with the wrapper's own parent) although LangChain's child context names the wrapper: use it."""
        config = var_child_runnable_config.get()
        context_id = getattr(config.get("callbacks"), "parent_run_id", None) if isinstance(config, dict) else None
        if context_id is None or context_id == parent_run_id:
            return self.runs.get(parent_run_id)
        if parent_run_id is None:
            return self.runs.get(context_id)
        wrapper = self.runs.get(context_id)
        parent = self.runs.get(parent_run_id)
        return wrapper if wrapper is not None and wrapper.fallbacks and wrapper.parent is parent else parent

    def _expire(self, state: RunState) -> None:
        self.life.expire(state)

    def _start(self, run_id, parent: Optional[RunState], run_type: str, name: str, span_name: str, kind: SpanKind,
               attrs: dict, tags: Any, metadata: Any, operation: Optional[str]) -> RunState:
        conversation = oi.labels(attrs, self.content, tags, metadata, parent.conversation_id if parent else None)
        attrs[sc.RUN_ID] = str(run_id)
        span_name = self.flow.span_name(parent, span_name, attrs, operation)
        state = self.life.start(run_id, parent, run_type, name, span_name, kind, attrs, operation or run_type)
        state.attempt = attrs.get(sc.RETRY_ATTEMPT)
        state.conversation_id = conversation
        state.operation = operation
        return state

    def _finish(self, state: RunState, attrs: dict, error: Optional[BaseException] = None, end: bool = True) -> None:
        if state.is_agent:
            self.flow.rollup(state, attrs)
        if state.attempt is not None:
            self.flow.attempt_ended(state, error)
        self.life.finish(state, attrs, error, end)

    def _end(self, run_id, build: Optional[Callable[[RunState, dict], None]] = None,
             response: Optional[Callable[[], Any]] = None) -> None:
        """Pop a run and end it; ``build`` fills its final attributes (its failure never keeps the
        span open); ``response`` (LLM and tool steps) hands the step to the metric engine."""
        state = self.runs.pop(run_id)
        if state is None:
            return
        attrs: dict = {}
        try:
            if build is not None:
                build(state, attrs)
        except Exception:  # noqa: BLE001
            self._internal_error("end")
            attrs[sc.INTERNAL_ERROR] = "attributes failed"
        if response is not None and self.metrics is not None and state.step is not None:
            self._score(state, attrs, response)
        else:
            self._finish(state, attrs)

    # ------------------------------------------------------------------ chains, graphs, agents, nodes

    @_guard
    def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, tags=None, metadata=None, **kwargs):
        metadata = metadata or {}
        name = ex.run_name(serialized, kwargs, "chain")
        parent = self._parent(parent_run_id)
        attrs: dict = {}
        self.flow.number(parent, name, tags, attrs)

        graph_step = ex.tag_number(tags, "graph:step")
        node = metadata.get("langgraph_node") if graph_step is not None else None
        shape = shapes.PLAIN if node is not None else shapes.of_chain(name, metadata)
        if node is not None and parent is not None and not parent.is_graph:
            parent.is_graph = parent.is_agent = True  # a graph the frame check missed: roll-ups still work
        agent_name = shape.name or name
        if shape.agent or shape.graph:
            op = sc.OP_INVOKE_AGENT if shape.agent else sc.OP_INVOKE_WORKFLOW
            attrs[sc.OPERATION] = op
            attrs[sc.AGENT_NAME if shape.agent else sc.WORKFLOW_NAME] = agent_name
            attrs[sc.OI_SPAN_KIND] = "AGENT"  # Phoenix's agent views, for graphs and agents alike
        elif parent is None:  # a top-level run, wrappers too: samplers and drift segments key on it
            op = sc.OP_INVOKE_WORKFLOW
            attrs.update({sc.OPERATION: op, sc.WORKFLOW_NAME: name, sc.OI_SPAN_KIND: oi.chain_kind(kwargs)})
        else:
            op = None
            attrs[sc.OI_SPAN_KIND] = oi.chain_kind(kwargs)
        if node is not None:
            attrs[sc.GRAPH_NODE] = str(node)
            attrs[sc.GRAPH_STEP] = graph_step
            triggers = metadata.get("langgraph_triggers")
            if isinstance(triggers, (list, tuple)):
                attrs[sc.GRAPH_TRIGGERS] = [str(t) for t in triggers]
        oi.chain_input(attrs, self.content, inputs, serialized)
        if parent is None and op is not None:
            oi_turn.root_input(attrs, self.content, inputs)
        wrapper = None if op else "retry" if shape.retry else "fallback" if shape.fallbacks else None
        if shape.retry:
            self.flow.retry_policy(shape.source, attrs)
        span_name = f"{op} {agent_name}" if op else f"{wrapper} {name}" if wrapper else name
        state = self._start(run_id, parent, "chain", name, span_name, SpanKind.INTERNAL, attrs, tags, metadata, op)
        state.is_agent = op is not None
        state.is_graph = shape.graph
        state.fallbacks = shape.fallbacks
        state.wrapper = wrapper
        state.agent_name = agent_name if op is not None else None
        state.node = str(node) if node is not None else None
        state.seq_step = ex.tag_number(tags, "seq:step")
        if parent is None and self.dead_letter is not None:  # kept for the dead-letter queue, used on failure only
            state.dead_letter = (inputs, tags, metadata)
        branch = ex.branch_tag(tags)
        if branch is not None and parent is not None:
            self.flow.route(parent, parent.name, branch, int(branch) if branch.isdigit() else None, decision=name)

    @_guard
    def on_chain_end(self, outputs, *, run_id, **kwargs):
        def build(state: RunState, attrs: dict) -> None:
            oi.chain_output(attrs, self.content, outputs, kwargs.get("inputs"))
            parent = state.parent
            if parent is None and state.is_agent:
                if kwargs.get("inputs") is not None:
                    oi_turn.root_input(attrs, self.content, kwargs["inputs"])
                oi_turn.root_output(attrs, self.content, outputs, state.interrupts)
            if parent is not None and parent.node is not None and state.node is None and (state.seq_step or 0) >= 2:
                targets = control.targets(outputs)  # a conditional edge's routing function
                if targets is not None:
                    self.flow.route(state, parent.node, targets, decision=targets)
            if state.node is not None and control.is_command(outputs):
                goto = getattr(outputs, "goto", None)
                targets = control.targets(goto) if goto not in (None, (), []) else None
                if targets is not None:
                    self.flow.route(state, state.node, targets)
            if state.route is not None and self.content.capture:
                attrs[sc.OI_OUTPUT_VALUE], attrs[sc.OI_OUTPUT_MIME] = state.route, sc.TEXT_MIME

        self._end(run_id, build)

    def _error(self, run_id, error: BaseException) -> None:
        """Any run's error: interrupts, handoffs and cancellations are control flow, not failures."""
        state = self.runs.pop(run_id)
        if state is None:
            return
        attrs: dict = {}
        kind = control.kind(error)
        try:
            if kind == control.INTERRUPT:
                self.flow.interrupted(state, error, attrs)
            elif kind == control.HANDOFF:
                command = control.command_of(error)
                if command is not None and state.run_type == "tool":
                    self.flow.handoff(state, command)
            elif kind == control.CANCELLED:
                attrs[sc.CANCELLED] = True
        except Exception:  # noqa: BLE001
            self._internal_error("control flow")
        if kind is not None:
            self._finish(state, attrs)
            return
        if state.parent is not None and state.parent.fallbacks:
            state.parent.fallback_failed += 1
        if self.dead_letter is not None:
            try:
                self.dead_letter.run_failed(state, error)
            except Exception:  # noqa: BLE001 - the agent's exception propagates as without the queue
                self._internal_error("dead letter")
        self._finish(state, attrs, error)

    @_guard
    def on_chain_error(self, error, *, run_id, **kwargs):
        self._error(run_id, error)

    @_guard
    def on_agent_action(self, action, *, run_id, **kwargs):
        """Classic AgentExecutor: the model's tool-call id arrives here, before ``on_tool_start``."""
        state = self.runs.get(run_id)
        call_id = getattr(action, "tool_call_id", None)
        if state is not None and call_id:
            pending = state.pending_tool_calls = state.pending_tool_calls or {}
            pending.setdefault(str(getattr(action, "tool", "")), []).append(str(call_id))

    # ------------------------------------------------------------------ model calls

    def _llm_start(self, operation, serialized, run_id, parent_run_id, tags, metadata, kwargs, messages=None, prompts=None):
        metadata = metadata or {}
        invocation = kwargs.get("invocation_params") or {}
        model = ex.requested_model(invocation, metadata)
        prov = ex.provider(invocation, metadata)
        name = ex.run_name(serialized, kwargs, str(invocation.get("_type") or operation))
        parent = self._parent(parent_run_id)
        attrs: dict = {sc.OPERATION: operation, sc.PROVIDER: prov, sc.OI_SPAN_KIND: "LLM"}
        if model:
            attrs[sc.REQUEST_MODEL] = model
            attrs[sc.OI_LLM_MODEL] = model
        ex.request_params(attrs, invocation, metadata)
        oi_llm.llm_request(attrs, invocation, metadata)
        ex.output_type(attrs, invocation, kwargs.get("options"))
        self.flow.number(parent, name, tags, attrs)
        if self.content.capture:
            if messages is not None:
                ex.input_messages(attrs, self.genai, messages)
            elif prompts:
                self.genai.put(attrs, sc.INPUT_MESSAGES, [{"role": "user", "parts": [{"type": "text", "content": p}]} for p in prompts[:1]])
            oi_llm.llm_input(attrs, self.oi, messages, prompts)
        span_name = f"{operation} {model}" if model else operation
        state = self._start(run_id, parent, "llm", name, span_name, SpanKind.CLIENT, attrs, tags, metadata, operation)
        state.provider = prov
        self.flow.add_model(state, model)
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
        def build(state: RunState, attrs: dict) -> None:
            ex.llm_response(attrs, self.genai, response, state.provider)
            oi_llm.llm_output(attrs, self.oi, response)
            if state.first_chunk_at is not None:
                attrs[sc.RESPONSE_TIME_TO_FIRST_CHUNK] = state.first_chunk_at - state.started
                attrs[sc.STREAMED_CHUNKS] = state.chunks
            self.flow.add_usage(state, attrs)

        self._end(run_id, build, lambda: ex.response_text(response))

    @_guard
    def on_llm_error(self, error, *, run_id, **kwargs):
        self._error(run_id, error)

    @_guard
    def on_retry(self, retry_state, *, run_id, **kwargs):
        """Integration-level retries (e.g. provider SDK retry decorators) → events on the call."""
        state = self.runs.get(run_id)
        if state is None:
            return
        attrs: dict = {sc.RETRY_ATTEMPT: int(getattr(retry_state, "attempt_number", 0) or 0)}
        outcome = getattr(retry_state, "outcome", None)
        if outcome is not None and getattr(outcome, "failed", False):
            attrs[sc.ERROR_TYPE] = errors.error_type(outcome.exception())
        self.life.event(state.span, sc.RETRY_EVENT, attrs)

    # ------------------------------------------------------------------ metrics

    def _metrics_context(self, state: RunState, operation: str, tags: Any, metadata: Any, extra: dict) -> None:
        node = state.parent
        while node is not None and node.node is None:
            node = node.parent
        state.step = {"operation": operation, "kind": state.run_type, "name": state.name, "node": node.node if node else None,
                      "tags": ex.user_tags(tags), "metadata": ex.user_metadata(metadata), **extra}

    def _score(self, state: RunState, attrs: dict, response: Callable[[], Any]) -> None:
        """Hand a finished step to the metric engine; it ends the span itself when it scores it."""
        owned = False
        try:
            step = dict(state.step, attributes=attrs)
            owned = self.metrics.on_step_end(state.span, step, state.prompt, to_text(response() or ""),
                                             time.monotonic() - state.started, self._now())
        except Exception:  # noqa: BLE001
            self._internal_error("metrics")
        self._finish(state, attrs, end=not owned)
