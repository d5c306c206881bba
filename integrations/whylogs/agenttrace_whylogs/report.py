"""The HTML drift report: one self-contained page (the terminal table is in ``table``, the JSON
report in ``json_report``).

The HTML page has no external resources (inline CSS, plots as base64 PNG drawn with matplotlib's
Agg canvas, no JavaScript), so it can be mailed, attached to a CI run or opened offline. It shows

- the findings, ranked;
- baseline vs current distributions of every feature with a finding, from the whylogs profiles
  (numeric features: histograms from the KLL sketches; categorical ones: frequent-item shares);
- the refusal rate per category × day (a heatmap; category = the values of one segment key);
- the daily means of the evaluation scores (refusal similarity, relevance) with the baseline and
  current windows shaded.

Everything is computed from the profile store (per-day reads), never from raw spans.
"""

from __future__ import annotations

import base64
import html
import io
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

OVERALL = "*"
SEVERITY_COLOUR = {"alert": "#c62828", "warning": "#b26a00", "info": "#1565c0"}
HEATMAP_KEYS = ("segment", "agent")       # the first of these the store has is the heatmap's category
SCORE_SERIES = ("refusal_similarity", "relevance")
MAX_DISTRIBUTION_PLOTS = 12   # figures in "baseline vs current"
PLOTS_PER_FEATURE = 2         # segments plotted per (non-flag) feature
MAX_RATE_ROWS = 12            # segments in one flag-rate chart
MAX_HEATMAP_ROWS = 25
TOP_FINDINGS = 5
BASELINE_COLOUR, CURRENT_COLOUR = "#5b7fa6", "#e07b28"


# --- formatting -------------------------------------------------------------------------------


def progress_bar(enabled: bool, **kwargs: Any) -> Any:
    """A tqdm bar on stderr (removed when done), or None when disabled or tqdm is not installed."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(leave=False, **kwargs)



def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def format_time(value: Optional[datetime]) -> str:
    """``2026-11-01`` for midnight, else ``2026-11-01 13:00`` (UTC)."""
    if value is None:
        return "-"
    value = _utc(value)
    if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d %H:%M")


def format_range(window: Sequence[datetime]) -> str:
    return f"{format_time(window[0])} → {format_time(window[1])}"


def format_segment(finding: Any) -> str:
    return "all" if finding.segment_key == OVERALL else f"{finding.segment_key}={finding.segment_value}"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or (math.isfinite(value) and float(value).is_integer() and abs(value) < 1e12):
        return f"{int(value):,}"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def format_stats(stats: Optional[dict]) -> str:
    """A finding's baseline/current dict as ``key=value, ...`` (numbers shortened)."""
    if not stats:
        return ""
    return ", ".join(f"{k}={_number(v)}" for k, v in stats.items() if not isinstance(v, (dict, list)))


def header_line(result: Any) -> str:
    return (f"baseline {format_range(result.baseline)} ({result.rows_baseline:,} runs) · "
            f"current {format_range(result.current)} ({result.rows_current:,} runs)")


def severity_counts(findings: Iterable[Any]) -> dict[str, int]:
    counts = {"alert": 0, "warning": 0, "info": 0}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    return counts


# --- reading the profiles ---------------------------------------------------------------------


def _column(view: Any, feature: str) -> Any:
    if view is None:
        return None
    try:
        return view.get_column(feature)
    except Exception:  # noqa: BLE001 - a column the view does not have
        return None


def _distribution(view: Any, feature: str) -> Any:
    col = _column(view, feature)
    metric = col.get_metric("distribution") if col is not None else None
    return metric if metric is not None and metric.n > 0 else None


def mean_of(view: Any, feature: str) -> Optional[float]:
    """The mean of a numeric feature in a profile view, None when it has no values."""
    metric = _distribution(view, feature)
    return float(metric.mean.value) if metric is not None else None


def frequent_shares(view: Any, feature: str) -> dict[str, float]:
    """Estimated share of each frequent value of a categorical feature (``""`` shown as ``(none)``)."""
    col = _column(view, feature)
    if col is None:
        return {}
    items = col.get_metric("frequent_items")
    counts = col.get_metric("counts")
    if items is None or counts is None:
        return {}
    n = counts.n.value - counts.null.value
    if n <= 0:
        return {}
    out: dict[str, float] = {}
    for item in items.to_summary_dict().get("frequent_strings", []):
        out[item.value if item.value != "" else "(none)"] = item.est / n
    return out


class _DayReader:
    """Per-day (UTC) reads of the store, cached: ``mean(day, segment, feature)``."""

    def __init__(self, store: Any, tick: Callable[[], None] = lambda: None):
        self.store, self.tick = store, tick
        self._views: dict[tuple, Any] = {}

    def view(self, day: datetime, segment: Optional[tuple[str, str]]) -> Any:
        key = (day, segment)
        if key not in self._views:
            self._views[key] = self.store.read(day, day + timedelta(days=1), segment=segment)
            self.tick()
        return self._views[key]

    def mean(self, day: datetime, segment: Optional[tuple[str, str]], feature: str) -> Optional[float]:
        return mean_of(self.view(day, segment), feature)


def report_days(result: Any, max_days: int = 120) -> list[datetime]:
    """UTC days from the baseline's start to the current window's end (the last ``max_days``)."""
    first = _utc(min(result.baseline[0], result.current[0])).replace(hour=0, minute=0, second=0, microsecond=0)
    last = _utc(max(result.baseline[1], result.current[1]))
    days = []
    day = first
    while day < last:
        days.append(day)
        day += timedelta(days=1)
    return days[-max_days:]


def heatmap_key(store: Any, key: Optional[str] = None, findings: Sequence[Any] = ()) -> Optional[str]:
    """The segment key of the heatmap's rows: ``key`` if given, else the key of the first refusal
    finding that has one, else ``segment``, else ``agent``, else any key the store has."""
    segments = store.segments()
    if key is not None:
        return key if key in segments else None
    for f in findings:
        if f.feature == "refusal_flagged" and f.segment_key in segments:
            return f.segment_key
    return next((k for k in HEATMAP_KEYS if segments.get(k)), next(iter(segments), None))


# --- plots ------------------------------------------------------------------------------------


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float, height: float) -> Any:
    # a bare Figure draws on the Agg canvas: no pyplot, no global backend switch, thread-safe
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _short(label: str, width: int = 40) -> str:
    return label if len(label) <= width else label[:width - 1] + "…"


def numeric_plot(feature: str, title: str, baseline: Any, current: Any) -> Optional[str]:
    """Baseline vs current histograms (share of runs per bin) from two KLL distribution metrics."""
    metrics = [m for m in (baseline, current) if m is not None]
    if not metrics:
        return None
    lo = min(m.kll.value.get_min_value() for m in metrics)
    hi = max(m.kll.value.get_max_value() for m in metrics)
    integral = lo == math.floor(lo) and hi == math.floor(hi) and hi - lo <= 40
    if _is_flag(baseline, current):
        return rates_plot(feature, title, [("", baseline, current)])
    if hi == lo:
        edges = [lo - 0.5, lo + 0.5]
    elif integral:
        edges = [lo - 0.5 + k for k in range(int(hi - lo) + 2)]
    else:
        edges = [lo + (hi - lo) * k / 30 for k in range(31)]
    fig = _figure(5.2, 2.8)
    ax = fig.add_subplot()
    for metric, colour, name in ((baseline, BASELINE_COLOUR, "baseline"), (current, CURRENT_COLOUR, "current")):
        if metric is None:
            continue
        pmf = metric.kll.value.get_pmf(edges[1:-1]) if len(edges) > 2 else [1.0]
        widths = [edges[i + 1] - edges[i] for i in range(len(edges) - 1)]
        ax.bar(edges[:-1], pmf, width=widths, align="edge", alpha=0.5, color=colour, edgecolor=colour,
               label=f"{name} (n={metric.n:,}, mean={metric.mean.value:.3g})")
    ax.set_title(_short(title, 70), fontsize=10)
    ax.set_xlabel(feature)
    ax.set_ylabel("share of runs")
    ax.legend(fontsize=8)
    return _png(fig)


def _is_flag(*metrics: Any) -> bool:
    """A 0/1 feature: every sketch's min and max are 0 or 1."""
    present = [m for m in metrics if m is not None]
    return bool(present) and all(m.kll.value.get_min_value() in (0, 1) and m.kll.value.get_max_value() in (0, 1)
                                 for m in present)


def rates_plot(feature: str, title: str, rows: Sequence[tuple[str, Any, Any]]) -> str:
    """A 0/1 feature (a flag): the share of runs with 1, baseline vs current, one pair of bars per
    ``(label, baseline metric, current metric)`` row (e.g. per segment)."""
    fig = _figure(5.2, 0.9 + 0.55 * len(rows))
    ax = fig.add_subplot()
    top = 0.001
    for i, (_, baseline, current) in enumerate(rows):
        for metric, colour, name, dy in ((baseline, BASELINE_COLOUR, "baseline", -0.2),
                                         (current, CURRENT_COLOUR, "current", 0.2)):
            if metric is None:
                continue
            rate = float(metric.mean.value)
            top = max(top, rate)
            bar = ax.barh([i + dy], [rate], height=0.4, color=colour, label=name if i == 0 else None)
            ax.bar_label(bar, labels=[f"{rate:.2%} (n={metric.n:,})"], padding=3, fontsize=7)
    ax.set_yticks(range(len(rows)), [_short(label or feature, 34) for label, _, _ in rows], fontsize=8)
    ax.set_xlim(0, top * 1.45)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(_percent_formatter())
    ax.set_xlabel(f"share of runs with {feature} = 1")
    ax.set_title(_short(title, 70), fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def categorical_plot(feature: str, title: str, baseline: dict[str, float], current: dict[str, float],
                     top: int = 10) -> Optional[str]:
    """Baseline vs current shares of the most frequent values (horizontal bars)."""
    values = sorted(set(baseline) | set(current), key=lambda v: -max(baseline.get(v, 0), current.get(v, 0)))[:top]
    if not values:
        return None
    fig = _figure(5.2, 0.5 + 0.32 * len(values) * 2 / 1.6)
    ax = fig.add_subplot()
    ys = list(range(len(values)))
    ax.barh([y - 0.2 for y in ys], [baseline.get(v, 0) for v in values], height=0.4, color=BASELINE_COLOUR,
            label="baseline")
    ax.barh([y + 0.2 for y in ys], [current.get(v, 0) for v in values], height=0.4, color=CURRENT_COLOUR,
            label="current")
    ax.set_yticks(ys, [_short(v, 56) for v in values], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("share of runs")
    ax.set_title(_short(title, 70), fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)


def heatmap_plot(rows: list[str], days: list[datetime], rates: list[list[Optional[float]]],
                 current_start: datetime, key: str) -> str:
    """Refusal rate per category (rows) × day (columns); days without runs stay blank."""
    import numpy as np
    from matplotlib import colormaps

    data = np.ma.masked_invalid(np.array([[math.nan if r is None else r for r in row] for row in rates], dtype=float))
    fig = _figure(min(2.5 + 0.28 * len(days), 14), 1.2 + 0.32 * len(rows))
    ax = fig.add_subplot()
    cmap = colormaps["Reds"].with_extremes(bad="#eeeeee")
    vmax = max(float(data.max()) if data.count() else 0.0, 0.01)
    image = ax.imshow(data, aspect="auto", cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
    ax.set_yticks(range(len(rows)), [_short(r, 30) for r in rows], fontsize=8)
    step = max(1, len(days) // 20)
    ax.set_xticks(range(0, len(days), step), [d.strftime("%m-%d") for d in days[::step]], fontsize=8, rotation=90)
    boundary = sum(1 for d in days if d < _utc(current_start))
    if 0 < boundary < len(days):
        ax.axvline(boundary - 0.5, color="black", linewidth=1.5, linestyle="--")
    ax.set_title(f"refusal rate by {key} and day (dashed line: start of the current window)", fontsize=10)
    bar = fig.colorbar(image, ax=ax, fraction=0.03)
    bar.ax.yaxis.set_major_formatter(_percent_formatter())
    return _png(fig)


def _percent_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:.1%}" if v < 0.1 else f"{v:.0%}")


def series_plot(days: list[datetime], series: dict[str, list[Optional[float]]], baseline: Sequence[datetime],
                current: Sequence[datetime], ylabel: str, title: str, percent: bool = False) -> Optional[str]:
    """Daily means, one line per series, with the baseline and current windows shaded."""
    if not any(v is not None for values in series.values() for v in values):
        return None
    import matplotlib.dates as mdates

    fig = _figure(9, 3)
    ax = fig.add_subplot()
    ax.axvspan(_naive(baseline[0]), _naive(baseline[1]), color=BASELINE_COLOUR, alpha=0.12, label="baseline window")
    ax.axvspan(_naive(current[0]), _naive(current[1]), color=CURRENT_COLOUR, alpha=0.15, label="current window")
    for name, values in series.items():
        points = [(_naive(d + timedelta(hours=12)), v) for d, v in zip(days, values, strict=True) if v is not None]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, label=name)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    if percent:  # a rate: from 0, and some headroom when it stayed at 0
        ax.set_ylim(0, max([v for values in series.values() for v in values if v is not None] + [0.005]) * 1.15)
        ax.yaxis.set_major_formatter(_percent_formatter())
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def _naive(value: datetime) -> datetime:
    return _utc(value).replace(tzinfo=None)


# --- HTML -------------------------------------------------------------------------------------

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 24px auto;
       max-width: 1200px; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 32px; border-bottom: 1px solid #ddd; }
.meta { color: #555; } .notes li { color: #666; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } td.num { text-align: right; white-space: nowrap; }
.sev { color: #fff; border-radius: 3px; padding: 1px 6px; font-size: 12px; font-weight: 600; }
.counts span { margin-right: 14px; } .stats { color: #555; font-size: 12px; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; } .grid figure { margin: 0; }
figcaption { font-size: 12px; color: #555; max-width: 520px; } img { max-width: 100%; }
.ok { color: #2e7d32; font-weight: 600; } ol.top li { margin-bottom: 4px; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _img(png: Optional[str], alt: str) -> str:
    return f'<img src="data:image/png;base64,{png}" alt="{_e(alt)}">' if png else ""


def _findings_table(findings: Sequence[Any]) -> str:
    if not findings:
        return '<p class="ok">No drift found.</p>'
    rows = []
    for i, f in enumerate(findings, 1):
        colour = SEVERITY_COLOUR.get(f.severity, "#555")
        score = "" if f.score is None else _number(f.score)
        stats = " → ".join(s for s in (format_stats(f.baseline), format_stats(f.current)) if s)
        first = getattr(f, "first_seen", None)
        seen = f"<br><span class=stats>first seen {_e(format_time(first))}</span>" if first else ""
        rows.append(f"<tr><td class=num>{i}</td>"
                    f"<td><span class=sev style=\"background:{colour}\">{_e(f.severity)}</span></td>"
                    f"<td>{_e(f.rule)}</td><td>{_e(format_segment(f))}</td><td>{_e(f.feature)}</td>"
                    f"<td>{_e(f.message)}<br><span class=stats>{_e(stats)}</span>{seen}</td>"
                    f"<td>{_e(f.action)}</td><td class=num>{_e(score)}</td><td>{_e(f.annotation)}</td></tr>")
    return ("<table><thead><tr><th>#</th><th>severity</th><th>rule</th><th>segment</th><th>feature</th>"
            "<th>finding</th><th>action</th><th>score</th><th>Phoenix annotation</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def distribution_figures(result: Any, store: Any, tick: Callable[[], None] = lambda: None) -> list[str]:
    """``<figure>`` blocks, baseline vs current, for the features with findings (in rank order):
    a 0/1 feature gets one chart of its rate in every segment with a finding; any other feature
    one plot for each of its (up to ``PLOTS_PER_FEATURE``) top-ranked segments."""
    by_feature: dict[str, list[Any]] = {}
    for f in result.findings:
        if f.feature:
            found = by_feature.setdefault(f.feature, [])
            if all((g.segment_key, g.segment_value) != (f.segment_key, f.segment_value) for g in found):
                found.append(f)
    views: dict[Optional[tuple[str, str]], tuple[Any, Any]] = {}

    def pair(finding: Any) -> tuple[Any, Any]:
        segment = None if finding.segment_key == OVERALL else (finding.segment_key, str(finding.segment_value))
        if segment not in views:
            views[segment] = (store.read(*result.baseline, segment=segment), store.read(*result.current, segment=segment))
            tick()
        return views[segment]

    def figure(png: Optional[str], title: str, caption: str) -> None:
        if png:
            out.append(f"<figure>{_img(png, title)}<figcaption>{_e(caption)}</figcaption></figure>")

    out: list[str] = []
    for feature, findings in by_feature.items():
        if len(out) >= MAX_DISTRIBUTION_PLOTS:
            break
        base, cur = pair(findings[0])
        b, c = _distribution(base, feature), _distribution(cur, feature)
        if (b or c) and _is_flag(b, c):
            rows = [(format_segment(f), *(_distribution(v, feature) for v in pair(f))) for f in findings[:MAX_RATE_ROWS]]
            more = f" (top {MAX_RATE_ROWS} of {len(findings)})" if len(findings) > MAX_RATE_ROWS else ""
            figure(rates_plot(feature, f"{feature} rate by segment{more}", rows), feature,
                   f"{findings[0].severity}: {findings[0].message}")
            continue
        for f in findings[:PLOTS_PER_FEATURE]:
            base, cur = pair(f)
            title = f"{feature} · {format_segment(f)}"
            b, c = _distribution(base, feature), _distribution(cur, feature)
            png = numeric_plot(feature, title, b, c) if (b or c) else categorical_plot(
                feature, title, frequent_shares(base, feature), frequent_shares(cur, feature))
            figure(png, title, f"{f.severity}: {f.message}")
    return out


def to_html(result: Any, store: Any, path: str | Path, *, heatmap_segment_key: Optional[str] = None,
            progress: bool = False, title: str = "agenttrace drift report") -> Path:
    """Write the self-contained HTML report to ``path``; returns the path. ``store`` is the
    ``ProfileStore`` the result was computed from (plots are drawn from its profiles);
    ``heatmap_segment_key`` picks the heatmap's rows (default: see :func:`heatmap_key`)."""
    days = report_days(result)
    key = heatmap_key(store, heatmap_segment_key, result.findings)
    categories = sorted(store.segments().get(key, []))[:MAX_HEATMAP_ROWS] if key else []
    total = len(days) * (1 + len(categories)) + len({(f.segment_key, f.segment_value) for f in result.findings})
    bar = progress_bar(progress, total=total, desc="drawing the HTML report", unit=" reads")
    tick = bar.update if bar is not None else (lambda *_: None)
    try:
        reader = _DayReader(store, tick)
        figures = distribution_figures(result, store, tick)
        heatmap = None
        if key and categories and days:
            rates = [[reader.mean(d, (key, c), "refusal_flagged") for d in days] for c in categories]
            overall = [reader.mean(d, None, "refusal_flagged") for d in days]
            heatmap = heatmap_plot([*categories, "(all)"], days, [*rates, overall], result.current[0], key)
        scores = series_plot(days, {name: [reader.mean(d, None, name) for d in days] for name in SCORE_SERIES},
                             result.baseline, result.current, "daily mean", "evaluation scores per day (all runs)")
        refusal = series_plot(days, {"refusal rate": [reader.mean(d, None, "refusal_flagged") for d in days]},
                              result.baseline, result.current, "share of runs", "refusal rate per day (all runs)",
                              percent=True)
    finally:
        if bar is not None:
            bar.close()

    counts = severity_counts(result.findings)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{_e(header_line(result))}<br>'
        f'generated {_e(datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))}</p>',
        '<p class="counts">' + "".join(f'<span><span class=sev style="background:{SEVERITY_COLOUR[k]}">{_e(k)}</span> '
                                       f"{n}</span>" for k, n in counts.items()) + "</p>",
    ]
    if result.notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in result.notes) + "</ul>")
    if result.findings:
        parts.append("<h2>Top findings</h2><ol class=top>" + "".join(
            f'<li><span class=sev style="background:{SEVERITY_COLOUR.get(f.severity, "#555")}">{_e(f.severity)}</span> '
            f"{_e(f.message)} — <em>{_e(f.action)}</em></li>" for f in result.findings[:TOP_FINDINGS]) + "</ol>"
            + (f'<p class=meta>all {len(result.findings)} findings: <a href="#findings">below</a></p>'
               if len(result.findings) > TOP_FINDINGS else ""))
    if figures:
        parts += ["<h2>Baseline vs current</h2>", '<div class="grid">', *figures, "</div>"]
    if heatmap:
        parts += ["<h2>Refusal rate per category and day</h2>", _img(heatmap, "refusal rate heatmap")]
    if scores or refusal:
        parts += ["<h2>Scores over time</h2>", _img(scores, "evaluation scores per day"),
                  _img(refusal, "refusal rate per day")]
    parts += ['<h2 id="findings">All findings</h2>', _findings_table(result.findings), "</body></html>"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
