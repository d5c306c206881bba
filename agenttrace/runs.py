"""The run registry: LangChain run id → live span state, bounded in size and age.

Runs are started and ended by callbacks that may come from any thread. A run whose end never
arrives (a cancelled task, a generator dropped half-way, a crashed worker) would otherwise keep its
span forever; here it expires after ``ttl`` seconds, or is evicted when more than ``max_runs`` are
open, and its span is ended with ``agenttrace.run.expired = true`` so nothing is lost silently.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from uuid import UUID


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
    agent_name: Optional[str] = None
    conversation_id: Optional[str] = None
    is_agent: bool = False
    children: int = 0
    retry_attempts: int = 0  # >0: this run wraps retry attempts
    seq_step: Optional[int] = None
    first_chunk_at: Optional[float] = None
    chunks: int = 0
    step: Optional[dict] = None  # what metric profiles match on (only when metrics are on)
    prompt: str = ""


class RunRegistry:
    def __init__(self, ttl: float, max_runs: int, on_expire: Callable[[RunState], None]):
        self.ttl = ttl
        self.max_runs = max_runs
        self._on_expire = on_expire
        self._runs: "OrderedDict[UUID, RunState]" = OrderedDict()
        self._lock = threading.Lock()
        self._next_sweep = time.monotonic() + min(ttl, 5.0)
        self.expired = 0

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, run_id: Optional[UUID]) -> Optional[RunState]:
        if run_id is None:
            return None
        return self._runs.get(run_id)

    def add(self, run_id: UUID, state: RunState) -> None:
        with self._lock:
            self._runs[run_id] = state
        now = state.started
        if now >= self._next_sweep or len(self._runs) > self.max_runs:
            self.sweep(now)

    def pop(self, run_id: UUID) -> Optional[RunState]:
        with self._lock:
            return self._runs.pop(run_id, None)

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
