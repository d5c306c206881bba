"""Gates on a golden comparison: ``NAME OP NUMBER`` and the maximum score shift.

Names: an evaluator (its mean on the candidate), ``refusal_rate``, ``pass_k`` (the candidate's
pass^k rate over examples), ``regressions`` (the comparison's noise-aware regressions). OP is one
of ``>=``, ``<=``, ``>``, ``<``. ``max_score_shift`` X fails when a score evaluator's mean moved the
bad way by X baseline SD or more and the move is significant.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from .compare import PASS_K, SCORE, Comparison

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
SPECIAL = ("refusal_rate", PASS_K, "regressions")
_GATE = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(>=|<=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


class GateError(ValueError):
    """A gate that cannot be parsed or names nothing the comparison has (one line)."""


@dataclass(frozen=True)
class Gate:
    name: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.threshold:g}"


@dataclass(frozen=True)
class GateResult:
    gate: str
    value: Optional[float]
    passed: bool
    detail: str = ""


def parse_gate(text: str) -> Gate:
    m = _GATE.match(text or "")
    if not m:
        raise GateError(f"bad gate {text!r}: expected NAME OP NUMBER with OP one of >=, <=, >, < "
                        "(e.g. trajectory_match>=0.9)")
    return Gate(m.group(1), m.group(2), float(m.group(3)))


def gate_names(comparison: Comparison) -> list:
    return [e.name for e in comparison.evaluators if e.name != PASS_K] + list(SPECIAL)


def check_names(gates: Sequence[Gate], comparison: Comparison) -> None:
    known = gate_names(comparison)
    for g in gates:
        if g.name not in known:
            raise GateError(f"gate {g}: unknown name {g.name!r} (known: {', '.join(known)})")


def gate_value(comparison: Comparison, name: str) -> Optional[float]:
    if name == "regressions":
        return float(comparison.regressions)
    if name == "refusal_rate":
        return comparison.refusal_rate[1]
    change = comparison.evaluator(name)
    return None if change is None else change.candidate_mean


def evaluate_gates(comparison: Comparison, gates: Sequence[Gate], max_score_shift: Optional[float] = None,
                   shift_exclude: Sequence[str] = ()) -> list:
    """A result per gate (and one for ``max_score_shift`` when given, over the score evaluators
    not in ``shift_exclude``). Names are checked first: :class:`GateError` for an unknown one."""
    check_names(gates, comparison)
    known = gate_names(comparison)
    for name in shift_exclude:
        if name not in known:
            raise GateError(f"--shift-exclude {name}: unknown evaluator (known: {', '.join(n for n in known if n not in SPECIAL)})")
    out = []
    for g in gates:
        value = gate_value(comparison, g.name)
        if value is None or not math.isfinite(value):
            out.append(GateResult(str(g), value, False, f"{g.name} has no value on the candidate"))
        else:
            out.append(GateResult(str(g), value, OPS[g.op](value, g.threshold)))
    if max_score_shift is not None:
        moved = [(e.bad_shift, e.name) for e in comparison.evaluators
                 if e.kind == SCORE and e.name not in shift_exclude and e.bad_shift is not None
                 and e.q_value < comparison.alpha]
        bad = sorted([m for m in moved if m[0] >= max_score_shift], reverse=True)
        worst = max((s for s, _ in moved), default=0.0)
        detail = (", ".join(f"{name} {s:+.2f} SD the bad way" for s, name in bad) if bad
                  else "no significant score shift of that size the bad way")
        out.append(GateResult(f"max-score-shift {max_score_shift:g} SD", worst, not bad, detail))
    return out
