"""Statistics on whylogs column profiles: distributions, rates, value counts and the tests the
drift rules run on them."""

from __future__ import annotations

import math
import warnings
from typing import Any, Optional

from scipy import stats as sps
from whylogs.core.view import ColumnProfileView
from whylogs.viz.drift.column_drift_algorithms import KS, Hellinger
from whylogs.viz.drift.configs import DriftThresholds


def category(p: float, thresholds: DriftThresholds) -> str:
    """whylogs' drift category of a p-value (its thresholds: DRIFT [0, 0.05), POSSIBLE_DRIFT [0.05, 0.15))."""
    lo, hi = thresholds.DRIFT
    if lo <= p < hi:
        return "DRIFT"
    if thresholds.POSSIBLE_DRIFT and thresholds.POSSIBLE_DRIFT[0] <= p < thresholds.POSSIBLE_DRIFT[1]:
        return "POSSIBLE_DRIFT"
    return "NO_DRIFT"


def distribution_of(col: Optional[ColumnProfileView]):
    metric = col.get_metric("distribution") if col is not None else None
    return metric if metric is not None and not metric.kll.value.is_empty() else None


def numeric_stats(col: Optional[ColumnProfileView]) -> dict:
    dist = distribution_of(col)
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


def value_counts(col: Optional[ColumnProfileView]) -> tuple[dict[str, int], int]:
    """(value → count from the frequent-items sketch, non-null rows)."""
    if col is None:
        return {}, 0
    fi, counts = col.get_metric("frequent_items"), col.get_metric("counts")
    if fi is None or counts is None:
        return {}, 0
    total = int(counts.n.value - counts.null.value)
    items = fi.to_summary_dict()["frequent_strings"]
    return {str(i.value): int(i.est) for i in items}, total


def top_values(values: dict[str, int], total: int, k: int = 5) -> list[list]:
    return [[v, c, c / total if total else 0.0] for v, c in sorted(values.items(), key=lambda x: -x[1])[:k]]


def is_binary(*cols: Optional[ColumnProfileView]) -> bool:
    """True when every value is 0 or 1 (no mass strictly between them)."""
    for col in cols:
        dist = distribution_of(col)
        if dist is None:
            continue
        if dist.min < 0 or dist.max > 1:
            return False
        lo, hi = dist.kll.value.get_cdf([1e-9, 1.0])[:2]
        if hi - lo > 1e-12:
            return False
    return True


def rate_of(col: Optional[ColumnProfileView]) -> tuple[int, int, float]:
    dist = distribution_of(col)
    if dist is None:
        return 0, 0, 0.0
    n = int(dist.n)
    k = int(round(dist.avg * n))
    return k, n, (k / n if n else 0.0)


def chi2_homogeneity(base: dict[str, int], base_total: int, cur: dict[str, int], cur_total: int) -> tuple[float, float, int, float]:
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


def ks_test(base_col, cur_col) -> tuple[Optional[float], Optional[float], Optional[float]]:
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


def fmt(x: Optional[float]) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.4g}"


def pfmt(p: float) -> str:
    return "p<1e-12" if p < 1e-12 else f"p={p:.2g}"


def tail_cut(base_col: Optional[ColumnProfileView], cur_col: Optional[ColumnProfileView]) -> Optional[tuple[str, float]]:
    """Where the two distributions differ most (the KS statistic's point x): ``(">", x)`` when the
    current values moved above it (fewer current values ≤ x than in the baseline), ``("<=", x)``
    when they moved below; the runs on that side of x are the tail that moved. None when a side
    has no distribution."""
    base, cur = distribution_of(base_col), distribution_of(cur_col)
    if base is None or cur is None:
        return None
    levels = [i / 100 for i in range(101)]
    points = sorted(set(base.kll.value.get_quantiles(levels)) | set(cur.kll.value.get_quantiles(levels)))
    cdf_b = base.kll.value.get_cdf(points, inclusive=True)
    cdf_c = cur.kll.value.get_cdf(points, inclusive=True)
    gap, x = max((abs(c - b), -i) for i, (b, c) in enumerate(zip(cdf_b, cdf_c)))
    i = -x
    return (">" if cdf_c[i] < cdf_b[i] else "<="), float(points[i])


def grown_values(base: dict[str, int], base_total: int, cur: dict[str, int], cur_total: int,
                 mass: float = 0.8) -> list[list]:
    """The values whose share grew (new ones included), largest growth first, as
    ``[value, baseline share, current share]``: the fewest that carry ``mass`` of the total growth,
    leaving out values that grew less than a quarter as much as the first (sampling noise)."""
    growth = sorted(((cur.get(v, 0) / cur_total - base.get(v, 0) / base_total, v) for v in set(base) | set(cur)),
                    key=lambda g: (-g[0], g[1]))
    growth = [(g, v) for g, v in growth if g > 0]
    total, out, acc = sum(g for g, _ in growth), [], 0.0
    for g, v in growth:
        if out and (acc >= mass * total or g < growth[0][0] / 4):  # the rest is noise beside the main growth
            break
        out.append([v, base.get(v, 0) / base_total, cur.get(v, 0) / cur_total])
        acc += g
    return out
