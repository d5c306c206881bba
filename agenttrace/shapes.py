"""What a chain run *is*, decided when it starts: a LangGraph graph, a model-driven agent, a
``with_fallbacks`` or ``with_retry`` wrapper, or a plain chain.

LangChain passes no serialized object to ``on_chain_start`` any more (``serialized`` is None for
graphs, AgentExecutor, LCEL), so the runnable that starts a run is read from the caller's frame:
the first frame above LangChain's callback manager is the runnable's own ``invoke``/``stream``.
Only a few frame hops are walked, and a frame's locals are read only when its module says it is
a graph, an agent executor or a fallback wrapper (a retry wrapper is told by its callers' modules).

The GenAI conventions (``semantic-conventions-genai``) use ``invoke_agent`` where a model drives
the control flow and ``invoke_workflow`` where the application defines it. A graph is an agent
when a model's tool calls drive it — it has a ``ToolNode`` (``create_react_agent``, ``create_agent``,
a hand-written tool loop) — or when one of its nodes is such an agent (supervisor and swarm
teams); any other graph is a workflow. ``create_agent`` graphs also say so in their metadata;
``AgentExecutor`` is an agent.
"""

from __future__ import annotations

import sys
import weakref
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

_SKIP_MODULES = ("agenttrace.", "langchain_core.callbacks.")
_GRAPH_MODULE = "langgraph.pregel"
_CHAIN_MODULES = ("langchain_classic.chains", "langchain.chains")
_AGENT_CLASSES = {"AgentExecutor"}
_RUNNABLE_BASE = "langchain_core.runnables.base"
_RETRY_MODULE = "langchain_core.runnables.retry"
_TOOL_NODE_CLASSES = {"ToolNode", "_ToolNode"}
_verdicts: "weakref.WeakKeyDictionary[Any, bool]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Shape:
    graph: bool = False  # a LangGraph graph (Pregel) run
    agent: bool = False  # model-driven: invoke_agent
    fallbacks: bool = False  # a with_fallbacks wrapper
    retry: bool = False  # a with_retry wrapper
    name: Optional[str] = None  # the agent's own name, where the runnable knows it
    source: Any = field(default=None, compare=False, repr=False)  # the wrapper runnable (with_retry: its policy)


PLAIN = Shape()


def _caller_frame(depth: int = 12):
    frame = sys._getframe(2)
    for _ in range(depth):
        if frame is None:
            return None
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(_SKIP_MODULES):
            return frame
        frame = frame.f_back
    return None


def _class_names(obj: Any) -> set:
    return {c.__name__ for c in type(obj).__mro__}


def _is_graph(obj: Any) -> bool:
    return "Pregel" in _class_names(obj)


def graph_is_agent(graph: Any, depth: int = 0) -> bool:
    """A ToolNode among the graph's nodes, or a node that is itself an agent graph."""
    try:
        cached = _verdicts.get(graph)
    except TypeError:
        cached = None
    if cached is not None:
        return cached
    verdict = False
    nodes = getattr(graph, "nodes", None)
    if isinstance(nodes, Mapping) and depth < 4:
        for node in nodes.values():
            bound = getattr(node, "bound", node)
            names = _class_names(bound)
            if names & _TOOL_NODE_CLASSES or ("Pregel" in names and graph_is_agent(bound, depth + 1)):
                verdict = True
                break
    try:
        _verdicts[graph] = verdict
    except TypeError:
        pass
    return verdict


def _retry_runnable(frame) -> Any:
    """The ``RunnableRetry`` whose method ``frame`` runs (``True`` when it cannot be found)."""
    for _ in range(2):
        if frame is None:
            break
        runnable = frame.f_locals.get("self")
        if runnable is not None and hasattr(runnable, "max_attempt_number"):
            return runnable
        frame = frame.f_back
    return True


def _called_by_retry(frame) -> Any:
    """``RunnableRetry.invoke`` / ``ainvoke`` / ``batch`` start their run through ``Runnable``'s
    ``_call_with_config`` family (a list comprehension in between for batches); its attempts are
    started from ``RunnableRetry._invoke``, further up. Returns the wrapper (its policy is read from
    it), or None when the run is not a retry wrapper's."""
    for _ in range(2):
        frame = frame.f_back
        if frame is None:
            return None
        module = frame.f_globals.get("__name__", "")
        if module == _RETRY_MODULE:
            return None if frame.f_code.co_name.startswith("_") else _retry_runnable(frame)
        if module != _RUNNABLE_BASE:
            return None
    return None


def of_chain(name: str, metadata: Mapping[str, Any]) -> Shape:
    """Classify the chain run being started (called from ``on_chain_start``)."""
    if metadata.get("ls_integration") == "langchain_create_agent":
        return Shape(graph=True, agent=True, name=str(metadata.get("lc_agent_name") or name))
    frame = _caller_frame()
    if frame is None:
        return PLAIN
    module = frame.f_globals.get("__name__", "")
    if module.startswith(_GRAPH_MODULE):
        graph = frame.f_locals.get("self")
        if graph is not None and _is_graph(graph):
            return Shape(graph=True, agent=graph_is_agent(graph))
        return PLAIN
    if module == "langchain_core.runnables.fallbacks":
        return Shape(fallbacks=True)
    retry = _called_by_retry(frame) if module == _RUNNABLE_BASE else None
    if retry is not None:
        return Shape(retry=True, source=retry)
    if module.startswith(_CHAIN_MODULES):  # classic chains: AgentExecutor and its subclasses
        runnable = frame.f_locals.get("self")
        if runnable is not None and _class_names(runnable) & _AGENT_CLASSES:
            return Shape(agent=True)
    return PLAIN
