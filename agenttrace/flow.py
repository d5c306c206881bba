"""What happened between runs, recorded on their spans: retry attempts and fallback alternatives,
routes (branches, conditional edges, ``Command``), multi-agent handoffs, interrupts that pause a
run, and the roll-ups an agent span carries of the model calls beneath it.

Every method gets the runs' :class:`~agenttrace.runs.RunState` objects and writes through
:class:`~agenttrace.lifecycle.SpanLife`, so every value passes the content policy.
"""

from __future__ import annotations

import time
from typing import Any, Iterator, Optional

from . import control, errors
from . import extract as ex
from . import semconv as sc
from .content import ContentPolicy
from .lifecycle import SpanLife
from .runs import RunState


def agents_above(state: RunState) -> Iterator[RunState]:
    """The agent and workflow runs a run is nested in, nearest first."""
    node = state.parent
    while node is not None:
        if node.is_agent:
            yield node
        node = node.parent


class Flow:
    def __init__(self, life: SpanLife, content: ContentPolicy):
        self.life = life
        self.content = content

    def number(self, parent: Optional[RunState], name: str, tags: Any, attrs: dict) -> None:
        """Retry attempts (``with_retry`` tags attempts 2.. as ``retry:attempt:N``; the first attempt
        is the wrapper's first child of the same name) and fallback alternatives (0 = the primary)."""
        if parent is None:
            return
        parent.children += 1
        if parent.fallbacks:
            attrs[sc.FALLBACK_INDEX] = parent.children - 1
            return
        attempt = ex.tag_number(tags, "retry:attempt")
        if (attempt is None and parent.children == 1 and parent.name == name and parent.run_type == "chain"
                and parent.node is None and not parent.is_graph):
            attempt = 1
        elif attempt is None and parent.children == 1 and parent.wrapper == "retry":
            attempt = 1
        if attempt is not None:
            parent.retry_attempts = max(parent.retry_attempts, attempt)
            attrs[sc.RETRY_ATTEMPT] = attempt
            if attempt > 1:
                self._backoff(parent, attrs)

    def _now(self) -> int:
        now = self.life.now()
        return now if now is not None else time.time_ns()

    def _backoff(self, wrapper: RunState, attrs: dict) -> None:
        """A retry starts: how long after the previous attempt ended, and what that attempt failed with."""
        if wrapper.last_attempt_end is not None:
            attrs[sc.RETRY_WAIT_MS] = max(0.0, (self._now() - wrapper.last_attempt_end) / 1e6)
        if wrapper.last_failure is not None:
            kind, status, _ = wrapper.last_failure
            attrs[sc.RETRY_PREVIOUS_ERROR_TYPE] = kind
            if status is not None:
                attrs[sc.RETRY_PREVIOUS_STATUS_CODE] = status

    def attempt_ended(self, state: RunState, error: Optional[BaseException]) -> None:
        """An attempt ends: its wrapper remembers when, and why it failed (the next attempt reports it)."""
        wrapper = state.parent
        if wrapper is None:
            return
        wrapper.last_attempt_end = self._now()
        wrapper.last_failure = None if error is None else (
            errors.error_type(error), errors.status_code(error), errors.retry_after_ms(error))

    @staticmethod
    def retry_policy(runnable: Any, attrs: dict) -> None:
        """The wrapper's policy, as LangChain's ``RunnableRetry`` holds it."""
        attempts = getattr(runnable, "max_attempt_number", None)
        if isinstance(attempts, int) and not isinstance(attempts, bool):
            attrs[sc.RETRY_POLICY_MAX_ATTEMPTS] = attempts
        jitter = getattr(runnable, "wait_exponential_jitter", None)
        if isinstance(jitter, bool):
            attrs[sc.RETRY_POLICY_JITTER] = jitter
        types = getattr(runnable, "retry_exception_types", None)
        if isinstance(types, type):
            types = (types,)
        if isinstance(types, (tuple, list)):
            attrs[sc.RETRY_POLICY_EXCEPTION_TYPES] = [errors.type_name(t) for t in types if isinstance(t, type)]
        elif callable(types):  # a predicate
            attrs[sc.RETRY_POLICY_EXCEPTION_TYPES] = [f"predicate {getattr(types, '__qualname__', 'callable')}"]

    def span_name(self, parent: Optional[RunState], span_name: str, attrs: dict, operation: Optional[str]) -> str:
        """What the trace tree shows (Phoenix's tree shows span names only). A retry / fallback
        wrapper is named after its first child (``retry chat gpt-4o-mini``); an attempt says which
        it is (``chat gpt-4o-mini attempt 2``, ``provider_call attempt 2``: the attempt count is
        bounded, so names stay low-cardinality; a GenAI span keeps ``gen_ai.operation.name`` and
        ``gen_ai.request.model``, which GenAI-aware backends group by); a chain fallback too
        (``backup fallback 1``), while a model fallback is already told apart by its model."""
        if parent is not None and parent.wrapper is not None and parent.children == 1:
            parent.span.update_name(self.content.name(f"{parent.wrapper} {span_name}", parent.wrapper))
        attempt, index = attrs.get(sc.RETRY_ATTEMPT), attrs.get(sc.FALLBACK_INDEX)
        if attempt is not None:
            return f"{span_name} attempt {attempt}"
        if index and operation is None:
            return f"{span_name} fallback {index}"
        return span_name

    def route(self, router: RunState, source: str, target: Any, condition: Optional[int] = None,
              decision: Any = None) -> None:
        """The router span says where control went (its output, with content capture on, is the
        ``decision``: ``→ polish``); an event on the routed step repeats it."""
        if decision is not None:
            router.route = "→ " + (", ".join(decision) if isinstance(decision, (list, tuple)) else str(decision))
        attrs = {sc.ROUTE_SOURCE: source, sc.ROUTE_TARGET: target}
        if condition is not None:
            attrs[sc.ROUTE_CONDITION] = condition
        self.life.set(router.span, dict(attrs))
        self.life.event((router.parent or router).span, sc.ROUTE_EVENT, attrs)

    def handoff(self, at: RunState, command: Any) -> None:
        """A multi-agent handoff: a route from the agent handing off to the one receiving control."""
        agent = next(agents_above(at), at)
        target = control.targets(getattr(command, "goto", None))
        if target is None or agent.handed_off:
            return
        agent.handed_off = True
        attrs = {sc.ROUTE_SOURCE: agent.agent_name or agent.name, sc.ROUTE_TARGET: target}
        self.life.set(at.span, dict(attrs))
        self.life.event(agent.span, sc.HANDOFF_EVENT, attrs)

    def interrupted(self, state: RunState, error: BaseException, attrs: dict) -> None:
        """A LangGraph interrupt: this run and every graph above it are paused, not failed."""
        found = control.interrupts(error)
        self._mark(state, found, attrs)
        node = state.parent
        while node is not None:
            if node.is_graph and node.interrupts is None:
                node.interrupts = found
            node = node.parent

    def _mark(self, state: RunState, found: list, attrs: dict) -> None:
        attrs[sc.INTERRUPTED] = True
        ids = [i for i, _ in found if i]
        event: dict = {}
        if ids:
            attrs[sc.INTERRUPT_ID] = event[sc.INTERRUPT_ID] = ids[0] if len(ids) == 1 else ids
        if self.content.capture and found:
            self.content.put(event, sc.INTERRUPT_VALUE, [v for _, v in found] if len(found) > 1 else found[0][1])
        self.life.event(state.span, sc.INTERRUPT_EVENT, event)

    def rollup(self, state: RunState, attrs: dict) -> None:
        """An agent ends: paused by an interrupt beneath it?, its summed usage, and its provider /
        requested model when its calls used one."""
        if state.interrupts is not None and sc.INTERRUPTED not in attrs:
            self._mark(state, state.interrupts, attrs)
        if not state.providers:
            return
        attrs[sc.USAGE_INPUT_TOKENS] = state.usage_in
        attrs[sc.USAGE_OUTPUT_TOKENS] = state.usage_out
        # Phoenix sums descendants' token counts itself: the agent's own OpenInference counts stay 0
        attrs[sc.OI_TOKENS_PROMPT] = attrs[sc.OI_TOKENS_COMPLETION] = attrs[sc.OI_TOKENS_TOTAL] = 0
        providers, models = sorted(state.providers), sorted(state.models or ())
        if len(providers) == 1:
            attrs[sc.PROVIDER] = providers[0]
        else:
            attrs[sc.AGENT_PROVIDERS] = providers
        if len(models) == 1:
            attrs[sc.REQUEST_MODEL] = models[0]
        elif models:
            attrs[sc.AGENT_REQUEST_MODELS] = models

    @staticmethod
    def add_model(state: RunState, model: Optional[str]) -> None:
        """A model call starts: its provider and requested model count for every agent above it."""
        for agent in agents_above(state):
            agent.providers = (agent.providers or set()) | {state.provider}
            if model:
                agent.models = (agent.models or set()) | {model}

    @staticmethod
    def add_usage(state: RunState, attrs: dict) -> None:
        for agent in agents_above(state):
            agent.usage_in += int(attrs.get(sc.USAGE_INPUT_TOKENS, 0))
            agent.usage_out += int(attrs.get(sc.USAGE_OUTPUT_TOKENS, 0))
