"""The alert history of ``agenttrace watch``: as a table (``agenttrace watch --history``) and as the
alert timeline of the HTML drift report (incidents per rule over time).

History rows come from ``agenttrace.alerts.Alerter.history()``, one per event (opened, escalated,
resolved); :func:`normalise` reads them whether they are mappings or objects.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

FIELDS = ("at", "event", "severity", "id", "title", "key")
ALIASES = {"at": ("at", "time", "timestamp", "when", "created_at"), "event": ("event", "kind", "type"),
           "id": ("incident_id", "id"), "severity": ("severity",), "title": ("title",), "key": ("key",)}
WIDTH = 80


def _get(row: Any, names: Iterable[str]) -> Any:
    incident = row.get("incident") if isinstance(row, dict) else getattr(row, "incident", None)
    for holder in (row, incident):
        if holder is None:
            continue
        for name in names:
            value = holder.get(name) if isinstance(holder, dict) else getattr(holder, name, None)
            if value is not None:
                return value
    return None


def _time(value: Any) -> Optional[datetime]:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, str):
        try:
            return _time(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def normalise(rows: Iterable[Any]) -> list[dict]:
    """``{"at", "event", "severity", "id", "title", "key", "rule"}`` per history row, oldest first."""
    out = []
    for row in rows:
        item = {name: _get(row, ALIASES[name]) for name in FIELDS}
        item["at"] = _time(item["at"])
        item["rule"] = str(item["key"] or "").split("|", 1)[0] or "incident"
        out.append(item)
    return sorted(out, key=lambda r: r["at"] or datetime.min.replace(tzinfo=timezone.utc))


def print_history(rows: Iterable[Any], echo: Callable[[str], None]) -> None:
    """One line per event, 80 columns: time, event, severity, incident id, title."""
    items = normalise(rows)
    if not items:
        echo("no alerts yet")
        return
    echo(f"{'time (UTC)':<16} {'event':<9} {'severity':<8} {'incident':<12} title")
    for r in items:
        when = f"{r['at']:%Y-%m-%d %H:%M}" if r["at"] else "?"
        ident = str(r["id"] or "")[:12]
        line = f"{when:<16} {r['event'] or '?':<9} {r['severity'] or '':<8} {ident:<12} {r['title'] or ''}"
        echo(line if len(line) <= WIDTH else line[: WIDTH - 1] + "…")


def history_from(target: Optional[str | Path] = None) -> list[dict]:
    """The normalised history of the alert store at ``target`` (default: where ``agenttrace watch``
    keeps it, ``AGENTTRACE_ALERT_STORE`` or ``.agenttrace/alerts.sqlite``); empty when there is none."""
    from agenttrace.alerts.store import default_target

    target = target or default_target()
    if "://" not in str(target) and not Path(target).is_file():
        return []
    from agenttrace.alerts import Alerter, open_alert_store

    return normalise(Alerter(open_alert_store(str(target))).history(limit=100_000))


def timeline_plot(rows: list[dict]) -> Optional[str]:
    """Incidents opened (dots) and resolved (rings) per rule over time, as a base64 PNG; None without
    events."""
    from .report_plots import _date_axis, _naive, figure, png

    rows = [r for r in rows if r["at"] is not None]
    if not rows:
        return None
    rules = sorted({r["rule"] for r in rows})
    fig = figure(8.0, 1.2 + 0.45 * len(rules))
    ax = fig.add_subplot(1, 1, 1)
    styles = {"opened": ("o", "C3", "opened"), "escalated": ("^", "C1", "escalated"),
              "resolved": ("o", "none", "resolved")}
    for event, (marker, color, label) in styles.items():
        # events of one rule in the same minute are one marker, with their count beside it
        counts: dict = {}
        for r in rows:
            if r["event"] == event:
                at = _naive(r["at"]).replace(second=0, microsecond=0)
                counts[(at, rules.index(r["rule"]))] = counts.get((at, rules.index(r["rule"])), 0) + 1
        if not counts:
            continue
        ax.scatter([at for at, _ in counts], [y for _, y in counts], marker=marker, s=40, facecolors=color,
                   edgecolors="C3", label=label, zorder=3)
        for (at, y), n in counts.items():
            if n > 1:
                ax.annotate(f"×{n}", (at, y), xytext=(6, 4), textcoords="offset points", fontsize=8)
    times = [_naive(r["at"]) for r in rows]
    if max(times) - min(times) < timedelta(hours=2):  # a single moment: a day around it, not years
        ax.set_xlim(min(times) - timedelta(hours=12), max(times) + timedelta(hours=12))
    ax.set_yticks(range(len(rules)), rules)
    ax.set_ylim(-0.7, len(rules) - 0.3)
    ax.grid(axis="x", alpha=0.3)
    _date_axis(ax)
    ax.legend(loc="upper left", fontsize="small", ncols=3, frameon=False, bbox_to_anchor=(0, 1.25 + 0.1 / len(rules)))
    ax.set_title("Alerts per rule (agenttrace watch)", loc="left", fontsize="medium", pad=22)
    return png(fig, "alert timeline: incidents opened, escalated and resolved per rule over time")
