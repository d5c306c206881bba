"""Drift reports: a ranked table in the terminal, a JSON file, and one self-contained HTML page.

This module has the formatting shared by all three, the terminal table and the JSON report; the
HTML page is drawn by :mod:`.report_html` (its plots in :mod:`.report_plots`, what they show read
by :mod:`.report_data`, the links to Phoenix built by :mod:`.report_links`).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

OVERALL = "*"
SEVERITY_STYLE = {"alert": "bold red", "warning": "yellow", "info": "cyan"}
SEVERITY_COLOUR = {"alert": "#c62828", "warning": "#b26a00", "info": "#1565c0"}


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


# --- terminal ---------------------------------------------------------------------------------


def print_table(result: Any, console: Any = None, *, limit: Optional[int] = None) -> None:
    """Print the windows, row counts and notes, then the ranked findings as a rich table
    (the first ``limit`` of them; None or 0: all)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if console is None:
        console = Console()
        if not console.is_terminal:  # CI logs and files: don't squeeze the table into 80 columns
            console = Console(width=max(console.width, 160))
    console.print(header_line(result), highlight=False)
    for note in result.notes:
        console.print(Text(f"note: {note}", style="dim"))
    if not result.findings:
        console.print(Text("no drift found", style="bold green"))
        return
    table = Table(show_lines=False, header_style="bold")
    for name, kw in (("#", {"justify": "right"}), ("severity", {}), ("rule", {}), ("segment", {}), ("feature", {}),
                     ("finding", {"ratio": 3}), ("action", {"ratio": 2})):
        table.add_column(name, overflow="fold", **kw)
    shown = result.findings[:limit] if limit else result.findings
    for i, f in enumerate(shown, 1):
        table.add_row(str(i), Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")), Text(f.rule),
                      Text(format_segment(f)), Text(f.feature or ""), Text(f.message or ""), Text(f.action or ""))
    console.print(table)
    if len(shown) < len(result.findings):
        console.print(f"... and {len(result.findings) - len(shown)} more finding(s) of lower rank: see the JSON and "
                      "HTML reports", highlight=False)
    console.print(summary_line(result.findings), highlight=False)


def summary_line(findings: Sequence[Any]) -> str:
    """``3 alerts, 1 warning, 0 info``."""
    counts = severity_counts(findings)
    return ", ".join(f"{n} {k}{'s' if n != 1 and k != 'info' else ''}" for k, n in counts.items())


# --- JSON -------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def _finite(value: Any) -> Any:
    """NaN and infinities → None, so the file is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _iso(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as the findings' own times."""
    return _utc(value).isoformat().replace("+00:00", "Z")


def report_dict(result: Any) -> dict:
    """The JSON report: ``meta`` (windows, row counts, notes, counts by severity) and ``findings``."""
    from agenttrace import __version__

    return {
        "meta": {
            "generated_at": _iso(datetime.now(timezone.utc)),
            "agenttrace_version": __version__,
            "baseline": {"start": _iso(result.baseline[0]), "end": _iso(result.baseline[1]), "rows": result.rows_baseline},
            "current": {"start": _iso(result.current[0]), "end": _iso(result.current[1]), "rows": result.rows_current},
            "counts": severity_counts(result.findings),
            "notes": list(result.notes),
        },
        "findings": [f.to_dict() for f in result.findings],
    }


def to_json(result: Any, path: str | Path) -> Path:
    """Write the JSON report to ``path`` (parent directories are created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(report_dict(result)), indent=2, default=_json_default, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


# --- HTML -------------------------------------------------------------------------------------


def to_html(result: Any, store: Any, path: str | Path, **options: Any) -> Path:
    """Write the self-contained HTML report (see :func:`agenttrace_whylogs.report_html.to_html`
    for the options: the drift config and metric profiles whose thresholds are drawn, the Phoenix
    URL and project the incidents link to, ...); returns the path. matplotlib is imported here,
    when a report is drawn."""
    from .report_html import to_html as write_html

    return write_html(result, store, path, **options)
