"""The plots of the HTML drift report, drawn with matplotlib on the Agg canvas as base64 PNG.

Each plot marks what it is judged against: the threshold lines (the drift config's refusal-rate
threshold, the metric profiles' score thresholds) and, on time axes, the moment a model version
change first answered. Legends sit outside the axes so they never cover bars or their labels;
time axes use matplotlib's date locator with the concise formatter (no colliding labels).
Every PNG carries a ``Description`` text chunk saying what the plot marks.
"""

from __future__ import annotations

import base64
import io
import math
from datetime import datetime, timedelta
from typing import Any, Optional, Sequence

from .report_data import ModelChange, utc

BASELINE_COLOUR, CURRENT_COLOUR = "#5b7fa6", "#e07b28"
THRESHOLD_COLOUR, CHANGE_COLOUR = "#c62828", "#6a1b9a"
MASKED_COLOUR = "#e6e6e6"
MIN_CELL_INCHES = 0.22   # narrower heatmap cells get no n written in them


def png(fig: Any, description: str = "") -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Description": description} if description else None)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def figure(width: float, height: float) -> Any:
    # a bare Figure draws on the Agg canvas: no pyplot, no global backend switch, thread-safe
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def short(label: str, width: int = 40) -> str:
    return label if len(label) <= width else label[:width - 1] + "…"


def percent_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:.1%}" if v < 0.1 else f"{v:.0%}")


def _legend_below(fig: Any, ax: Any) -> None:
    """The legend under the axes, outside them: it can cover no bar and no label."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(handles), 3), fontsize=8, frameon=False)


def _naive(value: datetime) -> datetime:
    return utc(value).replace(tzinfo=None)


def _date_axis(ax: Any) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _mark_changes(ax: Any, changes: Sequence[ModelChange], x: Any = _naive) -> float:
    """A dotted vertical line at each model version change, labelled just above the axes (outside
    them: the label covers no data). Returns the title padding (points) that keeps clear of them."""
    for i, change in enumerate(changes):
        at = x(change.at)
        ax.axvline(at, color=CHANGE_COLOUR, linestyle=":", linewidth=1.6)
        ax.annotate(f"{change.label} from {change.at:%m-%d %H:%M}", xy=(at, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(0, 2 + 10 * i), textcoords="offset points", ha="center", va="bottom", fontsize=7,
                    color=CHANGE_COLOUR)
    return 6.0 + 10 * len(changes)


def is_flag(*metrics: Any) -> bool:
    """A 0/1 feature: every sketch's min and max are 0 or 1."""
    present = [m for m in metrics if m is not None]
    return bool(present) and all(m.kll.value.get_min_value() in (0, 1) and m.kll.value.get_max_value() in (0, 1)
                                 for m in present)


def numeric_plot(feature: str, title: str, baseline: Any, current: Any,
                 thresholds: Sequence[float] = ()) -> Optional[str]:
    """Baseline vs current histograms (share of runs per bin) from two KLL distribution metrics,
    with a vertical line at each threshold of the feature."""
    metrics = [m for m in (baseline, current) if m is not None]
    if not metrics:
        return None
    lo = min(m.kll.value.get_min_value() for m in metrics)
    hi = max(m.kll.value.get_max_value() for m in metrics)
    integral = lo == math.floor(lo) and hi == math.floor(hi) and hi - lo <= 40
    if hi == lo:
        edges = [lo - 0.5, lo + 0.5]
    elif integral:
        edges = [lo - 0.5 + k for k in range(int(hi - lo) + 2)]
    else:
        edges = [lo + (hi - lo) * k / 30 for k in range(31)]
    fig = figure(5.2, 3.1)
    ax = fig.add_subplot()
    for metric, colour, name in ((baseline, BASELINE_COLOUR, "baseline"), (current, CURRENT_COLOUR, "current")):
        if metric is None:
            continue
        pmf = metric.kll.value.get_pmf(edges[1:-1]) if len(edges) > 2 else [1.0]
        widths = [edges[i + 1] - edges[i] for i in range(len(edges) - 1)]
        ax.bar(edges[:-1], pmf, width=widths, align="edge", alpha=0.5, color=colour, edgecolor=colour,
               label=f"{name} (n={metric.n:,}, mean={metric.mean.value:.3g})")
    for value in thresholds:
        ax.axvline(value, color=THRESHOLD_COLOUR, linestyle="--", linewidth=1.2, label=f"threshold {value:g}")
    ax.set_title(short(title, 70), fontsize=10)
    ax.set_xlabel(feature)
    ax.set_ylabel("share of runs")
    _legend_below(fig, ax)
    marks = ", ".join(f"{v:g}" for v in thresholds)
    return png(fig, f"{title}; threshold {marks}" if marks else title)


def rates_plot(feature: str, title: str, rows: Sequence[tuple[str, Any, Any]],
               threshold: Optional[float] = None) -> str:
    """A 0/1 feature (a flag): the share of runs with 1, baseline vs current, one pair of bars per
    ``(label, baseline metric, current metric)`` row (e.g. per segment), and a vertical line at
    ``threshold`` (a rate above it can alert)."""
    fig = figure(5.2, 1.3 + 0.55 * len(rows))
    ax = fig.add_subplot()
    top = max(0.001, threshold or 0.0)
    for i, (_, baseline, current) in enumerate(rows):
        for metric, colour, name, dy in ((baseline, BASELINE_COLOUR, "baseline", -0.2),
                                         (current, CURRENT_COLOUR, "current", 0.2)):
            if metric is None:
                continue
            rate = float(metric.mean.value)
            top = max(top, rate)
            bar = ax.barh([i + dy], [rate], height=0.4, color=colour, label=name if i == 0 else None)
            ax.bar_label(bar, labels=[f"{rate:.2%} (n={metric.n:,})"], padding=3, fontsize=7,
                         bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.4, "alpha": 0.85}, zorder=4)
    if threshold is not None:
        ax.axvline(threshold, color=THRESHOLD_COLOUR, linestyle="--", linewidth=1.2,
                   label=f"alert threshold {threshold:.1%}")
    ax.set_yticks(range(len(rows)), [short(label or feature, 34) for label, _, _ in rows], fontsize=8)
    ax.set_xlim(0, top * 1.5)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(percent_formatter())
    ax.set_xlabel(f"share of runs with {feature} = 1")
    ax.set_title(short(title, 70), fontsize=10)
    _legend_below(fig, ax)
    return png(fig, title + (f"; alert threshold {threshold:.1%}" if threshold is not None else ""))


def categorical_plot(feature: str, title: str, baseline: dict[str, float], current: dict[str, float],
                     top: int = 10) -> Optional[str]:
    """Baseline vs current shares of the most frequent values (horizontal bars)."""
    values = sorted(set(baseline) | set(current), key=lambda v: -max(baseline.get(v, 0), current.get(v, 0)))[:top]
    if not values:
        return None
    fig = figure(5.2, 0.9 + 0.4 * len(values))
    ax = fig.add_subplot()
    ys = list(range(len(values)))
    ax.barh([y - 0.2 for y in ys], [baseline.get(v, 0) for v in values], height=0.4, color=BASELINE_COLOUR,
            label="baseline")
    ax.barh([y + 0.2 for y in ys], [current.get(v, 0) for v in values], height=0.4, color=CURRENT_COLOUR,
            label="current")
    ax.set_yticks(ys, [short(v, 56) for v in values], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("share of runs")
    ax.set_title(short(title, 70), fontsize=10)
    _legend_below(fig, ax)
    return png(fig, title)


def heatmap_plot(rows: list[str], days: list[datetime], rates: list[list[Optional[float]]], counts: list[list[int]],
                 current_start: datetime, key: str, min_n: int, changes: Sequence[ModelChange] = ()) -> tuple[str, bool]:
    """Refusal rate per category (rows) × day (columns) with the number of runs in each cell;
    cells with fewer than ``min_n`` runs are greyed out (their rate says little). Returns the PNG
    and whether each cell's n is written in it (not when the cells are too narrow)."""
    import matplotlib.dates as mdates
    import numpy as np
    from matplotlib import colormaps

    values = np.array([[math.nan if r is None or n < min_n else r for r, n in zip(row, ns, strict=True)]
                       for row, ns in zip(rates, counts, strict=True)], dtype=float)
    data = np.ma.masked_invalid(values)
    width = min(2.8 + 0.3 * len(days), 14)
    fig = figure(width, 1.5 + 0.34 * len(rows))
    ax = fig.add_subplot()
    cmap = colormaps["Reds"].with_extremes(bad=MASKED_COLOUR)
    vmax = max(float(data.max()) if data.count() else 0.0, 0.01)
    x0, x1 = mdates.date2num(_naive(days[0])), mdates.date2num(_naive(days[-1] + timedelta(days=1)))
    image = ax.imshow(data, aspect="auto", cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest",
                      extent=(x0, x1, len(rows) - 0.5, -0.5))
    ax.set_yticks(range(len(rows)), [short(r, 30) for r in rows], fontsize=8)
    _date_axis(ax)
    written = (width - 2.8) / max(len(days), 1) >= MIN_CELL_INCHES
    if written:
        for i, ns in enumerate(counts):
            for j, n in enumerate(ns):
                if n:
                    dark = not np.ma.is_masked(data[i, j]) and data[i, j] > 0.6 * vmax
                    ax.text(x0 + j + 0.5, i, f"{n}", ha="center", va="center", fontsize=6,
                            color="white" if dark else ("#888888" if n < min_n else "#333333"))
    start = mdates.date2num(_naive(current_start))
    if x0 < start < x1:
        ax.axvline(start, color="black", linewidth=1.5, linestyle="--")
    pad = _mark_changes(ax, changes, lambda at: mdates.date2num(_naive(at)))
    ax.set_title(f"refusal rate by {key} and day — dashed: current window starts", fontsize=10, pad=pad)
    bar = fig.colorbar(image, ax=ax, fraction=0.03)
    bar.ax.yaxis.set_major_formatter(percent_formatter())
    return png(fig, f"refusal rate by {key} and day; cells with fewer than {min_n} runs masked"), written


def series_plot(days: list[datetime], series: dict[str, list[Optional[float]]], baseline: Sequence[datetime],
                current: Sequence[datetime], ylabel: str, title: str, percent: bool = False,
                thresholds: Sequence[tuple[float, str]] = (), changes: Sequence[ModelChange] = ()) -> Optional[str]:
    """Daily means, one line per series, with the baseline and current windows shaded, a
    horizontal line per ``(value, label)`` threshold and a vertical one per model version change."""
    if not any(v is not None for values in series.values() for v in values):
        return None
    fig = figure(9, 3.4)
    ax = fig.add_subplot()
    ax.axvspan(_naive(baseline[0]), _naive(baseline[1]), color=BASELINE_COLOUR, alpha=0.12, label="baseline window")
    ax.axvspan(_naive(current[0]), _naive(current[1]), color=CURRENT_COLOUR, alpha=0.15, label="current window")
    for name, values in series.items():
        points = [(_naive(d + timedelta(hours=12)), v) for d, v in zip(days, values, strict=True) if v is not None]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, label=name)
    for value, label in thresholds:
        ax.axhline(value, color=THRESHOLD_COLOUR, linestyle="--", linewidth=1.2, label=label)
    pad = _mark_changes(ax, changes)
    _date_axis(ax)
    if percent:  # a rate: from 0, with room for the threshold and when it stayed at 0
        top = max([v for values in series.values() for v in values if v is not None] + [0.005]
                  + [value for value, _ in thresholds])
        ax.set_ylim(0, top * 1.15)
        ax.yaxis.set_major_formatter(percent_formatter())
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10, pad=pad)
    _legend_below(fig, ax)
    marks = "; ".join(label for _, label in thresholds)
    return png(fig, f"{title}; {marks}" if marks else title)
