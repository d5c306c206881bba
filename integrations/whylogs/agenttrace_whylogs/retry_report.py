"""``agenttrace retries`` output: the clusters as a rich table that fits the console (80 columns
and up), a JSON document, an HTML report with a plot of retries over time, and the Phoenix
annotation rows of each cluster's runs (annotation ``retry_cluster``)."""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from typing import Any, Optional, Sequence

from .report_plots import figure, png
from .results import jsonable
from .retry_clusters import Cluster
from .retry_timeline import Point
from .table import fit, width_of, wrap

ANNOTATION = "retry_cluster"
KIND_STYLE = {"content_policy": "magenta", "infrastructure": "yellow", "other": "cyan"}


def to_json(clusters: Sequence[Cluster], timeline: Sequence[Point], source: str, notes: Sequence[str] = ()) -> str:
    return json.dumps(jsonable({"source": source, "clusters": [c.to_dict() for c in clusters],
                                "timeline": [p.to_dict() for p in timeline], "notes": list(notes)}), indent=2)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%m-%d %H:%M")


def print_table(console: Any, clusters: Optional[Sequence[Cluster]], timeline: Sequence[Point], top: int = 20) -> None:
    """The timeline (one line per point, the last 12), then the clusters: a header line, the
    evidence, the template and the next step (up to 5 lines each), cut with "…" to the width."""
    from rich.text import Text

    width = width_of(console)
    if timeline:
        console.print(Text("retries over time", style="bold"))
        for p in timeline[-12:]:
            console.print(fit(f"  {p.start:%Y-%m-%d %H:%M}  runs {p.runs:>6}  attempts/call {p.amplification:5.2f}  "
                              f"exhausted {p.exhausted_rate:6.1%}", width), soft_wrap=True)
    if clusters is None:  # no spans read: nothing to cluster
        return
    if not clusters:
        console.print("no failed runs")
        return
    console.print(Text(f"{len(clusters)} failure cluster(s), most exhausted retries first", style="bold"))
    for i, c in enumerate(clusters[:top], 1):
        head = Text(f"{i:>2} ")
        head.append(f"{c.kind:<14}", style=KIND_STYLE.get(c.kind, ""))
        status = str(c.status) if c.status is not None else "-"
        head.append(fit(f" exhausted {c.exhausted:>4}  failed {c.failures:>4}  status {status}  "
                        f"{c.provider or '-'}/{c.model or '-'}", width - 17))
        console.print(head, soft_wrap=True)
        lines = [fit("; ".join(c.evidence) or "no breakdown", width - 3), fit(f"'{c.template}'", width - 3),
                 *wrap(f"→ {c.next_step}", width - 3, 2)]
        for line in lines:
            console.print("   " + line, soft_wrap=True, highlight=False, markup=False)
    if len(clusters) > top:
        console.print(f"… {len(clusters) - top} more in the JSON report")


def timeline_plot(timeline: Sequence[Point]) -> str:
    """Attempts per call and exhausted rate per window, as an <img> tag."""
    fig = figure(8, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    x = [p.start.replace(tzinfo=None) for p in timeline]
    ax.plot(x, [p.amplification for p in timeline], marker="o", label="attempts per logical call")
    ax.set_ylabel("attempts per call")
    ax2 = ax.twinx()
    ax2.plot(x, [p.exhausted_rate * 100 for p in timeline], color="tab:red", marker="x", label="exhausted retries (% of runs)")
    ax2.set_ylabel("exhausted (% of runs)")
    ax.set_title("Retries over time")
    fig.legend(loc="outside lower center", ncol=2, fontsize=8)
    data = png(fig, "retry amplification and exhausted-retry rate over time")
    return (f"<img alt='attempts per call and exhausted-retry rate over time' "
            f"src='data:image/png;base64,{data}'>")


def html_report(clusters: Sequence[Cluster], timeline: Sequence[Point], source: str) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(c.kind)}</td><td>{c.exhausted}</td><td>{c.failures}</td><td>{c.status or '-'}</td>"
        f"<td>{e(c.provider or '-')}/{e(c.model or '-')}</td><td><code>{e(c.template)}</code></td>"
        f"<td>{e('; '.join(c.evidence))}</td><td>{e(c.next_step)}</td></tr>" for c in clusters)
    plot = timeline_plot(timeline) if timeline else "<p>No runs with retry counts in the range.</p>"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>agenttrace retries</title>"
            f"<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}"
            f"td,th{{border:1px solid #ccc;padding:4px;vertical-align:top;font-size:13px}}</style></head><body>"
            f"<h1>Retries and failures</h1><p>Source: {e(source)}</p><h2>Retries over time</h2>{plot}"
            f"<h2>Failure clusters</h2><table><tr><th>kind</th><th>exhausted</th><th>failed</th><th>status</th>"
            f"<th>provider/model</th><th>error template</th><th>evidence</th><th>next step</th></tr>{rows}</table>"
            f"</body></html>")


def annotation_rows(clusters: Sequence[Cluster]) -> list[dict]:
    """One row per run of each cluster (keyed by root span and trace): label = the cluster's kind,
    score = its exhausted retries, explanation = template and next step."""
    rows = []
    for c in clusters:
        for trace_id, span_id in c.runs:
            rows.append({"span_id": span_id, "trace_id": trace_id, "name": ANNOTATION, "label": c.kind,
                         "score": float(c.exhausted), "annotator_kind": "CODE",
                         "explanation": f"failure cluster {c.id}: '{c.template}' (status {c.status or '-'}, "
                                        f"{c.failures} failed runs, {c.exhausted} exhausted) — {c.next_step}",
                         "metadata": {"source": "agenttrace retries", "cluster": c.id, "status": c.status,
                                      "error_type": c.error_type, "template": c.template,
                                      "concentrated": list(c.concentrated) if c.concentrated else None,
                                      "bunched": c.bunched}})
    return rows


def annotate(phoenix_store: Any, clusters: Sequence[Cluster]) -> int:
    """Write each cluster's annotation on its runs' root spans and traces, as drift findings are
    written (``agenttrace_phoenix.annotations.write_rows``); returns the rows written."""
    from agenttrace_phoenix.annotations import write_rows

    return write_rows(phoenix_store, annotation_rows(clusters))
