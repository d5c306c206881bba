"""Windows and thresholds of a drift run, and the one-line error of bad input."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Optional, Sequence


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
    amplification_rel: float = 0.2     # retries rule: relative rise of attempts per logical call needed (+20%)
    adjust: bool = True                 # Bonferroni-adjust p-values for the number of tests in the run
    golden_suites: Sequence[Any] = ()   # golden_action.GoldenSuite: the suites a model version change's action runs
