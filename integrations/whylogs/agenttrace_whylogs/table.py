"""The drift result in a terminal: the windows, one-line notes, the incidents, then the findings.

Lines are laid out here, to the console's width, and never wrapped by the terminal: names
(segments, features, rules) are never broken; text that does not fit its lines ends in "…"
(everything is in the JSON report and ``--format markdown``). The width is ``COLUMNS`` when it is
set (also when the output is piped), else the terminal's, else 120 columns.

- Below 110 columns a finding takes at most 3 lines: number, severity, rule · segment · feature;
  then what changed and "→ what to do", word-wrapped into two lines.
- From 110 columns the findings are a table: #, severity, segment, feature (as wide as their
  longest value, within limits) and the finding with its action in the rest (from 150 columns
  the rule too); a finding takes at most 3 lines.
"""

from __future__ import annotations

import os
import textwrap
from typing import Any, Optional, Sequence

from .incidents import seg_label
from .report import format_range, severity_counts

SEVERITY_STYLE = {"alert": "bold red", "warning": "yellow", "info": "cyan"}
PIPED_WIDTH = 120      # no COLUMNS and not a terminal (CI logs, files)
MIN_WIDTH = 40
WIDE = 110             # from here on, findings are a table
WITH_RULE = 150        # from here on, the table has a rule column
MAX_SEGMENT, MAX_FEATURE, MAX_RULE = 30, 22, 20
INDENT = 11            # incident lines under the title: "nn severity "
ELLIPSIS = "…"


def width_of(console: Any) -> int:
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit():
        return max(MIN_WIDTH, int(columns))
    return max(MIN_WIDTH, console.width if console.is_terminal else PIPED_WIDTH)


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in "…" when cut (at a word boundary if one is near)."""
    if len(text) <= width:
        return text
    cut = text[:width - 1]
    space = cut.rfind(" ")
    if space >= width * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,;·") + ELLIPSIS


def wrap(text: str, width: int, lines: int) -> list[str]:
    """``text`` word-wrapped into at most ``lines`` lines of ``width`` (long words are not broken:
    a line with one is cut with "…"); the last line ends in "…" when the text does not fit."""
    out = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]
    if len(out) > lines:
        out = out[:lines - 1] + [fit(" ".join(out[lines - 1:]), width)]
    return [fit(line, width) for line in out]


def header_lines(result: Any, width: int) -> list[str]:
    base = f"baseline {format_range(result.baseline)} ({result.rows_baseline:,} runs)"
    cur = f"current {format_range(result.current)} ({result.rows_current:,} runs)"
    joined = f"{base} · {cur}"
    return [joined] if len(joined) <= width else [fit(base, width), fit(cur, width)]


def _numbers(items: Sequence[int]) -> str:
    if not items:
        return ""
    first, last = min(items), max(items)
    if len(items) == 1:
        return f"finding {first}"
    return f"findings {first}–{last}" if len(items) == last - first + 1 else "findings " + ", ".join(map(str, items))


def _segments_text(segments: Sequence[tuple[str, str]], width: int) -> str:
    labels = [seg_label(s) for s in segments]
    for shown in range(len(labels), 0, -1):
        text = ", ".join(labels[:shown]) + (f" +{len(labels) - shown} more" if shown < len(labels) else "")
        if len(text) <= width or shown == 1:
            return text
    return ""


def ordered_findings(result: Any) -> list[tuple[int, Any]]:
    """The findings in the table's order — by incident, then by rank — with their incident's number."""
    incidents = list(getattr(result, "incidents", []) or [])
    out: list[tuple[int, Any]] = []
    seen: set[int] = set()
    for n, incident in enumerate(incidents, 1):
        for f in incident.findings:
            if id(f) not in seen:
                seen.add(id(f))
                out.append((n, f))
    out += [(0, f) for f in result.findings if id(f) not in seen]
    return out


def incident_lines(result: Any, width: int, numbers: dict[int, list[int]]) -> list[tuple[str, Optional[str]]]:
    """(line, severity to colour or None) of the incidents block."""
    incidents = list(getattr(result, "incidents", []) or [])
    if not incidents:
        return []
    out: list[tuple[str, Optional[str]]] = [(f"{len(incidents)} incident{'s' if len(incidents) != 1 else ''}", None)]
    pad = " " * INDENT
    for n, incident in enumerate(incidents, 1):
        title = wrap(incident.title, width - INDENT, 2)
        out.append((f"{n:>2} {incident.severity:<7} {title[0]}", incident.severity))
        out += [(pad + line, None) for line in title[1:]]
        where = _numbers(numbers.get(n, []))
        seg = _segments_text(incident.segments, width - INDENT - len(where) - 3)
        out.append((fit(pad + " · ".join(t for t in (seg, where) if t), width), None))
        out += [(pad + line, None) for line in wrap(f"→ {incident.action}", width - INDENT, 2)]
    return out


def _columns(findings: Sequence[Any], width: int) -> dict[str, int]:
    cols = {"#": max(2, len(str(len(findings)))), "severity": 8,
            "segment": min(MAX_SEGMENT, max([len("segment")] + [len(seg_label((f.segment_key, f.segment_value))) for f in findings])),
            "feature": min(MAX_FEATURE, max([len("feature")] + [len(f.feature or "") for f in findings]))}
    if width >= WITH_RULE:
        cols["rule"] = min(MAX_RULE, max([len("rule")] + [len(f.rule) for f in findings]))
    return cols


def finding_lines(rows: Sequence[tuple[int, Any]], width: int) -> list[tuple[str, Optional[str]]]:
    out: list[tuple[str, Optional[str]]] = [("findings", None)]
    findings = [f for _, f in rows]
    if width < WIDE:
        for i, f in enumerate(findings, 1):
            head = f"{i:>2} {f.severity:<7} " + " · ".join((f.rule, seg_label((f.segment_key, f.segment_value)), f.feature))
            out.append((fit(head, width), f.severity))
            text = f"{f.message} → {f.action}" if f.action else f.message
            out += [("   " + line, None) for line in wrap(text, width - 3, 2)]
        return out
    cols = _columns(findings, width)
    order = ["#", "severity"] + (["rule"] if "rule" in cols else []) + ["segment", "feature"]
    left = sum(cols[c] + 1 for c in order)
    rest = width - left

    def row(values: dict[str, str], text: str) -> str:
        cells = [values.get(c, "").rjust(cols[c]) if c == "#" else fit(values.get(c, ""), cols[c]).ljust(cols[c])
                 for c in order]
        return (" ".join(cells) + " " + text).rstrip()

    out.append((row({c: c for c in order}, "finding → action"), None))
    for i, f in enumerate(findings, 1):
        message = wrap(f.message, rest, 2)
        action = wrap(f"→ {f.action}", rest, 3 - len(message)) if f.action else []
        values = {"#": str(i), "severity": f.severity, "rule": f.rule, "feature": f.feature or "",
                  "segment": seg_label((f.segment_key, f.segment_value))}
        out.append((row(values, message[0]), f.severity))
        out += [(" " * left + line, None) for line in message[1:] + action]
    return out


def table_lines(result: Any, width: int, *, limit: Optional[int] = None,
                more_hint: str = "") -> list[tuple[str, Optional[str]]]:
    """Every line of the terminal view, with the severity that colours it (or None)."""
    out: list[tuple[str, Optional[str]]] = [(line, None) for line in header_lines(result, width)]
    out += [(fit(f"note: {note}", width), None) for note in result.notes]
    if not result.findings:
        return out + [("no drift found", None)]
    rows = ordered_findings(result)
    shown = rows[:limit] if limit else rows
    numbers: dict[int, list[int]] = {}
    for i, (n, _) in enumerate(shown, 1):
        numbers.setdefault(n, []).append(i)
    out += [("", None)] + incident_lines(result, width, numbers) + [("", None)] + finding_lines(shown, width)
    if len(shown) < len(rows):
        out.append((fit(f"... and {len(rows) - len(shown)} more finding(s) (--top 0 shows all{more_hint})", width), None))
    out.append((summary_line(result.findings), None))
    return out


def print_table(result: Any, console: Any = None, *, limit: Optional[int] = None, more_hint: str = "") -> None:
    """Print the terminal view of ``result`` (the first ``limit`` findings; None or 0: all).
    ``more_hint`` completes the line about findings left out (e.g. ``"; all in the JSON report"``)."""
    from rich.console import Console
    from rich.text import Text

    if console is None:
        console = Console(highlight=False)
    width = width_of(console)
    for line, severity in table_lines(result, width, limit=limit, more_hint=more_hint):
        text = Text(line)
        if severity:
            start = line.index(severity)
            text.stylize(SEVERITY_STYLE.get(severity, ""), start, start + len(severity))
        console.print(text, no_wrap=True, overflow="ignore", crop=False, width=max(width, len(line)))


def summary_line(findings: Sequence[Any]) -> str:
    """``3 alerts, 1 warning, 0 info``."""
    counts = severity_counts(findings)
    return ", ".join(f"{n} {k}{'s' if n != 1 and k != 'info' else ''}" for k, n in counts.items())
