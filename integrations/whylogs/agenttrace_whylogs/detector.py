"""The statistical drift rules (distribution drift, score shift, refusal rate, trajectory shape):
per segment, tests on the baseline and current profiles become candidates; :meth:`Detector.finish`
adjusts their p-values for the number of tests in the run and turns them into findings."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from scipy import stats as sps
from whylogs.core.view import DatasetProfileView
from whylogs.viz.drift.configs import ChiSquareConfig, KSTestConfig

from agenttrace.trajectory import CATEGORICAL_FEATURES, SCORE_FEATURES

from .config import DriftConfig
from .results import ANNOTATIONS, SEVERITIES, Finding, seg_id
from .stats import (category, chi2_homogeneity, distribution_of, fmt, grown_values, is_binary, ks_test, numeric_stats,
                    rate_of, tail_cut, top_values, value_counts)
from .store import OVERALL, ProfileStore

# whylogs' drift categories → severity
SEVERITY_OF_CATEGORY = {"DRIFT": "alert", "POSSIBLE_DRIFT": "warning", "NO_DRIFT": "info"}
SHAPE_FEATURES = ("tool_sequence", "route_path", "step_count")
MODEL_FEATURES = ("request_model", "response_model", "fingerprint", "model_version")
BINARY_FEATURES = ("retry_exhausted", "error", "refusal_flagged")
IGNORED = ("timestamp",)
MAX_SCORE = 100.0
# the runs a refusal-rate finding concerns: those with a flagged reply; their score is the refusal
# detector's score when the runs have it (agenttrace-langkit's refusal_score), else LangKit's similarity
REFUSED_RUNS = {"feature": "refusal_flagged", "op": ">=", "value": 1, "score": "refusal_similarity"}
REFUSAL_SCORES = ("refusal_score", "refusal_similarity")
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


@dataclass
class _Candidate:
    """A test result before multiple-testing adjustment decides its severity."""

    rule: str
    segment: tuple[str, str]
    feature: str
    p: float
    effect_ok: bool
    score: float
    message: str                           # one line: the numbers on both sides (segment, p and tests are in the JSON)
    action: str
    baseline: dict
    current: dict
    stats: dict
    severity_cap: str = "alert"            # the worst severity this test may get
    selector: Optional[dict] = None        # Finding.selector: which runs show it


class Detector:
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
        bs, cs = numeric_stats(base_col), numeric_stats(cur_col)
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
        if is_binary(base_col, cur_col):
            self.rate(rule, seg, feature, base_col, cur_col, bs, cs)
            return
        p, d, hel = ks_test(base_col, cur_col)
        if p is None:
            return
        action = ACTIONS.get(feature, "review what changed for this segment (prompt, tools, traffic mix)")
        if rule == "trajectory_shape":
            action = "review the agent's steps in Phoenix: prompt, tool descriptions or routing changed?"
        st = {"test": "ks (whylogs)", "statistic": d, "p": p, "hellinger": hel, "effect": d, "threshold": cfg.min_ks_statistic}
        message = (f"median {fmt(bs.get('median'))} → {fmt(cs.get('median'))}, mean {fmt(bs.get('mean'))} → "
                   f"{fmt(cs.get('mean'))} (KS D {d:.2f})")
        self.candidates.append(_Candidate(rule, seg, feature, p, d >= cfg.min_ks_statistic, d / cfg.min_ks_statistic,
                                          message, action, bs, cs, st, selector=_tail(feature, base_col, cur_col)))

    def rate(self, rule: str, seg, feature: str, base_col, cur_col, bs: dict, cs: dict) -> None:
        cfg = self.cfg
        kb, nb, rb = rate_of(base_col)
        kc, nc, rc = rate_of(cur_col)
        bs.update(rate=rb, count=kb)
        cs.update(rate=rc, count=kc)
        p = float(sps.fisher_exact([[kc, nc - kc], [kb, nb - kb]], alternative="two-sided")[1])
        rel = (rc - rb) / rb if rb > 0 else (math.inf if rc > 0 else 0.0)
        ok = abs(rel) >= cfg.rate_rel and abs(rc - rb) >= cfg.rate_abs
        st = {"test": "fisher exact (two-sided)", "p": p, "effect": rel, "threshold": cfg.rate_rel, "abs_change": rc - rb}
        message = f"rate {rb:.2%} → {rc:.2%} ({_relative(rel)}; {kb}/{nb} → {kc}/{nc} runs)"
        score = min(MAX_SCORE, abs(rel) / cfg.rate_rel) if cfg.rate_rel > 0 else MAX_SCORE
        # a rate that rose: the runs with the flag show it; one that fell shows on no single run
        selector = {"feature": feature, "op": ">=", "value": 1} if rc > rb else None
        self.candidates.append(_Candidate(rule, seg, feature, p, ok, score, message,
                                          ACTIONS.get(feature, "review the traces with this flag in Phoenix"), bs, cs, st,
                                          selector=selector))

    # categorical features (chi-squared on frequent items) ----------------------------------
    def categorical(self, rule: str, seg, feature: str, base_col, cur_col) -> None:
        cfg = self.cfg
        base, nb = value_counts(base_col)
        cur, nc = value_counts(cur_col)
        if nb < cfg.min_rows or nc < cfg.min_rows:
            return
        chi2, p, dof, tvd = chi2_homogeneity(base, nb, cur, nc)
        if dof == 0:
            return
        bs = {"n": nb, "distinct": len(base), "top": top_values(base, nb)}
        grown = grown_values(base, nb, cur, nc)
        cs = {"n": nc, "distinct": len(cur), "top": top_values(cur, nc),
              "new_values": top_values({v: c for v, c in cur.items() if v not in base}, nc), "grown_values": grown[:20]}
        # the value whose share moved most, for the message
        moved = max(set(base) | set(cur), key=lambda v: abs(base.get(v, 0) / nb - cur.get(v, 0) / nc))
        st = {"test": "chi-squared homogeneity (frequent items)", "statistic": chi2, "dof": dof, "p": p, "effect": tvd,
              "threshold": cfg.min_category_shift, "moved_value": moved}
        action = ("review the agent's tool calls and routes in Phoenix: prompt, tool descriptions or routing changed?"
                  if rule == "trajectory_shape" else ACTIONS.get(feature, "review what changed for this segment"))
        message = (f"'{moved or '(none)'}' {base.get(moved, 0) / nb:.1%} → {cur.get(moved, 0) / nc:.1%} of runs "
                   f"(mix moved {tvd:.2f})")
        selector = {"feature": feature, "op": "in", "value": [v for v, _, _ in grown]} if grown else None
        self.candidates.append(_Candidate(rule, seg, feature, p, tvd >= cfg.min_category_shift, tvd / cfg.min_category_shift,
                                          message, action, bs, cs, st, selector=selector))

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
        message = f"mean {bs['mean']:.3f} → {cs['mean']:.3f} ({shift:+.2f} baseline SD; {bs['n']} → {cs['n']} scored runs)"
        score = min(MAX_SCORE, abs(shift) / cfg.score_shift_sd) if cfg.score_shift_sd > 0 else MAX_SCORE
        self.candidates.append(_Candidate("score_shift", seg, feature, p, abs(shift) >= cfg.score_shift_sd, score, message,
                                          score_action(feature, diff), bs, cs, st,
                                          selector=_tail(feature, base_col, cur_col, up=diff > 0)))

    # refusal rate -------------------------------------------------------------------------
    def refusal(self, seg, base_col, cur_col, run_score: str = REFUSED_RUNS["score"]) -> None:
        cfg = self.cfg
        kb, nb, rb = rate_of(base_col)
        kc, nc, rc = rate_of(cur_col)
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
        st = {"test": test, "p": p, "effect": rel, "threshold": cfg.refusal_audit_rel, "refusal_abs": cfg.refusal_abs}
        if rising:
            message = f"refusal rate {rb:.1%} → {rc:.1%} ({_relative(rel)}; {kb}/{nb} → {kc}/{nc} runs)"
        else:
            message = f"refusal rate {rc:.1%} ({kc}/{nc} runs), above {cfg.refusal_abs:.1%} but not rising (was {rb:.1%})"
        score = min(MAX_SCORE, rel / cfg.refusal_audit_rel) if rising and cfg.refusal_audit_rel > 0 else rc / cfg.refusal_abs / 10
        self.candidates.append(_Candidate("refusal_rate", seg, "refusal_flagged", p, True, min(MAX_SCORE, score), message,
                                          action, bs, cs, st, severity_cap="alert" if rising else "warning",
                                          selector={**REFUSED_RUNS, "score": run_score}))

    # model versions -------------------------------------------------------------------------

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
                self.refusal(seg, b, k, next((s for s in REFUSAL_SCORES if s in cur_cols), REFUSED_RUNS["score"]))
            elif c in CATEGORICAL_FEATURES or (k.get_metric("frequent_items") is not None and distribution_of(k) is None):
                self.categorical("distribution_drift", seg, c, b, k)
            elif distribution_of(b) is not None or distribution_of(k) is not None:
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
            drift_category = category(p_adj, ks_cfg if c.stats.get("test", "").startswith("ks") else chi_cfg)
            severity = SEVERITY_OF_CATEGORY[drift_category]
            if severity == "info":
                continue
            if not c.effect_ok:
                self.below_effect.append((c.rule, seg_id(c.segment), c.feature))
                continue
            if c.severity_cap == "warning":
                severity = "warning"
            c.stats.update(p_adjusted=p_adj, tests=m, category=drift_category)
            kept.append((c, severity, p_adj))
            if c.rule == "score_shift":
                shifted.add((c.segment, c.feature))
        for c, severity, p_adj in kept:
            if c.rule == "distribution_drift" and (c.segment, c.feature) in shifted:
                continue  # the score_shift finding says it (with the numbers that matter for a score)
            self.findings.append(Finding(c.rule, severity, c.segment[0], c.segment[1], c.feature, round(float(c.score), 4),
                                         c.message, c.action, ANNOTATIONS[c.rule], c.baseline, c.current, self.current,
                                         None, c.stats, c.selector))
        return tests


def rank(f: Finding) -> tuple:
    return (SEVERITIES.index(f.severity), -f.score, (f.segment_key, f.segment_value) != OVERALL,
            f.rule, f.segment_key, f.segment_value, f.feature)


def _relative(rel: float) -> str:
    return "new" if math.isinf(rel) else f"{rel:+.0%}"


def _tail(feature: str, base_col, cur_col, up: Optional[bool] = None) -> Optional[dict]:
    """The selector of the runs in the tail that moved (beyond the KS statistic's point); ``up``
    forces the side (a score whose mean rose: the runs above the point)."""
    cut = tail_cut(base_col, cur_col)
    if cut is None:
        return None
    op, x = cut
    if up is not None:
        op = ">" if up else "<="
    return {"feature": feature, "op": op, "value": x, "score": feature}


def score_action(feature: str, diff: float) -> str:
    """What to do about a score whose mean moved by ``diff``: look at the runs on the side it moved to."""
    if feature.endswith("_similarity"):  # closeness to a theme (refusal, ...): higher is more like it
        theme = feature.removesuffix("_similarity")
        if diff > 0:
            return f"review the most {theme}-like replies (highest {feature}) in Phoenix"
        return f"fewer {theme}-like replies: confirm the prompt or model change behind it"
    if diff < 0:
        return f"review the lowest-{feature} replies in Phoenix"
    return f"{feature} rose: review the highest-{feature} replies to confirm the change is wanted"
