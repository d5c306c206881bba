"""The drift result as Markdown (``agenttrace drift --format markdown``): for a pull-request comment,
a wiki page or a chat message. Incidents first, then every finding in a table, then the notes."""

from __future__ import annotations

from typing import Any

from .incidents import seg_label
from .report import format_range
from .table import ordered_findings, summary_line


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def to_markdown(result: Any) -> str:
    lines = [f"# Drift: {format_range(result.current)} vs {format_range(result.baseline)}", "",
             f"Baseline {format_range(result.baseline)}: {result.rows_baseline:,} runs · current "
             f"{format_range(result.current)}: {result.rows_current:,} runs · {summary_line(result.findings)}", ""]
    rows = ordered_findings(result)
    number = {id(f): i for i, (_, f) in enumerate(rows, 1)}
    incidents = list(getattr(result, "incidents", []) or [])
    if incidents:
        lines += ["## Incidents", ""]
        for n, incident in enumerate(incidents, 1):
            refs = ", ".join(f"#{number[id(f)]}" for f in incident.findings if id(f) in number)
            names = ", ".join(f"`{a}`" for a in incident.annotations)
            lines += [f"{n}. **{incident.severity}** {_cell(incident.title)}  ",
                      f"   where: {', '.join(seg_label(s) for s in incident.segments)} · findings {refs}"
                      + (f" · Phoenix annotations {names}" if names else "") + f" · id `{incident.id}`  ",
                      f"   → {_cell(incident.action)}"]
        lines.append("")
    if rows:
        lines += ["## Findings", "", "| # | severity | rule | segment | feature | finding | action |",
                  "|---|---|---|---|---|---|---|"]
        for i, (_, f) in enumerate(rows, 1):
            lines.append(f"| {i} | {f.severity} | {f.rule} | {_cell(seg_label((f.segment_key, f.segment_value)))} | "
                         f"{_cell(f.feature)} | {_cell(f.message)} | {_cell(f.action)} |")
        lines.append("")
    else:
        lines += ["No drift found.", ""]
    if result.notes:
        lines += ["## Notes", ""] + [f"- {_cell(note)}" for note in result.notes] + [""]
    return "\n".join(lines)
