"""``instrument()`` / ``uninstrument()``: trace every LangChain/LangGraph run in the process.

LangChain lets a library register a context variable whose handler is added to every callback
manager it builds (``register_configure_hook``). We register a variable whose *default* is our
handler, so it applies in every thread and task without being passed; runs that already pass the
same handler per call are not traced twice (LangChain de-duplicates by identity).
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any, Optional

from .handler import CallbackHandler

_lock = threading.Lock()
_active: Optional[tuple] = None  # (context var, handler)


def instrument(handler: Optional[CallbackHandler] = None, **configure_options: Any) -> CallbackHandler:
    """Trace all runs from now on. Uses ``handler`` if given, else ``configure(**options)``'s."""
    from langchain_core.tracers.context import register_configure_hook

    global _active
    with _lock:
        if _active is not None:
            return _active[1]
        if handler is None:
            from .telemetry import configure

            handler = configure(**configure_options).callback_handler
        var: contextvars.ContextVar = contextvars.ContextVar("agenttrace_handler", default=handler)
        register_configure_hook(var, inheritable=True)
        _active = (var, handler)
        return handler


def uninstrument() -> None:
    """Stop adding the handler to new runs."""
    from langchain_core.tracers import context as lc_context

    global _active
    with _lock:
        if _active is None:
            return
        var = _active[0]
        hooks = getattr(lc_context, "_configure_hooks", [])
        hooks[:] = [hook for hook in hooks if hook[0] is not var]
        _active = None


def instrumented_handler() -> Optional[CallbackHandler]:
    return _active[1] if _active else None
