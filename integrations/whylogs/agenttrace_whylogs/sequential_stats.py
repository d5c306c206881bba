"""The statistics of the fast rules, on plain counts (no whylogs): a one-sided Bernoulli CUSUM of
a 0/1 flag (refusals, errors) per profile window against a baseline rate, its threshold for a
target false-alarm rate, and the evaluation of one stream (a segment's windows) that both
:mod:`.sequential` (counts read from the profile store) and :mod:`.sequential_sim` (simulated
counts) call.

Method. A window ``t`` has ``n_t`` runs, ``k_t`` of them flagged. In control the flag is
Bernoulli(p0), p0 the baseline rate (an upper credible bound of it, see :func:`baseline_rate`); the change to detect is a rise to the design rate
``p1 = max(p0 × rel, p0 + abs)``. The window's log-likelihood ratio is
``Z_t = k_t·ln(p1/p0) + (n_t − k_t)·ln((1−p1)/(1−p0))`` and the CUSUM is
``S_t = max(0, S_{t−1} + Z_t)``, ``S_0 = 0``; it alarms while ``S_t ≥ h`` (Page 1954; the
Bernoulli CUSUM of Reynolds & Stoumbos 1999, on window counts). The last window where ``S`` was 0
before the alarm is the CUSUM's estimate of when the change began.

Threshold. ``h`` is the smallest value whose in-control average run length (ARL0, in windows, at
the baseline's mean runs per window) reaches ``false_alarm_years`` × windows per year × the number
of streams monitored (a union bound: the streams together raise at most one false alarm per
``false_alarm_years`` on average). ARL0 is computed with the Markov chain of Brook & Evans (1972):
``[0, h)`` cut into ``bins`` states, the window increments binomial (``scipy.stats.binom``), the
expected steps to absorption from ``S = 0`` solved as one linear system; ``h`` by bisection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Optional, Sequence

import numpy as np
from scipy import stats as sps

YEAR_SECONDS = 365.25 * 86400.0


@dataclass
class SequentialConfig:
    """Windows and parameters of the fast rules (see the module docstrings)."""

    baseline: timedelta = timedelta(days=30)   # the baseline: this long, ending where the scan starts
    scan: timedelta = timedelta(hours=24)      # the CUSUM runs over the windows of the last `scan` (stateless)
    rel: float = 2.0                 # design rise: p1 = max(p0 × rel, p0 + abs_rise)
    abs_rise: float = 0.015
    false_alarm_years: float = 10.0  # per feature: at most one false alarm per this many years, all streams together
    min_baseline_runs: int = 200     # fewer baseline runs in a stream → that stream is not tested
    baseline_quantile: float = 0.9   # p0: this quantile of the baseline rate's Jeffreys posterior
    bins: int = 200                  # states of the Markov chain that sets h
    segment_keys: Sequence[str] = ("request_model",)   # streams: overall + each value of these keys
    features: Sequence[str] = ("refusal_flagged", "error", "retry_exhausted")  # 0/1 flags tested
    model_versions: bool = True      # also report model version changes (first run of a new version)
    model_window: timedelta = timedelta(days=7)  # a version is new while the 30 days before this window never had it


def baseline_rate(events: float, runs: float, quantile: float = 0.9) -> float:
    """The in-control rate: the ``quantile`` of the Jeffreys posterior Beta(k + ½, n − k + ½) of the
    baseline's rate. Never 0 (a baseline without one refusal still has a rate), and on a small
    baseline a little above its observed rate, so that an underestimate of p0 does not turn into
    false alarms (with 720,000 baseline runs at 0.5% it is 2% above the observed rate)."""
    events = min(max(events, 0.0), runs)
    return float(sps.beta.ppf(quantile, events + 0.5, runs - events + 0.5))


def design_rate(p0: float, rel: float, abs_rise: float) -> float:
    """The rate the CUSUM is tuned to detect: max(p0 × rel, p0 + abs_rise), below 1."""
    return min(max(p0 * rel, p0 + abs_rise), 0.5 * (1.0 + p0))


def llr_weights(p0: float, p1: float) -> tuple[float, float]:
    """(per flagged run, per run): a window's log-likelihood ratio is k·a − n·b."""
    a = math.log(p1 / p0) - math.log((1.0 - p1) / (1.0 - p0))
    b = math.log((1.0 - p0) / (1.0 - p1))
    return a, b


def cusum(events: Sequence[float], runs: Sequence[float], p0: float, p1: float) -> np.ndarray:
    """The CUSUM path S_1..S_T of per-window counts (S_0 = 0)."""
    a, b = llr_weights(p0, p1)
    z = np.asarray(events, dtype=float) * a - np.asarray(runs, dtype=float) * b
    out = np.empty(len(z))
    s = 0.0
    for i, step in enumerate(z):
        s = max(0.0, s + step)
        out[i] = s
    return out


def arl0(h: float, p0: float, p1: float, n: int, bins: int = 200) -> float:
    """In-control average run length, in windows, of the CUSUM with threshold ``h`` when each window
    has ``n`` runs flagged with probability ``p0`` (Brook–Evans Markov chain, ``bins`` states)."""
    a, b = llr_weights(p0, p1)
    hi = int(sps.binom.isf(1e-15, n, p0)) + 1
    ks = np.arange(0, min(n, hi) + 1)
    pk = sps.binom.pmf(ks, n, p0)
    w = h / bins
    values = np.concatenate([[0.0], (np.arange(1, bins + 1) - 0.5) * w])  # state 0: S = 0; state j: bin j's midpoint
    q = np.zeros((bins + 1, bins + 1))
    for k, p in zip(ks, pk):
        v = values + k * a - n * b
        inside = v < h
        to = np.where(v <= 0, 0, np.minimum(np.floor(v / w).astype(int) + 1, bins))
        np.add.at(q, (np.flatnonzero(inside), to[inside]), p)
    steps = np.linalg.solve(np.eye(bins + 1) - q, np.ones(bins + 1))
    return float(steps[0])


def _round(x: float, digits: int = 2) -> float:
    return float(f"{x:.{digits - 1}e}") if x > 0 else 0.0


@lru_cache(maxsize=4096)
def _threshold(p0: float, p1: float, n: int, target: float, bins: int) -> float:
    lo, hi = 0.0, 1.0
    while arl0(hi, p0, p1, n, bins) < target:
        lo, hi = hi, hi * 2
        if hi > 1e4:
            return hi
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if arl0(mid, p0, p1, n, bins) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 0.01:
            break
    return hi


def threshold(p0: float, p1: float, runs_per_window: float, target_windows: float, bins: int = 200) -> float:
    """The smallest h (to 0.01) with ARL0 ≥ ``target_windows``. Inputs are rounded to 2 significant
    digits (h hardly moves with them) so that passes over similar traffic reuse the result."""
    n = max(1, int(round(_round(runs_per_window))))
    return _threshold(_round(p0), _round(p1), n, float(_round(target_windows)), bins)


def target_windows(window: timedelta, cfg: SequentialConfig, streams: int) -> float:
    """ARL0 (in windows) each stream needs: false_alarm_years of windows, times the streams."""
    return cfg.false_alarm_years * YEAR_SECONDS / window.total_seconds() * max(1, streams)


@dataclass
class StreamResult:
    """One stream's test in one pass."""

    alarm: bool              # S at the last window ≥ h
    statistic: float         # S at the last window
    h: float
    p0: float                # baseline rate
    p1: float                # design rate
    path: list[float] = field(default_factory=list)   # S per scanned window
    since: Optional[int] = None   # index of the first window of the current excursion (S > 0 from there on)
    crossed: Optional[int] = None  # index of the first window with S ≥ h in the current excursion
    events: int = 0          # flagged runs and runs in the scanned windows since `since` (all when no excursion)
    runs: int = 0
    base_events: int = 0
    base_runs: int = 0


def evaluate(events: Sequence[float], runs: Sequence[float], base_events: float, base_runs: float,
             base_windows: int, window: timedelta, cfg: SequentialConfig, streams: int) -> Optional[StreamResult]:
    """Test one stream: the scanned windows' counts (oldest first) against the baseline's totals
    (``base_windows``: baseline windows that had runs). ``None`` when the baseline is too small."""
    if base_runs < cfg.min_baseline_runs or base_windows <= 0 or not len(events):
        return None
    p0 = baseline_rate(base_events, base_runs, cfg.baseline_quantile)
    p1 = design_rate(p0, cfg.rel, cfg.abs_rise)
    h = threshold(p0, p1, base_runs / base_windows, target_windows(window, cfg, streams), cfg.bins)
    path = cusum(events, runs, p0, p1)
    last = float(path[-1])
    since = crossed = None
    if last > 0:
        zeros = np.flatnonzero(path <= 0)
        since = int(zeros[-1]) + 1 if len(zeros) else 0
        above = np.flatnonzero(path[since:] >= h)
        crossed = since + int(above[0]) if len(above) else None
    lo = since if since is not None else 0
    return StreamResult(last >= h, last, h, p0, p1, [float(x) for x in path], since, crossed,
                        int(round(sum(events[lo:]))), int(round(sum(runs[lo:]))), int(round(base_events)), int(round(base_runs)))
