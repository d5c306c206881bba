"""The handler's tool and retriever callbacks: ``execute_tool`` and ``retrieval`` spans.

A mixin of :class:`agenttrace.handler.CallbackHandler`: it uses the handler's run registry and
span helpers (``_parent``, ``_start``, ``_end``, ``_error``), its content policy and flow.
"""

from __future__ import annotations

from typing import Optional

from opentelemetry.trace import SpanKind, Status, StatusCode

from . import control
from . import extract as ex
from . import openinference as oi
from . import semconv as sc
from .content import to_text
from .guard import guarded as _guard
from .runs import RunState


class ToolCallbacks:
    """``on_tool_*`` and ``on_retriever_*`` of the callback handler."""

    @_guard
    def on_tool_start(self, serialized, input_str, *, run_id, parent_run_id=None, tags=None, metadata=None, inputs=None, **kwargs):
        name = ex.run_name(serialized, kwargs, "tool")
        parent = self._parent(parent_run_id)
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
        call_id = kwargs.get("tool_call_id") or self._pending_call(parent, name)
        if call_id:
            attrs[sc.TOOL_CALL_ID] = to_text(call_id)
            attrs[sc.OI_TOOL_CALL_ID] = to_text(call_id)
        self.flow.number(parent, name, tags, attrs)
        if self.content.capture:
            args = inputs if inputs is not None else input_str
            self.genai.put(attrs, sc.TOOL_CALL_ARGUMENTS, args)
            oi.tool_input(attrs, self.oi, input_str, inputs)
        state = self._start(run_id, parent, "tool", name, f"{sc.OP_EXECUTE_TOOL} {name}", SpanKind.INTERNAL, attrs, tags, metadata,
                            sc.OP_EXECUTE_TOOL)
        if self.metrics is not None:
            self._metrics_context(state, sc.OP_EXECUTE_TOOL, tags, metadata, {"model": None, "tool": name})
            state.prompt = to_text(inputs if inputs is not None else input_str or "")

    @staticmethod
    def _pending_call(parent: Optional[RunState], tool: str) -> Optional[str]:
        queue = (parent.pending_tool_calls or {}).get(tool) if parent is not None else None
        return queue.pop(0) if queue else None

    @_guard
    def on_tool_end(self, output, *, run_id, **kwargs):
        def build(state: RunState, attrs: dict) -> None:
            if control.is_command(output):  # a tool that routes: a handoff, or a goto in its own graph
                self.genai.put(attrs, sc.TOOL_CALL_RESULT, control.command_summary(output))
                oi.tool_output(attrs, self.oi, control.command_summary(output))
                if control.is_handoff(output):
                    self.flow.handoff(state, output)
                return
            failure = ex.tool_output(attrs, self.genai, output)
            oi.tool_output(attrs, self.oi, output)
            if failure is not None:
                attrs[sc.ERROR_TYPE] = failure
                state.span.set_status(Status(StatusCode.ERROR, "tool returned an error message"))

        self._end(run_id, build, lambda: getattr(output, "content", output))

    @_guard
    def on_tool_error(self, error, *, run_id, **kwargs):
        self._error(run_id, error)

    @_guard
    def on_retriever_start(self, serialized, query, *, run_id, parent_run_id=None, tags=None, metadata=None, **kwargs):
        metadata = metadata or {}
        name = ex.run_name(serialized, kwargs, "retriever")
        source = str(metadata.get("ls_vector_store_provider") or name)
        parent = self._parent(parent_run_id)
        attrs: dict = {sc.OPERATION: sc.OP_RETRIEVAL, sc.DATA_SOURCE_ID: source, sc.OI_SPAN_KIND: "RETRIEVER"}
        self.flow.number(parent, name, tags, attrs)
        self.genai.put(attrs, sc.RETRIEVAL_QUERY_TEXT, query)
        oi.retriever_input(attrs, self.oi, query)
        self._start(run_id, parent, "retriever", name, f"{sc.OP_RETRIEVAL} {source}", SpanKind.CLIENT, attrs, tags, metadata,
                    sc.OP_RETRIEVAL)

    @_guard
    def on_retriever_end(self, documents, *, run_id, **kwargs):
        def build(state: RunState, attrs: dict) -> None:
            ex.documents(attrs, self.genai, documents)
            oi.retriever_output(attrs, self.oi, documents)

        self._end(run_id, build)

    @_guard
    def on_retriever_error(self, error, *, run_id, **kwargs):
        self._error(run_id, error)
