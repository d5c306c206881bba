"""The run registry: LangChain run id → live span state, bounded in size and age.

Runs are started and ended by callbacks that may come from any thread. A run whose end never
arrives (a cancelled task, a generator dropped half-way, a crashed worker) would otherwise keep its
span forever; here it expires after ``ttl`` seconds, or is evicted when more than ``max_runs`` are
open, and its span is ended with ``agenttrace.run.expired = true`` so nothing is lost silently.
A run id seen twice ends the first run (it can never receive its own end any more).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Optional


@dataclass(eq=False)
class RunState:
    span: Any
    token: Any
    run_type: str  # chain | llm | tool | retriever
    name: str
    parent: Optional["RunState"]
    started: float = field(default_factory=time.monotonic)
    operation: Optional[str] = None
    provider: Optional[str] = None
    node: Optional[str] = None  # LangGraph node this run *is*
    conversation_id: Optional[str] = None
    agent_name: Optional[str] = None
    is_agent: bool = False  # an agent or workflow span (a graph, an AgentExecutor, a top-level chain)
    is_graph: bool = False
    children: int = 0
    retry_attempts: int = 0  # >0: this run wraps retry attempts
    attempt: Optional[int] = None  # this run is attempt N of a retry wrapper
    last_attempt_end: Optional[int] = None  # a retry wrapper: when its latest attempt ended (ns)
    last_failure: Optional[tuple] = None  # a retry wrapper: (error type, status, retry-after ms) of that attempt
    fallbacks: bool = False  # this run is a ``with_fallbacks`` wrapper
    wrapper: Optional[str] = None  # "retry" / "fallback": the word its span name starts with
    route: Optional[str] = None  # the routing decision this run made ("→ polish"), shown as its output
    fallback_failed: int = 0
    seq_step: Optional[int] = None
    first_chunk_at: Optional[float] = None
    chunks: int = 0
    step: Optional[dict] = None  # what metric profiles match on (only when metrics are on)
    prompt: str = ""
    ended: bool = False
    # agent roll-ups: what the model calls beneath this agent used
    usage_in: int = 0
    usage_out: int = 0
    providers: Optional[set] = None
    models: Optional[set] = None
    # control flow seen beneath this run
    interrupts: Optional[list] = None  # [(id, value)] of a LangGraph interrupt that paused the run
    handed_off: bool = False  # this agent handed control to another agent
    pending_tool_calls: Optional[dict] = None  # AgentExecutor: tool name → [tool_call_id, ...]


class RunRegistry:
    def __init__(self, ttl: float, max_runs: int, on_expire: Callable[[RunState], None]):
        self.ttl = ttl
        self.max_runs = max_runs
        self._on_expire = on_expire
        self._runs: "OrderedDict[Any, RunState]" = OrderedDict()
        self._lock = threading.Lock()
        self._next_sweep = time.monotonic() + min(ttl, 5.0)
        self.expired = 0

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, run_id: Any) -> Optional[RunState]:
        if run_id is None:
            return None
        try:
            return self._runs.get(run_id)
        except TypeError:  # an unhashable run id: never ours
            return None

    def add(self, run_id: Any, state: RunState) -> Optional[RunState]:
        """Register ``state``; returns the state a duplicated run id displaced (its caller ends it)."""
        with self._lock:
            previous = self._runs.pop(run_id, None)
            self._runs[run_id] = state
        now = state.started
        if now >= self._next_sweep or len(self._runs) > self.max_runs:
            self.sweep(now)
        return previous

    def pop(self, run_id: Any) -> Optional[RunState]:
        try:
            with self._lock:
                return self._runs.pop(run_id, None)
        except TypeError:
            return None

    def sweep(self, now: Optional[float] = None) -> int:
        """End runs older than ``ttl`` (and the oldest beyond ``max_runs``); return how many."""
        now = time.monotonic() if now is None else now
        stale = []
        with self._lock:
            self._next_sweep = now + min(self.ttl, 5.0)
            deadline = now - self.ttl
            while self._runs:
                run_id, state = next(iter(self._runs.items()))
                if state.started > deadline and len(self._runs) <= self.max_runs:
                    break
                del self._runs[run_id]
                stale.append(state)
        for state in stale:
            self.expired += 1
            self._on_expire(state)
        return len(stale)
