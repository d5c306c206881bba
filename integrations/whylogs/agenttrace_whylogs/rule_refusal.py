"""``refusal_rate``: the rate of runs with a flagged reply above ``refusal_abs``, rising (one-sided
Fisher exact test) or standing (one-sided binomial test against ``refusal_abs``)."""

from __future__ import annotations

import math

from scipy import stats as sps

from .rule_base import MAX_SCORE, Candidate, SegmentInput, kind, relative
from .stats import rate_of

# the runs a refusal-rate finding concerns: those with a flagged reply; their score is the refusal
# detector's score when the runs have it (agenttrace-langkit's refusal_score), else LangKit's similarity
REFUSED_RUNS = {"feature": "refusal_flagged", "op": ">=", "value": 1, "score": "refusal_similarity"}
REFUSAL_SCORES = ("refusal_score", "refusal_similarity")


class RefusalRate:
    name = "refusal_rate"

    def evaluate(self, inp: SegmentInput) -> list[Candidate]:
        if "refusal_flagged" not in inp.names or kind("refusal_flagged", inp) != "refusal":
            return []
        run_score = next((s for s in REFUSAL_SCORES if s in inp.cur), REFUSED_RUNS["score"])
        cfg = inp.config
        kb, nb, rb = rate_of(inp.base["refusal_flagged"])
        kc, nc, rc = rate_of(inp.cur["refusal_flagged"])
        if nb < cfg.min_rows or nc < cfg.min_rows:
            return []
        if rc <= cfg.refusal_abs:  # looked at (it counts for the adjustment), nothing to report
            inp.quiet_tests["refusal_rate"] = inp.quiet_tests.get("refusal_rate", 0) + 1
            return []
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
            message = f"refusal rate {rb:.1%} → {rc:.1%} ({relative(rel)}; {kb}/{nb} → {kc}/{nc} runs)"
        else:
            message = f"refusal rate {rc:.1%} ({kc}/{nc} runs), above {cfg.refusal_abs:.1%} but not rising (was {rb:.1%})"
        score = min(MAX_SCORE, rel / cfg.refusal_audit_rel) if rising and cfg.refusal_audit_rel > 0 else rc / cfg.refusal_abs / 10
        return [Candidate(self.name, inp.segment, "refusal_flagged", p, True, min(MAX_SCORE, score), message,
                          action, bs, cs, st, severity_cap="alert" if rising else "warning",
                          selector={**REFUSED_RUNS, "score": run_score})]
