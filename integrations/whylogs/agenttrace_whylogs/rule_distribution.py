"""``distribution_drift``: numeric features by KS (0/1 features as rates, Fisher exact),
categorical ones by chi-squared on their frequent items. The tests are shared with
``trajectory_shape`` (:func:`numeric`, :func:`categorical`)."""

from __future__ import annotations

import math

from scipy import stats as sps

from .rule_base import MAX_SCORE, Candidate, SegmentInput, kind, relative, tail
from .stats import chi2_homogeneity, fmt, grown_values, is_binary, ks_test, rate_of, top_values, value_counts

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


def numeric(inp: SegmentInput, rule: str, feature: str) -> list[Candidate]:
    cfg, seg = inp.config, inp.segment
    base_col, cur_col = inp.base[feature], inp.cur[feature]
    stats = inp.enough(feature, base_col, cur_col)
    if stats is None:
        return []
    bs, cs = stats
    if is_binary(base_col, cur_col):
        return [rate(inp, rule, feature, bs, cs)]
    p, d, hel = ks_test(base_col, cur_col)
    if p is None:
        return []
    action = ACTIONS.get(feature, "review what changed for this segment (prompt, tools, traffic mix)")
    if rule == "trajectory_shape":
        action = "review the agent's steps in Phoenix: prompt, tool descriptions or routing changed?"
    st = {"test": "ks (whylogs)", "statistic": d, "p": p, "hellinger": hel, "effect": d, "threshold": cfg.min_ks_statistic}
    message = (f"median {fmt(bs.get('median'))} → {fmt(cs.get('median'))}, mean {fmt(bs.get('mean'))} → "
               f"{fmt(cs.get('mean'))} (KS D {d:.2f})")
    return [Candidate(rule, seg, feature, p, d >= cfg.min_ks_statistic, d / cfg.min_ks_statistic,
                      message, action, bs, cs, st, selector=tail(feature, base_col, cur_col))]


def rate(inp: SegmentInput, rule: str, feature: str, bs: dict, cs: dict) -> Candidate:
    cfg = inp.config
    kb, nb, rb = rate_of(inp.base[feature])
    kc, nc, rc = rate_of(inp.cur[feature])
    bs.update(rate=rb, count=kb)
    cs.update(rate=rc, count=kc)
    p = float(sps.fisher_exact([[kc, nc - kc], [kb, nb - kb]], alternative="two-sided")[1])
    rel = (rc - rb) / rb if rb > 0 else (math.inf if rc > 0 else 0.0)
    ok = abs(rel) >= cfg.rate_rel and abs(rc - rb) >= cfg.rate_abs
    st = {"test": "fisher exact (two-sided)", "p": p, "effect": rel, "threshold": cfg.rate_rel, "abs_change": rc - rb}
    message = f"rate {rb:.2%} → {rc:.2%} ({relative(rel)}; {kb}/{nb} → {kc}/{nc} runs)"
    score = min(MAX_SCORE, abs(rel) / cfg.rate_rel) if cfg.rate_rel > 0 else MAX_SCORE
    # a rate that rose: the runs with the flag show it; one that fell shows on no single run
    selector = {"feature": feature, "op": ">=", "value": 1} if rc > rb else None
    return Candidate(rule, inp.segment, feature, p, ok, score, message,
                     ACTIONS.get(feature, "review the traces with this flag in Phoenix"), bs, cs, st, selector=selector)


def categorical(inp: SegmentInput, rule: str, feature: str) -> list[Candidate]:
    """Chi-squared on the frequent items of both windows."""
    cfg = inp.config
    base, nb = value_counts(inp.base[feature])
    cur, nc = value_counts(inp.cur[feature])
    if nb < cfg.min_rows or nc < cfg.min_rows:
        return []
    chi2, p, dof, tvd = chi2_homogeneity(base, nb, cur, nc)
    if dof == 0:
        return []
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
    return [Candidate(rule, inp.segment, feature, p, tvd >= cfg.min_category_shift, tvd / cfg.min_category_shift,
                      message, action, bs, cs, st, selector=selector)]


class DistributionDrift:
    name = "distribution_drift"

    def evaluate(self, inp: SegmentInput) -> list[Candidate]:
        out: list[Candidate] = []
        for c in inp.names:
            k = kind(c, inp)
            if k == "categorical":
                out += categorical(inp, self.name, c)
            elif k == "numeric":
                out += numeric(inp, self.name, c)
        return out
