"""Compare two golden runs: what improved, what regressed, and what is only noise.

Two runs of the same model differ: the agent samples, the judge samples. A change is called a
regression only when a test across the repeats says it is unlikely to be noise:

- per example and evaluator, the k repeats of the base against those of the candidate: pass
  evaluators by Boschloo's exact test on the pass counts, score evaluators by a permutation test
  of the difference of means (exact for small k) plus a minimum effect (``min_effect_sd`` baseline standard deviations); the p-values of all
  examples × evaluators are adjusted by Benjamini–Hochberg (false discovery rate ``alpha``);
- per evaluator (suite level), the per-example means paired across examples, by a paired
  permutation test (the sign of each example's change flipped at random), the evaluators'
  p-values again adjusted by Benjamini–Hochberg; a score evaluator's change must also be at least
  ``min_effect_sd`` baseline SD. With few repeats an example alone rarely reaches significance; an
  example whose evaluator regressed at suite level and which moved the bad way by the minimum
  effect is listed as regressed too (basis ``suite``).

The score shift is the candidate's mean minus the base's, in baseline standard deviations pooled
over examples × repeats (the 0.15 SD early warning of drift's ``score_shift``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from scipy import stats

from .results import ExampleResult, RunResult

PASS, SCORE = "pass", "score"
IMPROVED, REGRESSED, UNCHANGED = "improved", "regressed", "unchanged"
PASS_K = "pass_k"
REFUSAL = "refusal"
PER_EXAMPLE = frozenset({"route_consistency"})   # one value per example, repeated on every repeat
ALPHA = 0.05
MIN_EFFECT_SD = 0.15
PERMUTATIONS = 9999


@dataclass(frozen=True)
class Evaluator:
    name: str
    kind: str                  # "pass" | "score"
    direction: str = "maximize"

    @property
    def sign(self) -> int:
        return -1 if self.direction == "minimize" else 1


@dataclass
class ExampleChange:
    example_id: str
    evaluator: str
    kind: str
    base: list
    candidate: list
    p_value: Optional[float]                            # None: nothing to test
    q_value: float = 1.0
    verdict: str = UNCHANGED
    basis: str = ""            # "example" (its own test) | "suite" (its evaluator regressed/improved overall)
    evidence: str = ""

    @property
    def base_mean(self) -> float:
        return float(np.mean(self.base))

    @property
    def candidate_mean(self) -> float:
        return float(np.mean(self.candidate))


@dataclass
class EvaluatorChange:
    name: str
    kind: str
    direction: str
    base_mean: Optional[float]
    candidate_mean: Optional[float]
    base_interval: tuple = (math.nan, math.nan)        # 95% t-interval over the per-example means
    candidate_interval: tuple = (math.nan, math.nan)
    shift_sd: Optional[float] = None                    # (candidate - base) / baseline SD
    p_value: Optional[float] = None                     # None: no example changed
    q_value: float = 1.0
    examples: int = 0                                   # examples with values in both runs
    verdict: str = UNCHANGED

    @property
    def bad_shift(self) -> Optional[float]:
        """The shift in baseline SD in the bad direction (positive = worse)."""
        if self.shift_sd is None:
            return None
        return -self.shift_sd if self.direction != "minimize" else self.shift_sd


@dataclass
class Comparison:
    base: RunResult
    candidate: RunResult
    alpha: float
    min_effect_sd: float
    evaluators: list = field(default_factory=list)     # list[EvaluatorChange], pass_k last
    examples: list = field(default_factory=list)       # list[ExampleChange]
    refusal_rate: tuple = (None, None)                  # (base, candidate), None without a refusal evaluator
    base_sd: dict = field(default_factory=dict)          # evaluator -> baseline SD (examples x repeats)
    notes: list = field(default_factory=list)

    def evaluator(self, name: str) -> Optional[EvaluatorChange]:
        return next((e for e in self.evaluators if e.name == name), None)

    @property
    def regressed_examples(self) -> list:
        return [c for c in self.examples if c.verdict == REGRESSED]

    @property
    def regressed_evaluators(self) -> list:
        return [e for e in self.evaluators if e.verdict == REGRESSED]

    @property
    def regressions(self) -> int:
        """Each noise-aware regression once: the evaluators regressed at suite level, plus the
        examples regressed by their own test on an evaluator that did not regress overall."""
        overall = {e.name for e in self.regressed_evaluators}
        return len(overall) + sum(1 for c in self.regressed_examples if c.basis == "example" and c.evaluator not in overall)


# --- values -----------------------------------------------------------------------------------


def evaluators_of(base: RunResult, candidate: RunResult, notes: list) -> list:
    out = []
    for name in sorted(set(base.evaluators) | set(candidate.evaluators)):
        if name not in base.evaluators or name not in candidate.evaluators:
            notes.append(f"evaluator {name} ran only on the {'base' if name in base.evaluators else 'candidate'}: not compared")
            continue
        spec, other = candidate.evaluators[name], base.evaluators[name]
        kind = spec.kind or SCORE
        if (other.kind or SCORE) != kind:
            notes.append(f"evaluator {name} is a {other.kind} evaluator on the base, {kind} on the candidate: "
                         "compared as the candidate declares it")
        out.append(Evaluator(name, kind, spec.direction or other.direction or "maximize"))
    return out


def values(example: ExampleResult, name: str) -> list:
    vals = []
    for r in example.repeats:
        v = (r.scores or {}).get(name)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            vals.append(float(v))
    return vals[:1] if name in PER_EXAMPLE else vals


def pass_k(example: ExampleResult, pass_evaluators: dict) -> list:
    """[1.0] when every repeat passed every pass evaluator that ran on it, [0.0] if not, [] when none ran."""
    passed = example.passes_all(pass_evaluators)
    return [] if passed is None else [float(passed)]


# --- tests ------------------------------------------------------------------------------------


def example_p_value(kind: str, base: list, candidate: list) -> Optional[float]:
    """None when there is nothing to test: no values, every value the same on both sides, or a
    single repeat on a side (k=1 has no spread to test an example on; the suite's test decides)."""
    if len(base) < 2 or len(candidate) < 2 or (len(set(base)) == 1 and set(base) == set(candidate)):
        return None
    if kind == PASS:
        bp, cp = sum(v >= 1.0 for v in base), sum(v >= 1.0 for v in candidate)
        table = [[bp, cp], [len(base) - bp, len(candidate) - cp]]
        if bp + cp == 0 or bp + cp == len(base) + len(candidate):
            return 1.0
        p = stats.boschloo_exact(table, alternative="two-sided").pvalue
    else:
        p = stats.permutation_test((np.asarray(base), np.asarray(candidate)),
                                   lambda x, y, axis: np.mean(y, axis=axis) - np.mean(x, axis=axis),
                                   permutation_type="independent", vectorized=True, n_resamples=PERMUTATIONS,
                                   alternative="two-sided", random_state=0).pvalue
    return 1.0 if not math.isfinite(p) else float(p)


def paired_p_value(base_means: list, candidate_means: list) -> Optional[float]:
    """Paired permutation test of the mean per-example change (signs flipped at random); None
    when no example changed."""
    d = np.asarray(candidate_means) - np.asarray(base_means)
    if len(d) < 2 or np.all(d == 0):
        return None
    res = stats.permutation_test((np.asarray(base_means), np.asarray(candidate_means)),
                                 lambda x, y, axis: np.mean(y - x, axis=axis), permutation_type="samples",
                                 vectorized=True, n_resamples=PERMUTATIONS, alternative="two-sided", random_state=0)
    return float(min(1.0, res.pvalue))


def adjust(p_values: list) -> list:
    """Benjamini–Hochberg over the tests that could reject: a p-value of None (no change at all
    to test, e.g. both runs passed every repeat) stays 1 and does not count (Tarone's point for
    discrete tests: a test that cannot reject only costs power)."""
    tested = [p for p in p_values if p is not None]
    q = iter(stats.false_discovery_control(tested, method="bh")) if tested else iter(())
    return [1.0 if p is None else float(next(q)) for p in p_values]


def interval(means: list) -> tuple:
    if len(means) < 2:
        return (math.nan, math.nan)
    sem = stats.sem(means)
    if sem == 0:
        return (float(np.mean(means)),) * 2
    lo, hi = stats.t.interval(0.95, len(means) - 1, loc=float(np.mean(means)), scale=sem)
    return (float(lo), float(hi))


def _big_enough(diff: float, sd: float, min_effect_sd: float) -> bool:
    return abs(diff) >= min_effect_sd * sd if sd > 0 else diff != 0


def _verdict(delta_good: float, significant: bool, big_enough: bool) -> str:
    if not significant or not big_enough or delta_good == 0:
        return UNCHANGED
    return IMPROVED if delta_good > 0 else REGRESSED


# --- the comparison ---------------------------------------------------------------------------


def _suite_changes(rows: list, result: Comparison) -> list:
    """Per evaluator: means, intervals, the shift in baseline SD, the paired test; then the
    verdicts once the p-values are adjusted. ``result.base_sd`` is filled on the way."""
    changes = []
    for ev, per_example in rows:
        base_all = [v for _, bv, _ in per_example for v in bv]
        cand_all = [v for _, _, cv in per_example for v in cv]
        both = [(bv, cv) for _, bv, cv in per_example if bv and cv]
        sd = result.base_sd[ev.name] = float(np.std(base_all, ddof=1)) if len(base_all) > 1 else 0.0
        change = EvaluatorChange(ev.name, ev.kind, ev.direction, float(np.mean(base_all)) if base_all else None,
                                 float(np.mean(cand_all)) if cand_all else None, examples=len(both))
        if both:
            bm, cm = [float(np.mean(b)) for b, _ in both], [float(np.mean(c)) for _, c in both]
            change.base_interval, change.candidate_interval = interval(bm), interval(cm)
            change.p_value = paired_p_value(bm, cm)
        if change.base_mean is not None and change.candidate_mean is not None:
            diff = change.candidate_mean - change.base_mean
            change.shift_sd = diff / sd if sd > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
        changes.append((ev, change, per_example))
    for (_, change, _), q in zip(changes, adjust([c.p_value for _, c, _ in changes])):
        change.q_value = q
        if change.shift_sd is not None:
            big = change.kind == PASS or abs(change.shift_sd) >= result.min_effect_sd
            change.verdict = _verdict(-change.bad_shift, q < result.alpha, big)
    return changes


def _example_changes(changes: list, result: Comparison) -> list:
    """Per example and evaluator: the exact test across the repeats, adjusted over all of them;
    an example also takes its evaluator's suite-level verdict when it moved that way by the
    minimum effect (basis "suite")."""
    tested = [(ev, overall, ExampleChange(example_id, ev.name, ev.kind, bv, cv, example_p_value(ev.kind, bv, cv)))
              for ev, overall, per_example in changes for example_id, bv, cv in per_example if bv and cv]
    out = []
    for (ev, overall, ex), q in zip(tested, adjust([x.p_value for _, _, x in tested])):
        ex.q_value = q
        diff = ex.candidate_mean - ex.base_mean
        big = ev.kind == PASS or _big_enough(diff, result.base_sd[ev.name], result.min_effect_sd)
        ex.verdict = _verdict(ev.sign * diff, q < result.alpha, big)
        ex.basis = "example" if ex.verdict != UNCHANGED else ""
        if ex.verdict == UNCHANGED and overall.verdict != UNCHANGED \
                and _verdict(ev.sign * diff, True, big) == overall.verdict:
            ex.verdict, ex.basis = overall.verdict, "suite"
        out.append(ex)
    return out


def compare(base: RunResult, candidate: RunResult, *, alpha: float = ALPHA,
            min_effect_sd: float = MIN_EFFECT_SD) -> Comparison:
    """Compare the candidate run with the base run (see the module's doc for the tests)."""
    from .compare_evidence import evidence_of

    result = Comparison(base, candidate, alpha, min_effect_sd)
    evaluators = evaluators_of(base, candidate, result.notes)
    by_id = {e.id: e for e in candidate.examples}
    paired = [(b, by_id[b.id]) for b in base.examples if b.id in by_id]
    for side, run, other in (("base", base, by_id), ("candidate", candidate, {e.id for e in base.examples})):
        missing = [e.id for e in run.examples if e.id not in other]
        if missing:
            result.notes.append(f"{len(missing)} example(s) only in the {side}, not compared: {', '.join(missing[:5])}")
    passes = {e.name: candidate.evaluators[e.name] for e in evaluators if e.kind == PASS}
    rows = [(e, [(b.id, values(b, e.name), values(c, e.name)) for b, c in paired]) for e in evaluators]
    rows.append((Evaluator(PASS_K, PASS), [(b.id, pass_k(b, passes), pass_k(c, passes)) for b, c in paired]))

    changes = _suite_changes(rows, result)
    result.evaluators = [change for _, change, _ in changes]
    result.examples = _example_changes(changes, result)
    for ex in result.examples:
        if ex.verdict != UNCHANGED:
            ex.evidence = evidence_of(candidate, ex)
    if REFUSAL in {e.name for e in evaluators}:
        r = result.evaluator(REFUSAL)
        result.refusal_rate = tuple(None if m is None else 1.0 - m for m in (r.base_mean, r.candidate_mean))
    return result
