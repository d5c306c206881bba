"""Incidents: findings grouped by their probable cause, the way people read a drift result.

One refusal rise seen overall, per requested model and per agent is one problem; a model version
change that coincides with it in the same segments and time is its probable cause. An
:class:`Incident` holds one cause, the segments it shows in, and its evidence (the findings).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Optional


@dataclass
class Incident:
    id: str                       # stable across runs for the same (rule, segment, feature, cause): e.g. for de-duplicated alerts
    severity: str                 # the worst severity of its findings: "alert" | "warning" | "info"
    title: str                    # one line, the cause and its effect, e.g. "gpt-4o-mini → gpt-4o-mini-2026-11-05 from 11-25 12:09: refusals 3% → 26%, replies 32 → 57 tokens"
    cause: Optional[str]          # the probable cause in words, None when none is known
    action: str                   # what to do first, in the direction of the change
    segments: list[tuple[str, str]]  # where it shows: ("*", "*") overall, ("request_model", "gpt-4o-mini"), ...
    findings: list[Any]           # the evidence: rules.Finding, ranked, the cause's own finding first
    first_seen: Optional[datetime] = None   # when the cause (or the earliest finding) first appeared
    annotations: list[str] = field(default_factory=list)  # the Phoenix annotation names written for its runs

    def to_dict(self) -> dict:
        data = asdict(self)
        data["findings"] = [f.to_dict() for f in self.findings]
        data["segments"] = [list(s) for s in self.segments]
        data["first_seen"] = self.first_seen.isoformat() if self.first_seen else None
        return data
