"""Drift rules: a baseline window against a current window, per segment, on whylogs profiles.

:func:`detect` reads the merged profile of each segment (the overall segment ``*`` and every value
of every segment key) for both windows and applies five rules:

``distribution_drift`` (annotation ``distribution_drift``)
    Each numeric feature and score: whylogs' KS test on the two KLL sketches
    (``whylogs.viz.drift.column_drift_algorithms.KS``, 100 quantiles), with whylogs' thresholds
    (p < 0.05 DRIFT → alert, p < 0.15 POSSIBLE_DRIFT → warning). whylogs' Hellinger distance is
    reported beside it. Two guards make those thresholds usable on many segments and on millions of
    rows:

    - *multiple testing*: one run makes a few hundred tests (every feature in every segment, for
      every rule). At p < 0.05 each, stationary traffic would raise a dozen alerts per run. So every
      p-value is Bonferroni-adjusted for the number of statistical tests in the run (all rules, all
      segments; reported as ``p_adjusted`` and ``tests``) before whylogs' thresholds are applied:
      the chance that a run on unchanged traffic raises any statistical alert is at most 5% (measured
      on the synthetic traffic of the tests: 1 run in 200). ``adjust=False`` applies the thresholds to
      each test alone.
    - *effect size*: with 100,000 rows a KS test flags a 1% shift (and the sketches' own rank error,
      ~0.3%, is of that order). A finding also needs KS D ≥ ``min_ks_statistic`` (default 0.1: the two
      cumulative distributions differ by ten percentage points somewhere). Significant changes below
      the effect threshold are counted in the notes, not reported.

    0/1 features (``error``, ``retry_exhausted``, custom flags) are compared as rates instead: KS is
    far too weak for rare events (0.8% → 5% errors is D = 0.04), so they use Fisher's exact test and
    need a relative change ≥ ``rate_rel`` and an absolute one ≥ ``rate_abs``. The categorical
    ``error_type`` and ``request_model`` use the chi-squared test described under trajectory shape.
    ``step_count`` belongs to trajectory shape and ``refusal_flagged`` to the refusal rule.

``score_shift`` (annotation ``score_shift``)
    Evaluation scores (``refusal_similarity``, ``relevance``, any ``*_similarity``): alert when the
    mean moved by ≥ ``score_shift_sd`` baseline standard deviations *and* the move is significant
    (Welch z-test on the profiles' means and variances, adjusted as above, whylogs' thresholds).
    Scores exist only on scored runs; their own counts are used.

``refusal_rate`` (annotation ``refusal_rate_alert``)
    Rate = mean of ``refusal_flagged``. Nothing below ``refusal_abs`` (0.5%). Above it: if the rate
    rose by ≥ ``refusal_provider_rel`` (+50%) → alert "check the provider's model updates"; by
    ≥ ``refusal_audit_rel`` (+20%) → alert "audit the prompt"; the rise must be significant (one-sided
    Fisher exact test, adjusted as above; p < 0.15 only → warning). A rate above
    ``refusal_abs`` that did not rise (it was as high in the baseline) is a known condition, not a
    change: warning "investigate refusals", if it is significantly above ``refusal_abs`` (one-sided
    binomial test). Small-sample noise (3 refusals in 200 runs) therefore never alerts.

``trajectory_shape`` (annotation ``trajectory_drift``)
    ``tool_sequence`` and ``route_path``: chi-squared test of homogeneity on the 2 × k table of
    value counts from the frequent-items sketches (exact for low cardinality), values expected fewer
    than 5 times pooled into one cell, plus the total variation distance between the two value
    mixes as effect size (≥ ``min_category_shift``). ``step_count``: KS as above. whylogs'
    own ``ChiSquare`` is not used: it compares the current counts against
    ``int(baseline share × current total)``, which is 0 for any value rarer than one in the
    current total, and then returns p = 0 (DRIFT) — on stationary traffic with a long tail of
    tool sequences it fires on almost every run (``tests/test_drift_rules.py`` shows it).

``model_version_change`` (annotation ``model_version_change``)
    A ``request → response (fingerprint)`` pair in the current window that the baseline never had,
    for a requested model the baseline had (the alias problem: same name, new model or fingerprint)
    → alert with ``first_seen``, the earliest row timestamp with that pair (writers record it
    exactly). A requested model the baseline never had → info. Reported once, on the overall segment,
    with the segment values it appears in.

Findings are ranked alerts first, then warnings, then info, then by ``score`` (the effect divided
by its threshold: 1 = at the threshold; for model version changes 1 + 10 × the share of the
alias's current traffic), the overall segment before segment values. A score feature that has a
``score_shift`` finding in a segment does not also get a ``distribution_drift`` finding there.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional, Sequence

from scipy import stats as sps
from whylogs.core.view import ColumnProfileView, DatasetProfileView
from whylogs.viz.drift.column_drift_algorithms import KS, Hellinger
from whylogs.viz.drift.configs import ChiSquareConfig, DriftThresholds, KSTestConfig

from agenttrace.trajectory import CATEGORICAL_FEATURES, NUMERIC_FEATURES, SCORE_FEATURES

from .store import OVERALL, ProfileStore, rows, utc

RULES = ("distribution_drift", "score_shift", "refusal_rate", "trajectory_shape", "model_version_change")
ANNOTATIONS = {"distribution_drift": "distribution_drift", "score_shift": "score_shift",
               "refusal_rate": "refusal_rate_alert", "trajectory_shape": "trajectory_drift",
               "model_version_change": "model_version_change"}
SEVERITIES = ("alert", "warning", "info")
# whylogs' drift categories → severity
SEVERITY_OF_CATEGORY = {"DRIFT": "alert", "POSSIBLE_DRIFT": "warning", "NO_DRIFT": "info"}
SHAPE_FEATURES = ("tool_sequence", "route_path", "step_count")
MODEL_FEATURES = ("request_model", "response_model", "fingerprint", "model_version")
BINARY_FEATURES = ("retry_exhausted", "error", "refusal_flagged")
IGNORED = ("timestamp",)
MAX_SCORE = 100.0
ACTIONS = {
    "latency_ms": "check provider latency, retries and tool timings",
    "input_tokens": "check prompt size (templates, retrieved context)",
    "output_tokens": "check response length (model or prompt change)",
    "llm_calls": "check agent loops and retries",
    "tool_calls": "check tool usage (prompt or tool descriptions changed?)",
    "retry_count": "check provider errors and rate limits",
    "retry_exhausted": "check provider errors and rate limits",
    "error": "inspect the failing traces in Phoenix",
    "error_type": "inspect the failing traces in Phoenix",
    "request_model": "check which model the application asks for",
}


class DriftError(ValueError):
    """Drift detection cannot run on this input; the message is one line saying what is wrong."""


@dataclass
class DriftConfig:
    """Windows and thresholds of :func:`detect` (see the module docstring for each rule)."""

    baseline: timedelta = timedelta(days=30)
    current: timedelta = timedelta(days=7)
    score_shift_sd: float = 0.15        # mean shift of an evaluation score, in baseline standard deviations
    refusal_abs: float = 0.005          # current refusal rate above this → finding
    refusal_audit_rel: float = 0.20     # +20% relative to baseline → "audit the prompt"
    refusal_provider_rel: float = 0.50  # +50% → "check the provider's model updates"
    min_rows: int = 30                  # fewer rows on either side → no statistical finding for that segment
    segment_keys: Optional[Sequence[str]] = None   # None = every key in the store
    features: Optional[Sequence[str]] = None       # None = all
    min_ks_statistic: float = 0.1       # effect size for KS findings (numeric features, step_count)
    min_category_shift: float = 0.1     # effect size for categorical findings (total variation distance)
    rate_rel: float = 0.5               # 0/1 features: relative change of the rate needed (+-50%)
    rate_abs: float = 0.005             # 0/1 features: absolute change of the rate needed (0.5 points)
    adjust: bool = True                 # Bonferroni-adjust p-values for the number of tests in the run


@dataclass
class Finding:
    rule: str            # one of RULES
    severity: str        # "alert" | "warning" | "info"
    segment_key: str     # "*" for overall
    segment_value: str
    feature: str
    score: float         # for ranking (bigger = worse): the effect divided by its threshold
    message: str         # one line, with the numbers
    action: str          # what to do
    annotation: str      # Phoenix annotation name
    baseline: dict       # stats of the baseline window (n, mean, stddev, rate, top values ...)
    current: dict
    window: tuple[datetime, datetime]   # the current window
    first_seen: Optional[datetime] = None
    stats: dict = field(default_factory=dict)  # the test: name, statistic, p, p_adjusted, tests, effect, threshold

    @property
    def segment(self) -> tuple[str, str]:
        return self.segment_key, self.segment_value

    def to_dict(self) -> dict:
        """JSON-ready: datetimes as ISO 8601 strings, no NaN/inf."""
        return _jsonable(asdict(self))


@dataclass
class DriftResult:
    findings: list[Finding]   # ranked: alerts first, then by score
    baseline: tuple[datetime, datetime]
    current: tuple[datetime, datetime]
    rows_baseline: int
    rows_current: int
    notes: list[str]
    tests: dict[str, int] = field(default_factory=dict)  # statistical tests per rule (their sum is the Bonferroni factor)
    segments: int = 0                                    # segments evaluated, overall included

    @property
    def alerts(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "alert"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict:
        return _jsonable({"baseline": self.baseline, "current": self.current, "rows_baseline": self.rows_baseline,
                          "rows_current": self.rows_current, "segments": self.segments, "tests": self.tests,
                          "alerts": len(self.alerts), "findings": [f.to_dict() for f in self.findings], "notes": self.notes})


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return _jsonable(value.item())
    return value


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _range(r: tuple[datetime, datetime]) -> str:
    return f"[{_iso(r[0])}, {_iso(r[1])})"


def _seg_name(seg: tuple[str, str]) -> str:
    return "all traffic" if seg == OVERALL else f"{seg[0]}={seg[1]}"


def _category(p: float, thresholds: DriftThresholds) -> str:
    """whylogs' drift category of a p-value (its thresholds: DRIFT [0, 0.05), POSSIBLE_DRIFT [0.05, 0.15))."""
    lo, hi = thresholds.DRIFT
    if lo <= p < hi:
        return "DRIFT"
    if thresholds.POSSIBLE_DRIFT and thresholds.POSSIBLE_DRIFT[0] <= p < thresholds.POSSIBLE_DRIFT[1]:
        return "POSSIBLE_DRIFT"
    return "NO_DRIFT"


# ---------------------------------------------------------------------- column statistics

def _dist(col: Optional[ColumnProfileView]):
    metric = col.get_metric("distribution") if col is not None else None
    return metric if metric is not None and not metric.kll.value.is_empty() else None


def _numeric_stats(col: Optional[ColumnProfileView]) -> dict:
    dist = _dist(col)
    counts = col.get_metric("counts") if col is not None else None
    out: dict[str, Any] = {"n": int(dist.n) if dist else 0}
    if counts is not None:
        out["null"] = int(counts.null.value)
    if dist is None:
        return out
    q = dist.kll.value.get_quantiles([0.05, 0.25, 0.5, 0.75, 0.95])
    out.update(mean=float(dist.avg), stddev=float(dist.stddev), min=float(dist.min), max=float(dist.max),
               p05=float(q[0]), p25=float(q[1]), median=float(q[2]), p75=float(q[3]), p95=float(q[4]))
    return out


def _value_counts(col: Optional[ColumnProfileView]) -> tuple[dict[str, int], int]:
    """(value → count from the frequent-items sketch, non-null rows)."""
    if col is None:
        return {}, 0
    fi, counts = col.get_metric("frequent_items"), col.get_metric("counts")
    if fi is None or counts is None:
        return {}, 0
    total = int(counts.n.value - counts.null.value)
    items = fi.to_summary_dict()["frequent_strings"]
    return {str(i.value): int(i.est) for i in items}, total


def _top(values: dict[str, int], total: int, k: int = 5) -> list[list]:
    return [[v, c, c / total if total else 0.0] for v, c in sorted(values.items(), key=lambda x: -x[1])[:k]]


def _is_binary(*cols: Optional[ColumnProfileView]) -> bool:
    """True when every value is 0 or 1 (no mass strictly between them)."""
    for col in cols:
        dist = _dist(col)
        if dist is None:
            continue
        if dist.min < 0 or dist.max > 1:
            return False
        lo, hi = dist.kll.value.get_cdf([1e-9, 1.0])[:2]
        if hi - lo > 1e-12:
            return False
    return True


def _rate(col: Optional[ColumnProfileView]) -> tuple[int, int, float]:
    dist = _dist(col)
    if dist is None:
        return 0, 0, 0.0
    n = int(dist.n)
    k = int(round(dist.avg * n))
    return k, n, (k / n if n else 0.0)


def _chi2_homogeneity(base: dict[str, int], base_total: int, cur: dict[str, int], cur_total: int) -> tuple[float, float, int, float]:
    """(chi², p, degrees of freedom, total variation distance) of two value-count tables.

    Values not listed by a sketch are one "other" value; values expected fewer than 5 times on
    either side are pooled into it."""
    values = sorted(set(base) | set(cur))
    b_other = max(0, base_total - sum(base.values()))
    c_other = max(0, cur_total - sum(cur.values()))
    tvd = 0.5 * (sum(abs(base.get(v, 0) / base_total - cur.get(v, 0) / cur_total) for v in values)
                 + abs(b_other / base_total - c_other / cur_total))
    total = base_total + cur_total
    cells: list[tuple[float, float]] = []
    pooled_b, pooled_c = float(b_other), float(c_other)
    for v in values:
        b, c = base.get(v, 0), cur.get(v, 0)
        if min(base_total, cur_total) * (b + c) / total < 5:
            pooled_b += b
            pooled_c += c
        else:
            cells.append((b, c))
    if pooled_b + pooled_c > 0:
        cells.append((pooled_b, pooled_c))
    if len(cells) < 2:
        return 0.0, 1.0, 0, tvd
    chi2 = 0.0
    for b, c in cells:
        col = b + c
        for observed, row_total in ((b, base_total), (c, cur_total)):
            expected = row_total * col / total
            if expected > 0:
                chi2 += (observed - expected) ** 2 / expected
    dof = len(cells) - 1
    return chi2, float(sps.chi2.sf(chi2, dof)), dof, tvd


# ---------------------------------------------------------------------- candidate findings

@dataclass
class _Candidate:
    """A test result before multiple-testing adjustment decides its severity."""

    rule: str
    segment: tuple[str, str]
    feature: str
    p: float
    effect_ok: bool
    score: float
    message: Callable[[float, int], str]   # (p_adjusted, tests) → message
    action: str
    baseline: dict
    current: dict
    stats: dict
    severity_cap: str = "alert"            # the worst severity this test may get


def _ks(base_col, cur_col) -> tuple[Optional[float], Optional[float], Optional[float]]:
    """(whylogs KS p-value, KS statistic D, whylogs Hellinger distance)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ks = KS().calculate(target_column_view=cur_col, reference_column_view=base_col, with_thresholds=False)
        try:
            hel = Hellinger().calculate(target_column_view=cur_col, reference_column_view=base_col, with_thresholds=False)
        except Exception:  # Hellinger needs two non-degenerate sketches
            hel = None
    if ks is None or ks.pvalue is None:
        return None, None, None
    return float(ks.pvalue), float(ks.statistic), (float(hel.statistic) if hel is not None and hel.statistic is not None else None)


def _fmt(x: Optional[float]) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.4g}"


def _pfmt(p: float) -> str:
    return "p<1e-12" if p < 1e-12 else f"p={p:.2g}"


class _Detector:
    def __init__(self, store: ProfileStore, config: DriftConfig, baseline: tuple[datetime, datetime],
                 current: tuple[datetime, datetime]) -> None:
        self.store, self.cfg = store, config
        self.baseline, self.current = baseline, current
        self.candidates: list[_Candidate] = []
        self.findings: list[Finding] = []
        self.notes: list[str] = []
        self.below_effect: list[tuple[str, str, str]] = []
        self.sparse: dict[str, int] = {}
        self.quiet_tests: dict[str, int] = {}  # tests made that cannot produce a finding (refusal rate below refusal_abs)

    def wanted(self, feature: str) -> bool:
        return self.cfg.features is None or feature in self.cfg.features

    # numeric features (KS, or rates for 0/1 features) -------------------------------------
    def _enough(self, feature: str, base_col, cur_col) -> Optional[tuple[dict, dict]]:
        """Both sides' numeric stats, or None (counted as sparse) when a side has < min_rows values."""
        bs, cs = _numeric_stats(base_col), _numeric_stats(cur_col)
        if bs["n"] < self.cfg.min_rows or cs["n"] < self.cfg.min_rows:
            if bs["n"] or cs["n"]:
                self.sparse[feature] = self.sparse.get(feature, 0) + 1
            return None
        return bs, cs

    def numeric(self, rule: str, seg, feature: str, base_col, cur_col) -> None:
        cfg = self.cfg
        stats = self._enough(feature, base_col, cur_col)
        if stats is None:
            return
        bs, cs = stats
        if _is_binary(base_col, cur_col):
            self.rate(rule, seg, feature, base_col, cur_col, bs, cs)
            return
        p, d, hel = _ks(base_col, cur_col)
        if p is None:
            return
        action = ACTIONS.get(feature, "review what changed for this segment (prompt, tools, traffic mix)")
        if rule == "trajectory_shape":
            action = "review the agent's steps in Phoenix: prompt, tool descriptions or routing changed?"
        st = {"test": "ks (whylogs)", "statistic": d, "p": p, "hellinger": hel, "effect": d, "threshold": cfg.min_ks_statistic}

        def message(p_adj: float, m: int) -> str:
            return (f"{feature} distribution changed for {_seg_name(seg)}: KS D={d:.3f} ({_pfmt(p_adj)}, {m} tests), "
                    f"median {_fmt(bs.get('median'))} → {_fmt(cs.get('median'))}, mean {_fmt(bs.get('mean'))} → {_fmt(cs.get('mean'))}")

        self.candidates.append(_Candidate(rule, seg, feature, p, d >= cfg.min_ks_statistic, d / cfg.min_ks_statistic,
                                          message, action, bs, cs, st))

    def rate(self, rule: str, seg, feature: str, base_col, cur_col, bs: dict, cs: dict) -> None:
        cfg = self.cfg
        kb, nb, rb = _rate(base_col)
        kc, nc, rc = _rate(cur_col)
        bs.update(rate=rb, count=kb)
        cs.update(rate=rc, count=kc)
        p = float(sps.fisher_exact([[kc, nc - kc], [kb, nb - kb]], alternative="two-sided")[1])
        rel = (rc - rb) / rb if rb > 0 else (math.inf if rc > 0 else 0.0)
        ok = abs(rel) >= cfg.rate_rel and abs(rc - rb) >= cfg.rate_abs
        st = {"test": "fisher exact (two-sided)", "p": p, "effect": rel, "threshold": cfg.rate_rel, "abs_change": rc - rb}

        def message(p_adj: float, m: int) -> str:
            return (f"{feature} rate {rb:.2%} → {rc:.2%} for {_seg_name(seg)} ({kb}/{nb} → {kc}/{nc}, "
                    f"{'new' if math.isinf(rel) else f'{rel:+.0%}'}; {_pfmt(p_adj)}, {m} tests)")

        score = min(MAX_SCORE, abs(rel) / cfg.rate_rel) if cfg.rate_rel > 0 else MAX_SCORE
        self.candidates.append(_Candidate(rule, seg, feature, p, ok, score, message,
                                          ACTIONS.get(feature, "review the traces with this flag in Phoenix"), bs, cs, st))

    # categorical features (chi-squared on frequent items) ----------------------------------
    def categorical(self, rule: str, seg, feature: str, base_col, cur_col) -> None:
        cfg = self.cfg
        base, nb = _value_counts(base_col)
        cur, nc = _value_counts(cur_col)
        if nb < cfg.min_rows or nc < cfg.min_rows:
            return
        chi2, p, dof, tvd = _chi2_homogeneity(base, nb, cur, nc)
        if dof == 0:
            return
        bs = {"n": nb, "distinct": len(base), "top": _top(base, nb)}
        cs = {"n": nc, "distinct": len(cur), "top": _top(cur, nc), "new_values": _top({v: c for v, c in cur.items() if v not in base}, nc)}
        # the value whose share moved most, for the message
        moved = max(set(base) | set(cur), key=lambda v: abs(base.get(v, 0) / nb - cur.get(v, 0) / nc))
        st = {"test": "chi-squared homogeneity (frequent items)", "statistic": chi2, "dof": dof, "p": p, "effect": tvd,
              "threshold": cfg.min_category_shift, "moved_value": moved}
        action = ("review the agent's tool calls and routes in Phoenix: prompt, tool descriptions or routing changed?"
                  if rule == "trajectory_shape" else ACTIONS.get(feature, "review what changed for this segment"))

        def message(p_adj: float, m: int) -> str:
            return (f"{feature} mix changed for {_seg_name(seg)}: total variation {tvd:.2f} ({_pfmt(p_adj)}, {m} tests); "
                    f"'{moved or '(none)'}' {base.get(moved, 0) / nb:.1%} → {cur.get(moved, 0) / nc:.1%}")

        self.candidates.append(_Candidate(rule, seg, feature, p, tvd >= cfg.min_category_shift, tvd / cfg.min_category_shift,
                                          message, action, bs, cs, st))

    # score shift ------------------------------------------------------------------------
    def score_shift(self, seg, feature: str, base_col, cur_col) -> None:
        cfg = self.cfg
        stats = self._enough(feature, base_col, cur_col)
        if stats is None:
            return
        bs, cs = stats
        sd_b, sd_c = bs["stddev"], cs["stddev"]
        diff = cs["mean"] - bs["mean"]
        se = math.sqrt(sd_b ** 2 / bs["n"] + sd_c ** 2 / cs["n"])
        z = diff / se if se > 0 else (math.inf if diff else 0.0)
        p = float(2 * sps.norm.sf(abs(z))) if math.isfinite(z) else (0.0 if diff else 1.0)
        shift = diff / sd_b if sd_b > 0 else (math.inf if diff else 0.0)
        st = {"test": "welch z-test on means", "statistic": z, "p": p, "effect": shift, "threshold": cfg.score_shift_sd}

        def message(p_adj: float, m: int) -> str:
            return (f"{feature} mean {bs['mean']:.3f} → {cs['mean']:.3f} for {_seg_name(seg)}: {shift:+.2f} baseline SD "
                    f"(threshold {cfg.score_shift_sd}; {_pfmt(p_adj)}, {m} tests; scored rows {bs['n']} → {cs['n']})")

        score = min(MAX_SCORE, abs(shift) / cfg.score_shift_sd) if cfg.score_shift_sd > 0 else MAX_SCORE
        self.candidates.append(_Candidate("score_shift", seg, feature, p, abs(shift) >= cfg.score_shift_sd, score, message,
                                          "review the lowest-scoring traces in Phoenix (filter by the score_shift annotation)",
                                          bs, cs, st))

    # refusal rate -------------------------------------------------------------------------
    def refusal(self, seg, base_col, cur_col) -> None:
        cfg = self.cfg
        kb, nb, rb = _rate(base_col)
        kc, nc, rc = _rate(cur_col)
        if nb < cfg.min_rows or nc < cfg.min_rows:
            return
        if rc <= cfg.refusal_abs:  # looked at (it counts for the adjustment), nothing to report
            self.quiet_tests["refusal_rate"] = self.quiet_tests.get("refusal_rate", 0) + 1
            return
        bs = {"n": nb, "refusals": kb, "rate": rb}
        cs = {"n": nc, "refusals": kc, "rate": rc}
        rel = (rc - rb) / rb if rb > 0 else math.inf
        rising = rel >= cfg.refusal_audit_rel
        if rising:
            p = float(sps.fisher_exact([[kc, nc - kc], [kb, nb - kb]], alternative="greater")[1])
            provider = rel >= cfg.refusal_provider_rel
            action = "check the provider's model updates" if provider else "audit the prompt"
            test = "fisher exact (one-sided, current > baseline)"
        else:
            p = float(sps.binomtest(kc, nc, cfg.refusal_abs, alternative="greater").pvalue)
            action = "investigate refusals"
            test = f"binomial (one-sided, current > {cfg.refusal_abs:.2%})"
        rel_txt = "new" if math.isinf(rel) else f"{rel:+.0%}"
        st = {"test": test, "p": p, "effect": rel, "threshold": cfg.refusal_audit_rel, "refusal_abs": cfg.refusal_abs}

        def message(p_adj: float, m: int) -> str:
            head = (f"refusal rate {rc:.2%} ({kc}/{nc}) for {_seg_name(seg)} vs baseline {rb:.2%} ({kb}/{nb}): {rel_txt}")
            if rising:
                return f"{head}, above {cfg.refusal_abs:.1%} ({_pfmt(p_adj)}, {m} tests)"
            return f"{head}; above {cfg.refusal_abs:.1%} but not rising ({_pfmt(p_adj)} for > {cfg.refusal_abs:.1%}, {m} tests)"

        score = min(MAX_SCORE, rel / cfg.refusal_audit_rel) if rising and cfg.refusal_audit_rel > 0 else rc / cfg.refusal_abs / 10
        self.candidates.append(_Candidate("refusal_rate", seg, "refusal_flagged", p, True, min(MAX_SCORE, score), message,
                                          action, bs, cs, st, severity_cap="alert" if rising else "warning"))

    # model versions -------------------------------------------------------------------------
    def model_versions(self, base_view: DatasetProfileView, cur_view: DatasetProfileView,
                       first_seen: dict[str, datetime], seg_views: dict[tuple[str, str], DatasetProfileView]) -> None:
        base, _ = _value_counts(base_view.get_column("model_version"))
        cur, _ = _value_counts(cur_view.get_column("model_version"))
        if not cur:
            return

        def pairs(value: str) -> list[str]:
            # "req → resp (fp)" per distinct pair, ";"-joined; a cut-off last pair (sketch item size) is dropped
            return [p.strip() for p in value.split(";") if p.strip().endswith(")") and " → " in p]

        def parse(pair: str) -> tuple[str, str, str]:
            req, _, rest = pair.partition(" → ")
            resp, _, fp = rest.rpartition(" (")
            return req, resp, fp.rstrip(")")

        base_pairs = {p for v in base for p in pairs(v)}
        base_requests: dict[str, dict[str, int]] = {}
        for v, c in base.items():
            for p in pairs(v):
                base_requests.setdefault(parse(p)[0], {}).setdefault(p, 0)
                base_requests[parse(p)[0]][p] += c
        req_counts: dict[str, int] = {}
        pair_counts: dict[str, int] = {}
        for v, c in cur.items():
            ps = pairs(v)
            for p in ps:
                pair_counts[p] = pair_counts.get(p, 0) + c
            for req in {parse(p)[0] for p in ps}:
                req_counts[req] = req_counts.get(req, 0) + c
        for pair in sorted(p for p in pair_counts if p not in base_pairs):
            req, resp, fp = parse(pair)
            share = pair_counts[pair] / req_counts[req] if req_counts.get(req) else 0.0
            seen = [t for v, t in first_seen.items() if pair in pairs(v)]
            first = min(seen) if seen else self._first_window(pair, pairs)
            where = {}
            for seg, view in seg_views.items():
                counts, _ = _value_counts(view.get_column("model_version"))
                n = sum(c for v, c in counts.items() if pair in pairs(v))
                if n:
                    where[f"{seg[0]}={seg[1]}"] = n
            cs = {"value": pair, "request_model": req, "response_model": resp, "fingerprint": fp, "rows": pair_counts[pair],
                  "share": share, "segments": dict(sorted(where.items(), key=lambda x: -x[1])[:10])}
            known = base_requests.get(req)
            if known:
                previous = sorted(known, key=lambda p: -known[p])
                old_resp = {parse(p)[1] for p in previous}
                what = "a new response model" if resp not in old_resp else "a new fingerprint"
                bs = {"versions": [[p, known[p]] for p in previous]}
                msg = (f"{req} is answered by {resp} ({fp}), {what} not seen in the baseline (had: {', '.join(previous[:3])}); "
                       f"first seen {_iso(first) if first else 'in the current window'}, {share:.0%} of current {req} rows "
                       f"({pair_counts[pair]})")
                self.findings.append(Finding("model_version_change", "alert", "*", "*", "model_version", 1 + 10 * share, msg,
                                             "check the provider's model updates; pin the model version or re-run your evaluations",
                                             ANNOTATIONS["model_version_change"], bs, cs, self.current, first,
                                             {"test": "new value (frequent items)", "effect": share}))
            else:
                msg = (f"new requested model {req} (answered by {resp} ({fp})): not in the baseline; "
                       f"first seen {_iso(first) if first else 'in the current window'}, {pair_counts[pair]} rows")
                self.findings.append(Finding("model_version_change", "info", "*", "*", "model_version", share, msg,
                                             "confirm the application is meant to use this model",
                                             ANNOTATIONS["model_version_change"], {"versions": []}, cs, self.current, first,
                                             {"test": "new value (frequent items)", "effect": share}))

    def _first_window(self, pair: str, pairs: Callable[[str], list[str]]) -> Optional[datetime]:
        """Fallback when writers recorded no first-seen times: the first current window containing the pair."""
        for start, view in self.store.read_windows(*self.current):
            values, _ = _value_counts(view.get_column("model_version"))
            if any(pair in pairs(v) for v in values):
                return start
        return None

    # -------------------------------------------------------------------------------------
    def segment(self, seg, base: DatasetProfileView, cur: DatasetProfileView) -> None:
        base_cols, cur_cols = base.get_columns(), cur.get_columns()
        names = [c for c in cur_cols if c in base_cols and c not in IGNORED and self.wanted(c)]
        scores = [c for c in names if c in SCORE_FEATURES or c.endswith("_similarity")]
        for c in names:
            b, k = base_cols[c], cur_cols[c]
            if c in MODEL_FEATURES[1:]:
                continue  # response model / fingerprint / model_version: the model version rule
            if c in SHAPE_FEATURES:
                if c == "step_count":
                    self.numeric("trajectory_shape", seg, c, b, k)
                else:
                    self.categorical("trajectory_shape", seg, c, b, k)
            elif c == "refusal_flagged":
                self.refusal(seg, b, k)
            elif c in CATEGORICAL_FEATURES or (k.get_metric("frequent_items") is not None and _dist(k) is None):
                self.categorical("distribution_drift", seg, c, b, k)
            elif _dist(b) is not None or _dist(k) is not None:
                self.numeric("distribution_drift", seg, c, b, k)
                if c in scores:
                    self.score_shift(seg, c, b, k)

    def finish(self) -> dict[str, int]:
        """Adjust p-values for the tests of the run, decide severities, turn candidates into findings."""
        tests: dict[str, int] = dict(self.quiet_tests)
        for c in self.candidates:
            tests[c.rule] = tests.get(c.rule, 0) + 1
        shifted = set()
        ks_cfg, chi_cfg = KSTestConfig().thresholds, ChiSquareConfig().thresholds
        kept: list[tuple[_Candidate, str, float]] = []
        m = sum(tests.values()) if self.cfg.adjust else 1
        for c in self.candidates:
            p_adj = min(1.0, c.p * m)
            category = _category(p_adj, ks_cfg if c.stats.get("test", "").startswith("ks") else chi_cfg)
            severity = SEVERITY_OF_CATEGORY[category]
            if severity == "info":
                continue
            if not c.effect_ok:
                self.below_effect.append((c.rule, _seg_name(c.segment), c.feature))
                continue
            if c.severity_cap == "warning":
                severity = "warning"
            c.stats.update(p_adjusted=p_adj, tests=m, category=category)
            kept.append((c, severity, p_adj))
            if c.rule == "score_shift":
                shifted.add((c.segment, c.feature))
        for c, severity, p_adj in kept:
            if c.rule == "distribution_drift" and (c.segment, c.feature) in shifted:
                continue  # the score_shift finding says it (with the numbers that matter for a score)
            self.findings.append(Finding(c.rule, severity, c.segment[0], c.segment[1], c.feature, round(float(c.score), 4),
                                         c.message(p_adj, c.stats["tests"]), c.action, ANNOTATIONS[c.rule],
                                         c.baseline, c.current, self.current, None, c.stats))
        return tests


def _rank(f: Finding) -> tuple:
    return (SEVERITIES.index(f.severity), -f.score, (f.segment_key, f.segment_value) != OVERALL,
            f.rule, f.segment_key, f.segment_value, f.feature)


def detect(store: ProfileStore, *, end: Optional[datetime] = None, config: DriftConfig = DriftConfig(),
           baseline: Optional[tuple[datetime, datetime]] = None,
           current: Optional[tuple[datetime, datetime]] = None) -> DriftResult:
    """Compare the baseline window with the current window, per segment; see the module docstring.

    Defaults: ``current`` = [end − config.current, end), ``baseline`` = the ``config.baseline``
    before it; ``end`` = the end of the store's last window. Raises :class:`DriftError` (one-line
    message) for a missing or empty store, a window without data, an unknown segment key or feature.
    """
    if not store.root.is_dir():
        raise DriftError(f"no profile store at {store.root}: the directory does not exist "
                         "(write profiles first, or build them from Phoenix spans)")
    span = store.time_range()
    if span is None:
        raise DriftError(f"the profile store at {store.root} holds no profiles yet (nothing has been flushed to it)")
    have = f"the store has data from {_iso(span[0])} to {_iso(span[1])}"
    end = utc(end) if end is not None else span[1]
    if current is not None:
        current = (utc(current[0]), utc(current[1]))
    else:
        current = (end - config.current, end)
    if baseline is not None:
        baseline = (utc(baseline[0]), utc(baseline[1]))
    else:
        baseline = (current[0] - config.baseline, current[0])
    for name, r in (("baseline", baseline), ("current", current)):
        if not r[0] < r[1]:
            raise DriftError(f"the {name} window {_range(r)} is empty: its start must be before its end")

    known = store.segments()
    keys = list(known) if config.segment_keys is None else list(config.segment_keys)
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise DriftError(f"unknown segment key {', '.join(repr(k) for k in unknown)}; the store has: "
                         f"{', '.join(known) or 'no segment keys (overall only)'}")

    base_all, _ = store.read_with_first_seen(*baseline)
    if base_all is None:
        raise DriftError(f"no data in the baseline window {_range(baseline)}; {have}")
    cur_all, first_seen = store.read_with_first_seen(*current)
    if cur_all is None:
        raise DriftError(f"no data in the current window {_range(current)}; {have}")

    if config.features is not None:
        names = set(NUMERIC_FEATURES) | set(SCORE_FEATURES) | set(CATEGORICAL_FEATURES) | set(base_all.get_columns()) | set(cur_all.get_columns())
        bad = [f for f in config.features if f not in names]
        if bad:
            raise DriftError(f"unknown feature {', '.join(repr(f) for f in bad)}; known features: {', '.join(sorted(names - set(IGNORED)))}")

    det = _Detector(store, config, baseline, current)
    seg_views: dict[tuple[str, str], DatasetProfileView] = {}
    evaluated = 0
    skipped: list[str] = []
    segments = [OVERALL] + [(k, v) for k in keys for v in known[k]]
    for seg in segments:
        if seg == OVERALL:
            b, c = base_all, cur_all
        else:
            b, c = store.read(*baseline, segment=seg), store.read(*current, segment=seg)
            if c is not None:
                seg_views[seg] = c
        nb, nc = rows(b), rows(c)
        if b is None or c is None or nb < config.min_rows or nc < config.min_rows:
            skipped.append(f"{_seg_name(seg)} ({nb} baseline / {nc} current rows)")
            continue
        evaluated += 1
        det.segment(seg, b, c)
    if config.features is None or "model_version" in config.features:
        det.model_versions(base_all, cur_all, first_seen.get("model_version", {}), seg_views)
    tests = det.finish()

    notes: list[str] = []
    if skipped:
        notes.append(f"{len(skipped)} segment(s) skipped, fewer than min_rows={config.min_rows} rows on a side: "
                     + "; ".join(skipped[:12]) + (" ..." if len(skipped) > 12 else ""))
    for feature, n in sorted(det.sparse.items()):
        notes.append(f"{feature}: not tested in {n} segment(s) with fewer than {config.min_rows} values on a side")
    if det.below_effect:
        shown = "; ".join(f"{f} ({s}, {r})" for r, s, f in det.below_effect[:8])
        notes.append(f"{len(det.below_effect)} statistically significant change(s) below the effect-size thresholds "
                     f"not reported: {shown}{' ...' if len(det.below_effect) > 8 else ''}")
    for line in store.problems:
        notes.append(f"profile store: {line}")
    return DriftResult(sorted(det.findings, key=_rank), baseline, current, rows(base_all), rows(cur_all), notes,
                       tests, evaluated)
