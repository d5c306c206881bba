"""What ``agenttrace drift`` prints and writes: the chosen format on stdout (``table``, ``json``,
``markdown``) and the report files (JSON, HTML), with a status line for each file written."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

import click

DEFAULT_REPORT_DIR = Path(".agenttrace") / "reports"
DASH = Path("-")


def output_format(fmt: str, fmt_given: bool, json_path: Optional[Path], html_path: Optional[Path]) -> str:
    """The document printed on stdout: ``--json -`` means ``--format json`` (an explicit other
    --format is bad input, ``ValueError``: both would go to stdout); ``--html -`` is bad input."""
    if html_path == DASH:
        raise ValueError("--html -: the HTML report is a page to open, not a stream: name a file (--json - or "
                       "--format json|markdown print to stdout)")
    if json_path == DASH:
        if fmt_given and fmt != "json":
            raise ValueError(f"--json - and --format {fmt} both write to stdout: use one of them")
        return "json"
    return fmt


def status_printer(fmt: str):
    """Status lines (reports written, annotations, profiling) go to stdout under the table, to
    stderr when stdout carries a JSON or Markdown document."""
    return lambda line: click.echo(line, err=fmt != "table")


def write_outputs(result: Any, store: Any, *, fmt: str, json_path: Optional[Path], html_path: Optional[Path],
                  no_reports: bool, top: int, progress: bool, say: Callable[[str], None],
                  html_options: Optional[dict] = None) -> None:
    """Print ``result`` on stdout as ``fmt``, then write the reports: the paths given, else (unless
    ``no_reports``) ``.agenttrace/reports/drift-<UTC time>.json/.html``; ``html_options`` go to
    :func:`.report_html.to_html` (drift config, metric profiles, Phoenix URL and project). Raises
    ``OSError`` (with the file) when a report cannot be written."""
    from . import json_report

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    if json_path is None and not no_reports:
        json_path = DEFAULT_REPORT_DIR / f"drift-{stamp}.json"
    if html_path is None and not no_reports:
        html_path = DEFAULT_REPORT_DIR / f"drift-{stamp}.html"
    if fmt == "json":
        click.echo(json_report.report_text(result))
    elif fmt == "markdown":
        from .markdown import to_markdown

        click.echo(to_markdown(result), nl=False)
    else:
        from .table import print_table

        hint = "; all in the JSON report" if json_path is not None else ""
        print_table(result, limit=top, more_hint=hint)
    if json_path is not None:
        say(f"JSON report: {json_report.to_json(result, json_path)}")
    if html_path is not None:
        from .report_html import to_html  # matplotlib: imported when a report is drawn

        say(f"HTML report: {to_html(result, store, html_path, progress=progress, **(html_options or {}))}")
