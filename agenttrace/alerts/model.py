"""What the alerter works on: an incident as the detectors hand it over, the lifecycle events, and
the JSON payload of a notification (the same document every notifier formats)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

SEVERITIES = ("info", "warning", "alert")  # ascending: "escalated" means a later one in this tuple
OPENED, ESCALATED, RESOLVED = "opened", "escalated", "resolved"
PAYLOAD_SCHEMA = "agenttrace.alert/1"


def severity_rank(severity: str) -> int:
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        raise ValueError(f"agenttrace: unknown alert severity {severity!r} (one of {', '.join(SEVERITIES)})") from None


@dataclass
class AlertIncident:
    """One detected condition. ``id`` is stable across passes (rule, segment, feature, cause): the
    alerter de-duplicates on it. ``evidence`` is one line; ``link`` a Phoenix view of the affected runs."""

    id: str
    severity: str
    title: str
    evidence: str = ""
    cause: Optional[str] = None
    link: Optional[str] = None
    action: str = ""
    key: str = ""
    segments: list = field(default_factory=list)
    first_seen: Optional[datetime] = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("agenttrace: an alert incident needs an id")
        severity_rank(self.severity)
        self.evidence = " ".join(str(self.evidence or "").split())  # one line, whatever was passed

    @classmethod
    def from_dict(cls, data: dict) -> "AlertIncident":
        """From a plain dict with the same keys (unknown keys ignored; ``first_seen`` ISO text or datetime)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if isinstance(values.get("first_seen"), str):  # "Z" is not ISO to Python 3.10's fromisoformat
            values["first_seen"] = datetime.fromisoformat(values["first_seen"].replace("Z", "+00:00"))
        values["segments"] = list(values.get("segments") or [])
        return cls(**values)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["first_seen"] = iso(self.first_seen)
        return data


def as_incident(value: Any) -> AlertIncident:
    return value if isinstance(value, AlertIncident) else AlertIncident.from_dict(dict(value))


@dataclass
class AlertEvent:
    """A lifecycle step of one incident, as written to the history."""

    id: str
    kind: str  # opened | escalated | resolved
    at: datetime
    incident: AlertIncident
    previous_severity: Optional[str] = None

    def to_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "at": iso(self.at), "incident": self.incident.to_dict(),
                "previous_severity": self.previous_severity}


def iso(moment: Optional[datetime]) -> Optional[str]:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a naive time is local time
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def from_epoch(seconds: Optional[float]) -> Optional[datetime]:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


def payload(event: AlertEvent, delivery_id: str, state: dict) -> dict:
    """The notification document (``schema`` ``agenttrace.alert/1``): what a webhook receives as is,
    and what the Slack and e-mail notifiers format. ``delivery_id`` is the same on every retry of
    one delivery — a receiver dedupes on it."""
    incident = event.incident.to_dict()
    incident.update(previous_severity=event.previous_severity, opened_at=iso(from_epoch(state.get("opened_at"))),
                    last_seen=iso(from_epoch(state.get("last_seen"))),
                    resolved_at=iso(from_epoch(state.get("resolved_at"))))
    return {"schema": PAYLOAD_SCHEMA, "delivery_id": delivery_id, "event_id": event.id, "event": event.kind,
            "at": iso(event.at), "incident": incident}
