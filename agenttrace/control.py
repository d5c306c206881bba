"""LangGraph control flow that travels as exceptions or return values but is not a failure.

- an **interrupt** (``interrupt()`` in a node or tool → ``GraphInterrupt``): the run pauses for a
  human and is resumed later on the same thread id;
- a **handoff** (``Command(goto=..., graph=Command.PARENT)``, returned or raised by the handoff tools
  of langgraph-supervisor and langgraph-swarm → ``ParentCommand``): control moves to another agent;
- a **cancellation** (the consumer stops reading ``graph.stream()`` → ``GeneratorExit``; an asyncio
  task is cancelled → ``CancelledError``): the caller stopped, the agent did not fail;
- any other ``GraphBubbleUp``: LangGraph-internal flow, recorded as an interrupt.

Classes are matched by name along the MRO, so nothing here imports LangGraph.
"""

from __future__ import annotations

from typing import Any, Optional

INTERRUPT, HANDOFF, CANCELLED = "interrupt", "handoff", "cancelled"

_BY_NAME = {
    "ParentCommand": HANDOFF,
    "GraphInterrupt": INTERRUPT,
    "NodeInterrupt": INTERRUPT,
    "GraphBubbleUp": INTERRUPT,
    "GeneratorExit": CANCELLED,
    "CancelledError": CANCELLED,
}


def kind(error: BaseException) -> Optional[str]:
    """``interrupt`` / ``handoff`` / ``cancelled`` for control flow, None for a real failure."""
    for cls in type(error).__mro__:
        found = _BY_NAME.get(cls.__name__)
        if found is not None:
            return found
    return None


def interrupts(error: BaseException) -> list[tuple[Optional[str], Any]]:
    """The ``(id, value)`` of each ``Interrupt`` a ``GraphInterrupt`` carries."""
    args = getattr(error, "args", ()) or ()
    items = args[0] if args and isinstance(args[0], (list, tuple)) else args
    out = []
    for item in items:
        if type(item).__name__ == "Interrupt" or hasattr(item, "value"):
            ident = getattr(item, "id", None) or getattr(item, "interrupt_id", None)
            out.append((str(ident) if ident is not None else None, getattr(item, "value", None)))
    return out


def is_command(value: Any) -> bool:
    return type(value).__name__ == "Command" and hasattr(value, "goto")


def command_of(error: BaseException) -> Any:
    """The ``Command`` a ``ParentCommand`` carries (or None)."""
    args = getattr(error, "args", ()) or ()
    return args[0] if args and is_command(args[0]) else None


def is_handoff(command: Any) -> bool:
    """A ``Command`` addressed to the parent graph: one agent hands control to another."""
    return is_command(command) and getattr(command, "graph", None) is not None and getattr(command, "goto", None) not in (None, (), [])


def targets(goto: Any) -> Optional[Any]:
    """A routing result (node name, END, ``Send``, or a list of them) → target name(s)."""
    def one(item: Any) -> Optional[str]:
        if isinstance(item, str):
            return item
        if type(item).__name__ == "Send":
            return str(getattr(item, "node", ""))
        return None

    if isinstance(goto, (list, tuple)):
        found = [one(i) for i in goto]
        return found if found and all(t is not None for t in found) else None
    return one(goto)


def command_summary(command: Any) -> dict:
    """What a ``Command`` says, without its state update (which may hold the whole message history)."""
    summary: dict = {"goto": targets(getattr(command, "goto", None))}
    if getattr(command, "graph", None) is not None:
        summary["graph"] = "parent"  # LangGraph rewrites PARENT to the parent's namespace on the way up
    update = getattr(command, "update", None)
    if isinstance(update, dict):
        summary["update_keys"] = sorted(str(k) for k in update)
    return summary
