"""Starting and ending the spans of runs, and keeping the OTel context of the caller's thread clean.

While a run is open its span is the current OTel context, so spans of other instrumentations
(httpx, database clients, user code) started inside a tool, node or model call nest under it.
That context must never outlive the run or capture unrelated runs:

- a **root run** (no LangChain parent) never takes another agent run's span as its OTel parent.
  If an agenttrace span is current — a sync ``stream()`` left paused in this thread, a run whose
  end never came — the new run is parented where that run was started (the application's own
  span, or nothing). A current span whose run already ended or expired is replaced by the
  application's context on the way;
- ending a run always detaches its context and ends its span, even when building its attributes
  failed (``finish`` never raises half-way);
- every attribute dict passes ``ContentPolicy.finalize`` (redaction, length cap, valid UTF-8).
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, Callable, Optional

from opentelemetry import context as otel_context
from opentelemetry import trace

from . import errors
from . import semconv as sc
from .content import ContentPolicy
from .runs import RunRegistry, RunState

logger = logging.getLogger("agenttrace")


class SpanLife:
    def __init__(self, tracer: trace.Tracer, content: ContentPolicy, clock: Optional[Callable[[], int]],
                 runs: RunRegistry, internal_error: Callable[[str], None]):
        self._tracer = tracer
        self.content = content
        self.clock = clock
        self.runs = runs
        self._internal_error = internal_error
        # our span → the application's context beneath it (what was current before the first
        # agenttrace span of its stack was attached). Weak, and the value never refers back to the
        # span: an entry lives exactly as long as something (an attached context) holds the span.
        self._outer: "weakref.WeakKeyDictionary[Any, tuple]" = weakref.WeakKeyDictionary()

    def now(self) -> Optional[int]:
        return self.clock() if self.clock is not None else None

    # ------------------------------------------------------------------ start

    def _app_context(self, ctx: Any) -> Any:
        """The context beneath every agenttrace span current in ``ctx``: the application's own."""
        app = self._outer.get(trace.get_current_span(ctx))
        return app if app is not None else ctx

    def _root_context(self) -> Optional[Any]:
        """The OTel parent of a root run: the caller's context, minus any agenttrace run spans."""
        current = trace.get_current_span()
        app = self._outer.get(current)  # None: the caller's own context (an application span, nothing)
        if app is not None:  # a run of ours is current (a paused stream, a stuck run): start beside it
            if not current.is_recording():
                # its run ended or expired but left its context here: restore the application's
                otel_context.attach(app)
            current = trace.get_current_span(app)
        if getattr(current, "end_time", None) is not None:
            return trace.set_span_in_context(trace.INVALID_SPAN)  # never parent under an ended span
        return app

    def start(self, run_id: Any, parent: Optional[RunState], run_type: str, name: str, span_name: str,
              kind: Any, attrs: dict, fallback_name: str) -> RunState:
        hash(run_id)  # an unhashable run id raises here, before anything is attached
        ctx = trace.set_span_in_context(parent.span) if parent is not None else self._root_context()
        self.content.finalize(attrs)
        span = self._tracer.start_span(self.content.name(span_name, fallback_name), context=ctx, kind=kind,
                                       attributes=attrs, start_time=self.now())
        state = RunState(span=span, token=None, run_type=run_type, name=name, parent=parent)
        displaced = self.runs.add(run_id, state)
        if displaced is not None:  # the same run id twice: the first can never receive its end
            self.finish(displaced, {sc.INTERNAL_ERROR: "duplicate run id"})
        outer = otel_context.get_current()
        state.token = otel_context.attach(trace.set_span_in_context(span, outer))
        self._outer[span] = self._app_context(outer)
        return state

    # ------------------------------------------------------------------ attributes and events

    def set(self, span: Any, attrs: dict) -> None:
        if attrs:
            span.set_attributes(self.content.finalize(attrs))

    def event(self, span: Any, name: str, attrs: dict) -> None:
        span.add_event(name, self.content.finalize(attrs), timestamp=self.now())

    # ------------------------------------------------------------------ end

    def _reset(self, token: Any) -> bool:
        var = getattr(token, "var", None)
        try:
            if var is not None:
                var.reset(token)
            else:
                otel_context.detach(token)
            return True
        except (ValueError, RuntimeError):
            return False  # the token belongs to another thread or task: nothing of ours is attached here

    def detach(self, state: RunState) -> None:
        token, state.token = state.token, None
        if token is not None and trace.get_current_span() is state.span and self._reset(token):
            # else: ended in another thread/task, or a newer context is still active. Runs started side
            # by side in one context (RunnableRetry.batch starts every input's run, then ends them)
            # leave the one started before this run current, possibly ended: the application's then
            current = trace.get_current_span()
            app = self._outer.get(current)
            if app is not None and not current.is_recording():
                otel_context.attach(app)

    def finish(self, state: RunState, attrs: dict, error: Optional[BaseException] = None, end: bool = True) -> None:
        """Set the final attributes (and the error), detach, end. Never leaves a context attached."""
        if state.ended:
            return
        state.ended = end
        span = state.span
        try:
            if state.retry_attempts:
                attrs[sc.RETRY_COUNT] = state.retry_attempts - 1
                attrs[sc.RETRY_EXHAUSTED] = error is not None
            if state.fallbacks:
                attrs[sc.FALLBACK_FAILED] = state.fallback_failed
            if error is not None:
                attrs[sc.ERROR_TYPE] = errors.error_type(error)
                code = errors.status_code(error)
                if code is not None:
                    attrs[sc.HTTP_STATUS_CODE] = code
                wait = errors.retry_after_ms(error)
                if wait is not None:
                    attrs[sc.RETRY_AFTER_MS] = wait
            self.set(span, attrs)
            if error is not None:
                errors.record(span, error, self.content, self.now())
        except Exception:  # noqa: BLE001 - a bad attribute must not keep the span open
            self._internal_error("finish")
        finally:
            self.detach(state)
            if end:
                span.end(end_time=self.now())

    def expire(self, state: RunState) -> None:
        """A run whose end never came: end its span, marked; its context is detached lazily."""
        try:
            state.span.set_attribute(sc.RUN_EXPIRED, True)
            state.ended = True
            state.span.end(end_time=self.now())
        except Exception:  # noqa: BLE001
            self._internal_error("expire")
