"""``score_shift``: an evaluation score's mean moved by ≥ ``score_shift_sd`` baseline standard
deviations, significantly (Welch z-test on the profiles' means and variances)."""

from __future__ import annotations

import math

from scipy import stats as sps

from .rule_base import MAX_SCORE, Candidate, SegmentInput, is_score, kind, tail


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


class ScoreShift:
    name = "score_shift"

    def evaluate(self, inp: SegmentInput) -> list[Candidate]:
        return [c for f in inp.names if is_score(f) and kind(f, inp) == "numeric" for c in self._one(inp, f)]

    def _one(self, inp: SegmentInput, feature: str) -> list[Candidate]:
        cfg = inp.config
        base_col, cur_col = inp.base[feature], inp.cur[feature]
        stats = inp.enough(feature, base_col, cur_col)
        if stats is None:
            return []
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
        return [Candidate(self.name, inp.segment, feature, p, abs(shift) >= cfg.score_shift_sd, score, message,
                          score_action(feature, diff), bs, cs, st,
                          selector=tail(feature, base_col, cur_col, up=diff > 0))]
