"""The HTML drift report: one self-contained page, read in five seconds.

No external resources (inline CSS, plots as base64 PNG, no JavaScript), so it can be mailed,
attached to a CI run or opened offline. From the top:

- the incidents, one line each (severity, what happened and its probable cause, what to do, a link
  to the affected runs in Phoenix); before incidents exist, the top findings;
- baseline vs current distributions of the features with findings, with the thresholds marked;
- the refusal rate per category × day (the runs per cell written in it, too-small cells masked);
- the daily scores and refusal rate, with thresholds and model version changes marked;
- the features compared and found stable;
- every finding.

Everything is computed from the profile store (per-day reads), never from raw spans.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from . import report_plots as plots
from .report import SEVERITY_COLOUR, format_segment, format_stats, format_time, header_line, progress_bar, severity_counts
from .report import _number
from .report_data import (OVERALL, DayReader, ModelChange, ProfilesSource, StableFeature, Thresholds, distribution,
                          frequent_shares, heatmap_key, model_changes, report_days, stable_features, thresholds_of)
from . import report_links as links
from .report_links import PhoenixProject, incident_condition

SCORE_SERIES = ("refusal_score", "hedging_score", "refusal_similarity", "relevance")  # those the runs have
MAX_DISTRIBUTION_PLOTS = 12   # figures in "baseline vs current"
PLOTS_PER_FEATURE = 2         # segments plotted per (non-flag) feature
MAX_RATE_ROWS = 12            # segments in one flag-rate chart
MAX_HEATMAP_ROWS = 25
MIN_CELL_RUNS = 5             # heatmap cells with fewer runs are masked
TOP_FINDINGS = 5
REFUSAL = "refusal_flagged"

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
figcaption { font-size: 12px; color: #555; max-width: 520px; } figure.wide figcaption { max-width: none; }
img { max-width: 100%; } .ok { color: #2e7d32; font-weight: 600; } ol.top li, ol.incidents li { margin-bottom: 4px; }
ol.incidents { font-size: 15px; } .action { color: #444; font-style: italic; } .where { color: #666; font-size: 12px; }
code { background: #f3f3f3; padding: 0 3px; border-radius: 2px; font-size: 12px; }
ul.stable { columns: 3; font-size: 13px; padding-left: 18px; } ul.stable li { break-inside: avoid; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _badge(severity: str) -> str:
    return f'<span class=sev style="background:{SEVERITY_COLOUR.get(severity, "#555")}">{_e(severity)}</span>'


def _img(png: Optional[str], alt: str) -> str:
    return f'<img src="data:image/png;base64,{png}" alt="{_e(alt)}">' if png else ""


def _figure(png: Optional[str], alt: str, caption: str, wide: bool = False) -> str:
    if not png:
        return ""
    return f"<figure{' class=wide' if wide else ''}>{_img(png, alt)}<figcaption>{_e(caption)}</figcaption></figure>"


# --- the lead: incidents ----------------------------------------------------------------------


def _segments_text(segments: Sequence[tuple[str, str]]) -> str:
    names = ["all runs" if tuple(s) == (OVERALL, OVERALL) else f"{s[0]}={s[1]}" for s in segments]
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def _phoenix_link(incident: Any, project: Optional[PhoenixProject], window: Sequence[datetime]) -> str:
    condition = incident_condition(incident)
    if project is None or not condition:
        return ""
    href = project.runs_link(condition, window)
    if project.filters_in_link:
        return f' · <a class=phoenix href="{_e(href)}" title="{_e(condition)}">affected runs in Phoenix</a>'
    return (f' · <a class=phoenix href="{_e(href)}">Phoenix project {_e(project.name)}</a>, filter: '
            f"<code>{_e(condition)}</code>")


def incidents_section(incidents: Sequence[Any], project: Optional[PhoenixProject], window: Sequence[datetime]) -> str:
    """One line per incident: severity, title, action, where it shows, the link to its runs."""
    lines = []
    for incident in incidents:
        where = _segments_text(incident.segments)
        lines.append(f'<li id="incident-{_e(incident.id)}">{_badge(incident.severity)} {_e(incident.title)} — '
                     f'<span class=action>{_e(incident.action)}</span>'
                     f'{f" <span class=where>({_e(where)})</span>" if where else ""}'
                     f"{_phoenix_link(incident, project, window)}</li>")
    return "<h2>Incidents</h2><ol class=incidents>" + "".join(lines) + "</ol>"


def top_findings_section(findings: Sequence[Any]) -> str:
    items = "".join(f"<li>{_badge(f.severity)} {_e(f.message)} — <em>{_e(f.action)}</em></li>"
                    for f in findings[:TOP_FINDINGS])
    more = (f'<p class=meta>all {len(findings)} findings: <a href="#findings">below</a></p>'
            if len(findings) > TOP_FINDINGS else "")
    return f"<h2>Top findings</h2><ol class=top>{items}</ol>{more}"


# --- the tail: stable features and all findings -----------------------------------------------


def stable_section(stable: Sequence[StableFeature]) -> str:
    if not stable:
        return ""
    items = "".join(f"<li><code>{_e(s.name)}</code> <span class=stats>{_e(s.baseline)} → {_e(s.current)}</span></li>"
                    for s in stable)
    return (f'<h2 id="stable">Tested and stable ({len(stable)} features)</h2>'
            "<p class=meta>Compared overall and in every segment with enough runs: no finding. All runs, baseline → current:</p>"
            f"<ul class=stable>{items}</ul>")


def findings_table(findings: Sequence[Any]) -> str:
    if not findings:
        return '<p class="ok">No drift found.</p>'
    rows = []
    for i, f in enumerate(findings, 1):
        score = "" if f.score is None else _number(f.score)
        stats = " → ".join(s for s in (format_stats(f.baseline), format_stats(f.current)) if s)
        first = getattr(f, "first_seen", None)
        seen = f"<br><span class=stats>first seen {_e(format_time(first))}</span>" if first else ""
        rows.append(f"<tr><td class=num>{i}</td><td>{_badge(f.severity)}</td>"
                    f"<td>{_e(f.rule)}</td><td>{_e(format_segment(f))}</td><td>{_e(f.feature)}</td>"
                    f"<td>{_e(f.message)}<br><span class=stats>{_e(stats)}</span>{seen}</td>"
                    f"<td>{_e(f.action)}</td><td class=num>{_e(score)}</td><td>{_e(f.annotation)}</td></tr>")
    return ("<table><thead><tr><th>#</th><th>severity</th><th>rule</th><th>segment</th><th>feature</th>"
            "<th>finding</th><th>action</th><th>score</th><th>Phoenix annotation</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


# --- plots ------------------------------------------------------------------------------------


def _threshold_note(feature: str, limits: Thresholds) -> str:
    if feature == REFUSAL and limits.refusal_rate is not None:
        return f" Dashed red line: the alert threshold {limits.refusal_rate:.1%} (the drift config's refusal_abs)."
    if limits.scores.get(feature):
        values = ", ".join(f"{v:g}" for v in limits.scores[feature])
        return f" Dashed red line: the review threshold {values} of {feature} (the metric profile)."
    return ""


def distribution_figures(result: Any, store: Any, limits: Thresholds, tick: Callable[[], None] = lambda: None) -> list[str]:
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

    out: list[str] = []
    for feature, findings in by_feature.items():
        if len(out) >= MAX_DISTRIBUTION_PLOTS:
            break
        note = _threshold_note(feature, limits)
        base, cur = pair(findings[0])
        b, c = distribution(base, feature), distribution(cur, feature)
        if (b or c) and plots.is_flag(b, c):
            rows = [(format_segment(f), *(distribution(v, feature) for v in pair(f))) for f in findings[:MAX_RATE_ROWS]]
            more = f" (top {MAX_RATE_ROWS} of {len(findings)})" if len(findings) > MAX_RATE_ROWS else ""
            threshold = limits.refusal_rate if feature == REFUSAL else None
            png = plots.rates_plot(feature, f"{feature} rate by segment{more}", rows, threshold)
            out.append(_figure(png, feature, f"{findings[0].severity}: {findings[0].message}.{note}"))
            continue
        for f in findings[:PLOTS_PER_FEATURE]:
            base, cur = pair(f)
            title = f"{feature} · {format_segment(f)}"
            b, c = distribution(base, feature), distribution(cur, feature)
            png = plots.numeric_plot(feature, title, b, c, limits.scores.get(feature, ())) if (b or c) else \
                plots.categorical_plot(feature, title, frequent_shares(base, feature), frequent_shares(cur, feature))
            out.append(_figure(png, title, f"{f.severity}: {f.message}.{note if b or c else ''}"))
    return [f for f in out if f]


def _changes_note(changes: Sequence[ModelChange]) -> str:
    if not changes:
        return ""
    return " Dotted purple line: " + "; ".join(f"{c.label} first answered {format_time(c.at)}" for c in changes) + "."


def time_figures(result: Any, store: Any, reader: DayReader, days: list[datetime], key: Optional[str],
                 categories: list[str], limits: Thresholds, min_n: int) -> tuple[str, list[str]]:
    """(the heatmap figure, the time-series figures)."""
    changes = model_changes(result)
    heatmap = ""
    if key and categories and days:
        segments: list[Optional[tuple[str, str]]] = [(key, c) for c in categories] + [None]
        rates = [[reader.mean(d, s, REFUSAL) for d in days] for s in segments]
        counts = [[reader.count(d, s, REFUSAL) for d in days] for s in segments]
        png, written = plots.heatmap_plot([*categories, "(all)"], days, rates, counts, result.current[0], key, min_n,
                                          changes)
        shown = "The number in each cell is its runs." if written else "Cells are too narrow to show their runs."
        masked = sum(1 for row in counts for n in row if 0 < n < min_n)
        heatmap = _figure(png, "refusal rate heatmap",
                          f"Refusal rate per {key} and UTC day. {shown} {masked} cell{'s' if masked != 1 else ''} "
                          f"with fewer than {min_n} runs {'are' if masked != 1 else 'is'} masked (grey): too few runs "
                          f"for a rate.{_changes_note(changes)}", wide=True)
    score_lines = [(v, f"{name} threshold {v:g}") for name in SCORE_SERIES for v in limits.scores.get(name, ())]
    scores = plots.series_plot(days, {name: [reader.mean(d, None, name) for d in days] for name in SCORE_SERIES},
                               result.baseline, result.current, "daily mean", "evaluation scores per day (all runs)",
                               thresholds=score_lines, changes=changes)
    rate_lines = [] if limits.refusal_rate is None else [(limits.refusal_rate, f"alert threshold {limits.refusal_rate:.1%}")]
    refusal = plots.series_plot(days, {"refusal rate": [reader.mean(d, None, REFUSAL) for d in days]},
                                result.baseline, result.current, "share of runs", "refusal rate per day (all runs)",
                                percent=True, thresholds=rate_lines, changes=changes)
    score_note = "; ".join(f"{label} (metric profile)" for _, label in score_lines) or "no metric profile threshold given"
    series = [
        _figure(scores, "evaluation scores per day",
                f"Daily means of the evaluation scores. Dashed red: {score_note}.{_changes_note(changes)}", wide=True),
        _figure(refusal, "refusal rate per day",
                "Daily refusal rate." + (f" Dashed red: the alert threshold {limits.refusal_rate:.1%} (the drift "
                                         "config's refusal_abs)." if rate_lines else "") + _changes_note(changes),
                wide=True),
    ]
    return heatmap, [s for s in series if s]


def alert_timeline_section(history: Optional[list]) -> str:
    """The alert timeline of ``agenttrace watch`` (incidents per rule over time), or nothing."""
    from .watch_history import history_from, timeline_plot

    if history is None:
        try:
            history = history_from()
        except Exception:  # noqa: BLE001 — an unreadable alert store leaves the timeline out, not the report
            history = []
    png = timeline_plot(history) if history else None
    if png is None:
        return ""
    return "<h2>Alerts</h2>" + _figure(png, "alert timeline", "Incidents per rule as agenttrace watch opened, "
                                       "escalated and resolved them (agenttrace watch --history lists them).", wide=True)


# --- the page ---------------------------------------------------------------------------------


def to_html(result: Any, store: Any, path: str | Path, *, heatmap_segment_key: Optional[str] = None,
            progress: bool = False, title: str = "agenttrace drift report", config: Any = None,
            profiles: Optional[ProfilesSource] = None, phoenix_url: Optional[str] = None,
            phoenix_project: Optional[str] = None, min_cell_runs: int = MIN_CELL_RUNS,
            alert_history: Optional[list] = None) -> Path:
    """Write the self-contained HTML report to ``path``; returns the path.

    ``store``: the ``ProfileStore`` the result was computed from (plots are drawn from it);
    ``config``: the ``DriftConfig`` it was computed with (None: ``detect``'s defaults) — its
    thresholds are drawn; ``profiles``: the metric profiles the runs were scored with (a
    ProfileSet, a file, the dict form, or ``{metric: threshold}``) — their score thresholds are
    drawn; ``phoenix_url`` and ``phoenix_project``: where the traced runs are, for a link per
    incident to its runs; ``heatmap_segment_key`` picks the heatmap's rows (default: see
    :func:`heatmap_key`); heatmap cells with fewer than ``min_cell_runs`` runs are masked;
    ``alert_history``: ``watch_history.normalise``d alert events for the alert timeline (None: read
    from the default alert store of ``agenttrace watch`` when there is one)."""
    limits = thresholds_of(config, profiles)
    days = report_days(result)
    key = heatmap_key(store, heatmap_segment_key, result.findings)
    categories = sorted(store.segments().get(key, []))[:MAX_HEATMAP_ROWS] if key else []
    total = len(days) * (1 + len(categories)) + len({(f.segment_key, f.segment_value) for f in result.findings}) + 1
    incidents = list(getattr(result, "incidents", None) or [])
    project = links.phoenix_project(phoenix_url, phoenix_project) if incidents else None
    bar = progress_bar(progress, total=total, desc="drawing the HTML report", unit=" reads")
    tick = bar.update if bar is not None else (lambda *_: None)
    try:
        figures = distribution_figures(result, store, limits, tick)
        base_all, cur_all = store.read(*result.baseline), store.read(*result.current)
        tick()
        features = getattr(config, "features", None)
        stable = stable_features(result, base_all, cur_all, list(features) if features is not None else None)
        heatmap, series = time_figures(result, store, DayReader(store, tick), days, key, categories, limits,
                                       min_cell_runs)
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
    ]
    if incidents:
        parts.append(incidents_section(incidents, project, result.current))
    elif result.findings:
        parts.append(top_findings_section(result.findings))
    else:
        parts.append('<p class="ok">No drift found.</p>')
    parts.append('<p class="counts">' + "".join(f"<span>{_badge(k)} {n}</span>" for k, n in counts.items())
                 + f' findings: <a href="#findings">all below</a>'
                 + (f', <a href="#stable">{len(stable)} features stable</a>' if stable else "") + "</p>")
    if result.notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in result.notes) + "</ul>")
    if figures:
        parts += ["<h2>Baseline vs current</h2>", '<div class="grid">', *figures, "</div>"]
    if heatmap:
        parts += ["<h2>Refusal rate per category and day</h2>", heatmap]
    if series:
        parts += ["<h2>Over time</h2>", *series]
    parts.append(alert_timeline_section(alert_history))
    parts += [stable_section(stable), '<h2 id="findings">All findings</h2>', findings_table(result.findings),
              "</body></html>"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(p for p in parts if p) + "\n", encoding="utf-8")
    return path
