"""What the agents share: a workload item, run outcomes, config merging, a sequential runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

from langchain_core.runnables import Runnable

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Job:
    """One unit of an agent's workload: the graph input and its own config (metadata, tags, thread)."""

    inputs: Any
    config: Mapping[str, Any] = field(default_factory=dict)
    runs: int = 1  # graph invocations it takes (a conversation's turns)


@dataclass
class Outcome:
    """How a workload went: graph invocations, how many failed, and the first few errors."""

    runs: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def record(self, error: Optional[BaseException] = None) -> None:
        self.runs += 1
        if error is not None:
            self.failed += 1
            if len(self.errors) < 5:
                self.errors.append(f"{type(error).__name__}: {error}")

    def merge(self, other: "Outcome") -> "Outcome":
        return Outcome(self.runs + other.runs, self.failed + other.failed, (self.errors + other.errors)[:5])


def merge_config(base: Optional[Mapping[str, Any]], extra: Mapping[str, Any]) -> dict:
    """``base`` (callbacks, shared metadata) plus a job's own metadata, tags and configurable."""
    out = dict(base or {})
    for key, value in extra.items():
        if key in ("metadata", "configurable"):
            out[key] = {**(out.get(key) or {}), **value}
        elif key == "tags":
            out[key] = [*(out.get(key) or []), *value]
        else:
            out[key] = value
    return out


def invoke_each(graph: Runnable, jobs: Sequence[Job], config: Optional[Mapping[str, Any]],
                progress: Optional[Progress] = None) -> Outcome:
    """Invoke the graph once per job, one after another; a failed run is recorded, not raised."""
    outcome = Outcome()
    for job in jobs:
        try:
            graph.invoke(job.inputs, merge_config(config, job.config))
            outcome.record()
        except Exception as err:  # noqa: BLE001 - the span already holds the error; keep going
            outcome.record(err)
        if progress:
            progress(1)
    return outcome
