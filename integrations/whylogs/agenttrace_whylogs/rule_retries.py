"""``retries``: retry amplification (attempts per logical model call) and the exhausted-retry rate
of a segment against its baseline. Only rises are reported: a segment that retries more, or gives
up more often, than it used to. A segment with no retries on either side makes no test.

- amplification = attempts / logical calls, from the profiles' sums: attempts = ``llm_calls``
  (failed attempts included), logical calls = attempts − ``retry_count``; without ``llm_calls``
  one logical call per run is assumed. The test: one-sided Welch z-test on the mean of
  ``retry_count`` per run; the effect: the relative rise of the amplification (≥ ``amplification_rel``).
- exhausted rate = mean of ``retry_exhausted``: one-sided Fisher exact test; the effect as for
  other 0/1 rates (≥ ``rate_rel`` relative and ≥ ``rate_abs`` absolute).

A retries finding replaces the ``distribution_drift`` finding of the feature it covers
(``retry_count``, ``retry_exhausted``) in that segment."""

from __future__ import annotations

import math
from typing import Optional

from scipy import stats as sps

from .rule_base import MAX_SCORE, Candidate, SegmentInput, relative
from .stats import distribution_of, numeric_stats, rate_of

# the finding's feature → the profile features whose distribution_drift finding it replaces
COVERS = {"retry_amplification": ("retry_count",), "retry_exhausted_rate": ("retry_exhausted",)}
ACTION = ("retries rose: run `agenttrace retries` to see the failures by cause (rate limits and 5xx → backoff "
          "with jitter, fewer concurrent calls; content-policy errors → fix the prompt or input, do not retry)")


def amplification(retries: float, attempts: Optional[float], runs: float) -> float:
    """Attempts per logical call from sums over ``runs`` runs (see the module docstring)."""
    if attempts is not None and attempts > retries:
        return attempts / (attempts - retries)
    return (runs + retries) / runs if runs else 1.0


def _sums(cols: dict) -> tuple[float, Optional[float], int]:
    """(retries, attempts or None, runs) from a segment's columns."""
    r = numeric_stats(cols.get("retry_count"))
    runs = int(r["n"])
    attempts = None
    if distribution_of(cols.get("llm_calls")) is not None:
        a = numeric_stats(cols["llm_calls"])
        attempts = a["mean"] * a["n"]
    return (r.get("mean", 0.0) * runs, attempts, runs)


class Retries:
    name = "retries"

    def evaluate(self, inp: SegmentInput) -> list[Candidate]:
        if "retry_count" not in inp.names:
            return []
        out = self._amplification(inp)
        if "retry_exhausted" in inp.names:
            out += self._exhausted(inp)
        return out

    def _amplification(self, inp: SegmentInput) -> list[Candidate]:
        cfg = inp.config
        stats = inp.enough("retry_count", inp.base["retry_count"], inp.cur["retry_count"])
        if stats is None:
            return []
        bs, cs = stats
        if bs.get("max", 0.0) <= 0 and cs.get("max", 0.0) <= 0:
            return []  # no retries on either side: nothing to compare
        (rb, ab, nb), (rc, ac, nc) = _sums(inp.base), _sums(inp.cur)
        amp_b, amp_c = amplification(rb, ab, nb), amplification(rc, ac, nc)
        diff = cs["mean"] - bs["mean"]
        se = math.sqrt(bs["stddev"] ** 2 / bs["n"] + cs["stddev"] ** 2 / cs["n"])
        z = diff / se if se > 0 else (math.inf if diff > 0 else 0.0)
        p = float(sps.norm.sf(z)) if math.isfinite(z) else (0.0 if diff > 0 else 1.0)
        rel = amp_c / amp_b - 1 if amp_b > 0 else math.inf
        bs.update(amplification=amp_b, retries=rb, attempts=ab)
        cs.update(amplification=amp_c, retries=rc, attempts=ac)
        st = {"test": "welch z-test on retries per run (one-sided, current > baseline)", "statistic": z, "p": p,
              "effect": rel, "threshold": cfg.amplification_rel}
        message = (f"attempts per call {amp_b:.2f} → {amp_c:.2f} ({relative(rel)}; retries per run "
                   f"{bs['mean']:.2f} → {cs['mean']:.2f})")
        score = min(MAX_SCORE, rel / cfg.amplification_rel) if cfg.amplification_rel > 0 and rel > 0 else 0.0
        return [Candidate(self.name, inp.segment, "retry_amplification", p, rel >= cfg.amplification_rel, score,
                          message, ACTION, bs, cs, st,
                          selector={"feature": "retry_count", "op": ">=", "value": 1, "score": "retry_count"})]

    def _exhausted(self, inp: SegmentInput) -> list[Candidate]:
        cfg = inp.config
        kb, nb, rb = rate_of(inp.base["retry_exhausted"])
        kc, nc, rc = rate_of(inp.cur["retry_exhausted"])
        if nb < cfg.min_rows or nc < cfg.min_rows or kb + kc == 0:
            return []
        p = float(sps.fisher_exact([[kc, nc - kc], [kb, nb - kb]], alternative="greater")[1])
        rel = (rc - rb) / rb if rb > 0 else (math.inf if rc > 0 else 0.0)
        ok = rel >= cfg.rate_rel and rc - rb >= cfg.rate_abs
        st = {"test": "fisher exact (one-sided, current > baseline)", "p": p, "effect": rel, "threshold": cfg.rate_rel,
              "abs_change": rc - rb}
        message = f"exhausted retries {rb:.2%} → {rc:.2%} of runs ({relative(rel)}; {kb}/{nb} → {kc}/{nc})"
        score = min(MAX_SCORE, rel / cfg.rate_rel) if cfg.rate_rel > 0 and rel > 0 else 0.0
        return [Candidate(self.name, inp.segment, "retry_exhausted_rate", p, ok, score, message, ACTION,
                          {"n": nb, "exhausted": kb, "rate": rb}, {"n": nc, "exhausted": kc, "rate": rc}, st,
                          selector={"feature": "retry_exhausted", "op": ">=", "value": 1, "score": "retry_count"})]
