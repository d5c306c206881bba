"""Drift reports: the formatting shared by the terminal table (:mod:`.table`), the JSON report
(:mod:`.json_report`), the Markdown output (:mod:`.markdown`) and the self-contained HTML page,
which :func:`.report_html.to_html` draws (its plots in :mod:`.report_plots`, what they show read by
:mod:`.report_data`, the links to Phoenix built by :mod:`.report_links`; matplotlib is imported only
when a report is drawn).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Iterable, Optional, Sequence

OVERALL = "*"
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
