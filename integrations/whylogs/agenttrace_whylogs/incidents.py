"""Incidents: findings grouped by their probable cause, the way people read a drift result.

One refusal rise seen overall, per requested model and per agent is one problem; a model version
change that coincides with it in the same segments and time is its probable cause. An
:class:`Incident` holds one cause, the segments it shows in, and its evidence (the findings).

:func:`group` builds them from the findings of one run (all in its current window, so in time
they coincide):

1. Every ``model_version_change`` alert (an alias answered by a new version) is a cause. A finding
   is its evidence when the alias's own segment (``request_model=<alias>``) shows the change: the
   finding is in that segment; or the alias segment has a finding of the same kind (refusals:
   refusal rate and refusal similarity; trajectory: tool sequence, route, steps, tool and LLM calls;
   else the same feature) and the finding is overall, or in a segment at least half of whose runs
   ask for the alias, or in a segment that has runs of the new version and shows the change no
   more strongly than the alias segment (its runs mix the alias's with others). When the alias segment was not compared (not a segment key, too few runs), a
   segment at least half of whose runs ask for the alias is put down to the cause, and so is an
   overall change that no segment shows.
2. The other findings are grouped by where they come from: each kind of change is placed in the
   segment value where it is strongest (the overall segment only when no segment value shows it);
   changes placed in one segment value, or in segment values with the same runs (equal run counts
   on both sides, e.g. ``agent=billing`` and ``prompt_template=billing_v4``), are one incident.

Incidents are ranked by severity, those with a cause first, then by their best finding's rank.
An incident's id is a hash of what identifies it across runs — for a cause the rule, overall
segment, feature and the new ``request → response (fingerprint)`` pair; otherwise the rule and
kind of its lead finding and the segment values it is placed in — so a later run that sees the
same problem (with other numbers) gives it the same id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional, Sequence

OVERALL = ("*", "*")
SEVERITY_ORDER = {"alert": 0, "warning": 1, "info": 2}
KINDS = {"refusal_flagged": "refusals", "refusal_similarity": "refusals", "refusal_score": "refusals", "tool_sequence": "trajectory",
         "route_path": "trajectory", "step_count": "trajectory", "tool_calls": "trajectory", "llm_calls": "trajectory"}
MIN_ALIAS_SHARE = 0.5   # a segment value at least this much on the alias counts as the alias's traffic
MAX_EFFECTS = 2         # effects named in a title
NOTICED = ("refusals", "hedging_score", "output_tokens", "error")  # named first in a title


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
    key: str = ""                 # what the id is a hash of (readable)

    def to_dict(self) -> dict:
        from .results import jsonable

        return jsonable({"id": self.id, "severity": self.severity, "title": self.title, "cause": self.cause,
                         "action": self.action, "segments": [list(s) for s in self.segments],
                         "first_seen": self.first_seen, "annotations": self.annotations, "key": self.key,
                         "findings": [f.to_dict() for f in self.findings]})


def kind(feature: str) -> str:
    """The kind of change a feature belongs to (features that move together are one kind)."""
    return KINDS.get(feature, feature)


def seg_label(seg: tuple[str, str]) -> str:
    return "all" if tuple(seg) == OVERALL else f"{seg[0]}={seg[1]}"


def group(findings: Sequence[Any], segment_rows: Optional[dict[str, list[int]]] = None,
          skipped: Sequence[str] = ()) -> list[Incident]:
    """The findings (ranked, as :func:`rules.detect` returns them) as ranked incidents; every finding
    is in exactly one. ``segment_rows``: ``"key=value"`` (``"*"``) → [baseline, current] runs of each
    segment and ``skipped`` the segments not compared, as in :class:`DriftResult` (without them,
    segments are told apart by their findings alone and populations are not merged)."""
    rows = {k: v for k, v in (segment_rows or {}).items() if k not in set(skipped)}
    order = {id(f): i for i, f in enumerate(findings)}
    causes = [f for f in findings if f.rule == "model_version_change" and f.severity == "alert"]
    rest = [f for f in findings if not any(f is c for c in causes)]
    evidence: dict[int, list[Any]] = {id(c): [] for c in causes}
    unexplained = []
    for f in rest:
        cause = next((c for c in causes if _explains(c, f, rest, rows)), None)
        (evidence[id(cause)] if cause is not None else unexplained).append(f)
    incidents = [_cause_incident(c, evidence[id(c)], order) for c in causes]
    incidents += _other_incidents(unexplained, rows, order)
    return sorted(incidents, key=lambda i: (SEVERITY_ORDER.get(i.severity, 3), i.cause is None,
                                            min(order[id(f)] for f in i.findings)))


def _seg(f: Any) -> tuple[str, str]:
    return (f.segment_key, f.segment_value)


def _alias_share(cause: Any, seg: tuple[str, str], rows: dict[str, list[int]]) -> Optional[float]:
    """About which share of ``seg``'s current runs ask for the cause's alias (None: unknown)."""
    cur = cause.current or {}
    share, label = cur.get("share") or 0.0, "*" if seg == OVERALL else f"{seg[0]}={seg[1]}"
    answered = cur.get("rows") if seg == OVERALL else (cur.get("segments") or {}).get(label, 0)
    total = (rows.get(label) or [0, 0])[1]
    if not total or not share:
        return None
    return min(1.0, answered / share / total)


def _explains(cause: Any, f: Any, others: Sequence[Any], rows: dict[str, list[int]]) -> bool:
    alias = ("request_model", (cause.current or {}).get("request_model"))
    if _seg(f) == alias:
        return True
    share = _alias_share(cause, _seg(f), rows)
    compared = f"{alias[0]}={alias[1]}" in rows
    if compared:
        # the alias's runs show it at least as strongly, and f's segment has runs of the new version in it
        strongest = max((g.score for g in others if _seg(g) == alias and kind(g.feature) == kind(f.feature)), default=None)
        mixed = (share or 0.0) > 0 and f.score <= strongest if strongest is not None else False
        return strongest is not None and (_seg(f) == OVERALL or (share or 0.0) >= MIN_ALIAS_SHARE or mixed)
    if _seg(f) == OVERALL and not any(kind(g.feature) == kind(f.feature) and _seg(g) != OVERALL for g in others):
        return True
    return (share or 0.0) >= MIN_ALIAS_SHARE



def _segments(findings: Sequence[Any]) -> list[tuple[str, str]]:
    """The segments of the findings: overall first, then in the findings' order."""
    segs = list(dict.fromkeys(_seg(f) for f in findings))
    return sorted(segs, key=lambda s: s != OVERALL)


def _incident(key: str, title: str, cause: Optional[str], action: str, findings: list[Any],
              first_seen: Optional[datetime]) -> Incident:
    severity = min((f.severity for f in findings), key=lambda s: SEVERITY_ORDER.get(s, 3))
    return Incident(hashlib.sha1(key.encode()).hexdigest()[:12], severity, title, cause, action, _segments(findings),
                    findings, first_seen, list(dict.fromkeys(f.annotation for f in findings)), key)


def _cause_incident(cause: Any, evidence: list[Any], order: dict[int, int]) -> Incident:
    cur, base = cause.current or {}, cause.baseline or {}
    req, resp = cur.get("request_model", "?"), cur.get("response_model", "?")
    new = resp if cur.get("new") != "fingerprint" else f"{resp} ({cur.get('fingerprint')})"
    when = f" from {cause.first_seen:%m-%d %H:%M}" if cause.first_seen else ""
    alias = ("request_model", req)
    # the effects as the alias's own runs show them, else overall, else wherever
    ranked = sorted(evidence, key=lambda f: (_seg(f) != alias, _seg(f) != OVERALL, order[id(f)]))
    effects = _effects(ranked) or [f"{cur.get('share', 0):.0%} of {req} runs"]
    old = base.get("response_model")
    was = f"{old} ({base.get('fingerprint')})" if cur.get("new") == "fingerprint" else old
    title = f"{req} → {new}{when}: {', '.join(effects)}"
    text = f"{req} is answered by {new} instead of {was}" if was else f"{req} is answered by {new}"
    findings = [cause] + sorted(evidence, key=lambda f: order[id(f)])
    return _incident(f"model_version_change|*|model_version|{cur.get('value')}", title, text, cause.action, findings,
                     cause.first_seen)


def _other_incidents(findings: list[Any], rows: dict[str, list[int]], order: dict[int, int]) -> list[Incident]:
    # each kind of change is placed where it is strongest: a segment value, overall only when nothing else shows it
    home: dict[str, tuple[str, str]] = {}
    for f in sorted(findings, key=lambda f: (_seg(f) == OVERALL, SEVERITY_ORDER.get(f.severity, 3), -f.score, order[id(f)])):
        home.setdefault(kind(f.feature), _seg(f))
    # segment values with the same runs on both sides are one population
    population: dict[tuple[str, str], tuple] = {}
    for seg in dict.fromkeys(home.values()):
        label = "*" if seg == OVERALL else f"{seg[0]}={seg[1]}"
        same = rows.get(label)
        population[seg] = ("rows", tuple(same)) if same and seg != OVERALL else ("segment", seg)
    groups: dict[tuple, list[Any]] = {}
    for f in findings:
        groups.setdefault(population[home[kind(f.feature)]], []).append(f)
    out = []
    for members in groups.values():
        members.sort(key=lambda f: order[id(f)])
        lead = members[0]
        homes = [s for s in dict.fromkeys(home[kind(f.feature)] for f in members)]
        where = ", ".join(seg_label(s) for s in homes)
        key = f"{lead.rule}|{';'.join(sorted(seg_label(s) for s in homes))}|{kind(lead.feature)}|"
        local = [f for f in members if _seg(f) in homes] or members
        title = f"{where}: {', '.join(_effects(local))}"
        first = min((f.first_seen for f in members if f.first_seen), default=None)
        out.append(_incident(key, title, None, lead.action, members, first))
    return out


def _pct(rate: float) -> str:
    return f"{rate:.1%}" if rate < 0.01 else f"{rate:.0%}"


def _num(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "?"
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.2g}"


LABELS = {"output_tokens": ("replies", " tokens"), "input_tokens": ("prompts", " tokens"), "latency_ms": ("latency", " ms"),
          "step_count": ("steps", ""), "tool_calls": ("tool calls", ""), "llm_calls": ("LLM calls", ""),
          "retry_count": ("retries", ""), "error": ("errors", ""), "retry_exhausted": ("retries exhausted", ""),
          "hedging_score": ("hedging score", "")}


def effect(f: Any) -> str:
    """A finding's change in a few words: ``refusals 3% → 26%``, ``replies 32 → 57 tokens``."""
    b, c = f.baseline or {}, f.current or {}
    if f.feature == "refusal_flagged":
        return f"refusals {_pct(b.get('rate', 0.0))} → {_pct(c.get('rate', 0.0))}"
    if f.rule == "model_version_change":
        return f"new model {c.get('request_model')} → {c.get('response_model')}"
    label, unit = LABELS.get(f.feature, (f.feature.replace("_", " "), ""))
    if "rate" in c:
        return f"{label} {_pct(b.get('rate', 0.0))} → {_pct(c.get('rate', 0.0))}"
    if f.feature in ("tool_sequence", "route_path", "error_type", "request_model"):
        moved = (f.stats or {}).get("moved_value")
        shares = {v: share for v, _, share in b.get("top", [])}, {v: share for v, _, share in c.get("top", [])}
        what = {"tool_sequence": "tool sequence", "route_path": "route"}.get(f.feature, label)
        return (f"{what} '{moved or '(none)'}' {_pct(shares[0].get(moved, 0.0))} → {_pct(shares[1].get(moved, 0.0))}"
                if moved is not None else f"{what} mix changed")
    if f.rule == "score_shift":
        return f"{label} {b.get('mean', 0.0):.2f} → {c.get('mean', 0.0):.2f}"
    stat = "median" if "median" in b and "median" in c else "mean"
    return f"{label} {_num(b.get(stat))} → {_num(c.get(stat))}{unit}"


def _effects(findings: Sequence[Any]) -> list[str]:
    """Up to MAX_EFFECTS effects, one per kind of change: refusals, hedging, reply length and errors
    first (what users of the agent notice), the others in the given order."""
    seen, out = set(), []
    for f in sorted(findings, key=lambda f: NOTICED.index(kind(f.feature)) if kind(f.feature) in NOTICED else len(NOTICED)):
        if kind(f.feature) in seen or f.rule == "model_version_change" and f.severity == "alert":
            continue
        seen.add(kind(f.feature))
        out.append(effect(f))
        if len(out) == MAX_EFFECTS:
            break
    return out
