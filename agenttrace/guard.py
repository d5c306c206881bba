"""The wrapper every callback of the handler runs in: an exception inside is logged once and
swallowed, never raised into the agent, and the run an end callback concerned is ended cleanly."""

from __future__ import annotations

import functools

_ENDS = {"on_chain_end", "on_chain_error", "on_llm_end", "on_llm_error", "on_tool_end", "on_tool_error",
         "on_retriever_end", "on_retriever_error"}


def guarded(method):
    ends = method.__name__ in _ENDS

    @functools.wraps(method)
    def safe(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception:  # noqa: BLE001 - tracing must never break the agent
            self._internal_error(method.__name__)
            if ends:
                self._abandon(kwargs.get("run_id"))
            return None

    return safe
