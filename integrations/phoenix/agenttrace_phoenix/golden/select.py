"""Pick the representative runs of a Phoenix project for a golden suite.

Every run (run root ended in ``[since, until)``) is a candidate with its stratum — agent (root
span), prompt template and segment (OpenInference metadata) — and what it covers: its agent's
route path and tool sequence. The pick:

1. coverage: for every (agent, route path) and (agent, tool sequence) seen, one run that shows it
   (a run covering more of what is still uncovered first), so no path is left out even when it
   is rare; this may exceed ``size``, coverage wins;
2. then round robin over the strata (largest first) until ``size``, so every stratum is present
   and bigger strata get more.

Within each choice a run people annotated as good (a HUMAN span or trace annotation with a
positive label, or else a score ≥ 0.5) comes first, one annotated as bad last, then the newest.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Optional, Sequence

from agenttrace.trajectory import record_from_phoenix

from ..store import utc
from ..trajectories import DEFAULT_LOOKBACK
from .spans import RunFacts, runs_of

GOOD_LABELS = {"good", "correct", "positive", "pass", "passed", "approved", "accept", "accepted", "thumbs_up",
               "thumbs-up", "yes", "true", "helpful", "on_brand"}
BAD_LABELS = {"bad", "incorrect", "negative", "fail", "failed", "rejected", "reject", "thumbs_down",
              "thumbs-down", "no", "false", "unhelpful", "off_brand"}


@dataclass
class Candidate:
    facts: RunFacts
    rating: int = 0   # +1 annotated good by a person, -1 annotated bad, 0 none

    @property
    def stratum(self) -> tuple[str, str, str]:
        m = self.facts.metadata
        return (self.facts.agent, str(m.get("prompt_template") or "-"), str(m.get("segment") or "-"))

    @property
    def coverage(self) -> set[tuple[str, str, str]]:
        f = self.facts
        return {(f.agent, "route", ">".join(f.route_path)), (f.agent, "tools", f.tool_sequence)}

    def rank(self) -> tuple:
        return (-self.rating, -self.facts.end_time)


def read_runs(store: Any, project: str, *, since: Optional[datetime] = None, until: Optional[datetime] = None,
              agent: Optional[str] = None) -> list[RunFacts]:
    """The runs of ``project`` whose root ended in ``[since, until)`` (optionally of one agent)."""
    since, until = utc(since), utc(until)
    lo = since.timestamp() if since else float("-inf")
    hi = until.timestamp() if until else float("inf")
    by_trace: dict[str, list] = defaultdict(list)
    for span in store.iter_spans(project, start=since - DEFAULT_LOOKBACK if since else None, end=until):
        record = record_from_phoenix(span)
        by_trace[record.trace_id].append(record)
    runs = [f for records in by_trace.values() for f in runs_of(records)]
    return [f for f in runs if lo <= f.end_time < hi and (agent is None or f.agent == agent)]


def rating(annotations: Iterable[dict]) -> int:
    """+1 / -1 / 0 from the HUMAN annotations of one run."""
    verdict = 0
    for a in annotations:
        if a.get("annotator_kind") != "HUMAN":
            continue
        result = a.get("result") or {}
        label = str(result.get("label") or "").strip().lower()
        if label in GOOD_LABELS:
            verdict = max(verdict, 1) if verdict >= 0 else verdict
        elif label in BAD_LABELS:
            verdict = -1
        elif not label and result.get("score") is not None:
            if float(result["score"]) >= 0.5:
                verdict = max(verdict, 1) if verdict >= 0 else verdict
            else:
                verdict = -1
    return verdict


def ratings(store: Any, project: str, runs: Sequence[RunFacts]) -> dict[str, int]:
    """Root span id → rating, from span annotations on the root and trace annotations."""
    by_span: dict[str, list[dict]] = defaultdict(list)
    for a in store.span_annotations(project, [f.span_id for f in runs]):
        by_span[a.get("span_id")].append(a)
    by_trace: dict[str, list[dict]] = defaultdict(list)
    for a in store.trace_annotations(project, [f.trace_id for f in runs]):
        by_trace[a.get("trace_id")].append(a)
    return {f.span_id: rating(by_span[f.span_id] + by_trace[f.trace_id]) for f in runs}


def pick(candidates: Sequence[Candidate], size: int) -> list[Candidate]:
    """The representative subset (see the module doc), in a stable order."""
    pool = sorted(candidates, key=Candidate.rank)
    chosen: list[Candidate] = []
    taken: set[int] = set()
    uncovered = set().union(*(c.coverage for c in pool)) if pool else set()
    while uncovered:
        best = max((c for c in pool if id(c) not in taken), key=lambda c: len(c.coverage & uncovered))
        chosen.append(best)
        taken.add(id(best))
        uncovered -= best.coverage
    strata: dict[tuple, list[Candidate]] = defaultdict(list)
    for c in pool:
        if id(c) not in taken:
            strata[c.stratum].append(c)
    order = sorted(strata, key=lambda s: (-len(strata[s]), s))
    # every stratum once before any twice: strata already present through coverage go last this round
    have = {c.stratum for c in chosen}
    order = [s for s in order if s not in have] + [s for s in order if s in have]
    while len(chosen) < size and any(strata.values()):
        for s in order:
            if len(chosen) >= size:
                break
            if strata[s]:
                chosen.append(strata[s].pop(0))
    return chosen
