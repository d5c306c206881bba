"""Links from the drift report to the Phoenix runs an incident concerns.

Phoenix 20.26's project page reads its filter from the URL: ``spanFilterCondition`` on the spans
tab (span-grain: ``annotations['name'].label == 'alert'`` matches the span annotations the drift
command writes on the root span of each affected run), ``traceFilterCondition`` on the traces tab
(trace-grain: it accepts only ``trace_annotations[...]``), and its time range from
``timeRangeStart`` / ``timeRangeEnd`` (ISO 8601). So a link opens the spans tab filtered to the
annotated runs over the current window (Phoenix would otherwise open on "Last 7 Days"). The page
is addressed by the project's id, which Phoenix's REST API gives for its name
(``GET /v1/projects/{name}``); when Phoenix cannot be asked, the link goes to
``/redirects/projects/{name}`` (which drops any query string) and the report shows the filter to
paste beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional, Sequence
from urllib.parse import quote, urlencode


@dataclass
class PhoenixProject:
    url: str                  # Phoenix base URL, e.g. http://127.0.0.1:6006
    name: str                 # project name
    id: Optional[str] = None  # Phoenix's id of the project (None: not known; links use the redirect by name)

    def runs_link(self, condition: str, window: Optional[Sequence[datetime]] = None) -> str:
        """The spans tab filtered by ``condition`` over ``window``; without an id, the project page."""
        if self.id is None:
            return f"{self.url}/redirects/projects/{quote(self.name, safe='')}"
        query = {"spanFilterCondition": condition}
        if window is not None:
            query.update(timeRangeStart=_iso(window[0]), timeRangeEnd=_iso(window[1]))
        return f"{self.url}/projects/{quote(self.id, safe='')}/spans?{urlencode(query, quote_via=quote)}"

    @property
    def filters_in_link(self) -> bool:
        return self.id is not None


def _iso(value: datetime) -> str:
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def project_id(url: str, name: str) -> Optional[str]:
    """Phoenix's id of project ``name``, asked by the Phoenix integration; None when that is not
    installed, Phoenix cannot be reached or has no such project."""
    try:
        from agenttrace_phoenix.store import project_id as lookup
    except ImportError:
        return None
    return lookup(url, name)


def phoenix_project(url: Optional[str], name: Optional[str], *, resolve: bool = True) -> Optional[PhoenixProject]:
    """The project the report links to (None without both a URL and a name); its id looked up
    when ``resolve``."""
    if not url or not name:
        return None
    url = url.rstrip("/")
    return PhoenixProject(url, name, project_id(url, name) if resolve else None)


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def incident_condition(incident: Any) -> str:
    """The Phoenix filter matching the runs annotated for an incident: each of its findings'
    annotations with the finding's severity as label, ``or``-joined (the incident's
    ``annotations`` when it lists them, else every finding's)."""
    names = list(getattr(incident, "annotations", None) or [])
    pairs: dict[tuple[str, str], None] = {}
    for finding in incident.findings:
        if finding.annotation and (not names or finding.annotation in names):
            pairs[(finding.annotation, finding.severity)] = None
    parts = [f"annotations[{_quoted(n)}].label == {_quoted(s)}" for n, s in pairs]
    return " or ".join(parts)
