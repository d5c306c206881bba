"""The drift result as a table in the terminal (rich)."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from .report import format_segment, header_line, severity_counts

SEVERITY_STYLE = {"alert": "bold red", "warning": "yellow", "info": "cyan"}


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


