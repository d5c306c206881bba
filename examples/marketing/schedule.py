"""Simulated time for the demo: spread each agent's workload over days, so that drift detection has
a baseline and a current window to compare (default: 37 days, the alias update 5 days before the end).

Each chunk of work runs in real time, but its spans are stamped with the chunk's simulated time:
:class:`SimulatedClock` is the ``clock=`` of ``agenttrace.configure`` (span start/end times and
therefore trajectory times). Durations stay real; only the day moves.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

DAY_NS = 86_400 * 10**9


class SimulatedClock:
    """``time.time_ns()`` shifted by ``offset_ns``; :meth:`move_to` sets the simulated now."""

    def __init__(self) -> None:
        self.offset_ns = 0

    def __call__(self) -> int:
        return time.time_ns() + self.offset_ns

    def move_to(self, simulated_ns: int) -> None:
        self.offset_ns = simulated_ns - time.time_ns()


@dataclass(frozen=True)
class Chunk:
    at_ns: int        # simulated time the chunk runs at
    agent: Any        # agents.Agent
    graph: Any
    jobs: list


def plan(work: Sequence[tuple[Any, Any, list]], days: float, end_ns: int) -> list[Chunk]:
    """Spread every agent's jobs evenly over ``days`` ending at ``end_ns``, in simulated-time order.
    An agent with ``min_chunk`` > 1 (the ad-copy batch) runs in fewer, larger batches."""
    span_ns = int(days * DAY_NS)
    start_ns = end_ns - span_ns
    chunks = []
    for index, (agent, graph, jobs) in enumerate(work):
        if not jobs:
            continue
        n = max(1, min(math.ceil(days), len(jobs) // max(1, agent.min_chunk)))
        for i in range(n):
            part = jobs[i * len(jobs) // n:(i + 1) * len(jobs) // n]
            if part:
                # agents are staggered within a slot so they don't all run at the same simulated minute
                at = start_ns + int((i + (index + 1) / (len(work) + 1)) * span_ns / n)
                chunks.append(Chunk(at, agent, graph, part))
    return sorted(chunks, key=lambda c: c.at_ns)
