"""The incident lifecycle and the delivery of its notifications.

``observe`` takes one detection pass: a new id opens (notify), a higher severity escalates
(notify), anything else only refreshes ``last_seen``; an open id missing from a pass starts a clear
timer and resolves (notify once) when it has been missing for ``resolve_after``; it opens again if it
comes back later. The state change, its history rows and its outbox rows commit in ONE transaction.

``deliver`` sends the due outbox rows. A row is marked sent right after its notifier returned;
a failure counts an attempt and schedules the next one with capped exponential backoff and jitter.
Rows are never dropped: one that keeps failing stays ``pending`` with its last error.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Optional

from .model import (ESCALATED, OPENED, RESOLVED, AlertEvent, AlertIncident, as_incident, epoch, from_epoch,
                    payload, severity_rank)
from .store import PENDING, AlertStore, open_alert_store


@dataclass
class DeliveryStats:
    sent: int = 0
    failed: int = 0
    deferred: int = 0  # due, but its notifier already failed in this pass: tried at the next one
    unrouted: int = 0  # due for a notifier not configured in this process: kept pending
    pending: int = 0   # still pending after this pass (due later, failing, or unrouted)
    errors: list = field(default_factory=list)


def backoff_delay(attempts: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds until the next attempt after ``attempts`` failures: ``base * 2**(attempts-1)``,
    capped at ``cap``, scaled by a random factor in [0.5, 1] so failed receivers are not hit in step."""
    delay = min(cap, base * (2 ** max(0, min(attempts - 1, 30))))
    return delay * (0.5 + rng.random() / 2)


def _now(now: Optional[datetime]) -> datetime:
    return now if now is not None else datetime.now(timezone.utc)


class Alerter:
    """De-duplicated incident lifecycle over an alert store, notifying through ``notifiers``
    (objects with ``name`` and ``send(payload)``, see :mod:`agenttrace.alerts.notifiers`)."""

    def __init__(self, store: Any = None, notifiers: Iterable[Any] = (),
                 resolve_after: timedelta = timedelta(minutes=60), backoff_base: float = 30.0,
                 backoff_cap: float = 3600.0, rng: Optional[random.Random] = None) -> None:
        self.store: AlertStore = open_alert_store(store)
        self.notifiers = list(notifiers)
        names = [n.name for n in self.notifiers]
        if len(set(names)) != len(names):
            raise ValueError(f"agenttrace: two notifiers share a name ({', '.join(names)}); give each its own")
        self.resolve_after = resolve_after
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.rng = rng or random.Random()

    # -- lifecycle ------------------------------------------------------------------------------
    def observe(self, incidents: Iterable[Any], now: Optional[datetime] = None) -> list:
        """Apply one detection pass; returns the :class:`AlertEvent` s it produced (already in the
        history, their notifications already in the outbox)."""
        now = _now(now)
        at = epoch(now)
        seen: dict = {}
        for item in incidents:
            incident = as_incident(item)
            kept = seen.get(incident.id)
            if kept is None or severity_rank(incident.severity) > severity_rank(kept.severity):
                seen[incident.id] = incident
        events = []
        with self.store.locked() as cur:
            known = self.store.known_incidents(cur)
            for incident in seen.values():
                events += self._seen(cur, known.get(incident.id), incident, at, now)
            for row in known.values():
                if row["status"] == "open" and row["id"] not in seen:
                    events += self._absent(cur, row, at, now)
            for seq, (event, state) in enumerate(events):
                self._record(cur, event, state, at, seq)
        return [event for event, _ in events]

    def _seen(self, cur: Any, row: Optional[dict], incident: AlertIncident, at: float, now: datetime) -> list:
        data = incident.to_dict()
        if row is None or row["status"] != "open":
            state = {"id": incident.id, "status": "open", "severity": incident.severity, "incident": data,
                     "opened_at": at, "last_seen": at, "absent_since": None, "resolved_at": None,
                     "openings": (row["openings"] + 1) if row else 1}
            self.store.save_incident(cur, state, new=row is None)
            return [(AlertEvent(uuid.uuid4().hex, OPENED, now, incident), state)]
        state = dict(row, incident=data, last_seen=at, absent_since=None)
        if severity_rank(incident.severity) > severity_rank(row["severity"]):
            state["severity"] = incident.severity
            self.store.save_incident(cur, state, new=False)
            return [(AlertEvent(uuid.uuid4().hex, ESCALATED, now, incident, row["severity"]), state)]
        state["severity"] = row["severity"]  # the peak stays: a lower severity is no news
        self.store.save_incident(cur, state, new=False)
        return []

    def _absent(self, cur: Any, row: dict, at: float, now: datetime) -> list:
        state = dict(row)
        if state["absent_since"] is None:
            state["absent_since"] = at
        if at - state["absent_since"] < self.resolve_after.total_seconds():
            if row["absent_since"] is None:
                self.store.save_incident(cur, state, new=False)
            return []
        state.update(status="resolved", resolved_at=at)
        self.store.save_incident(cur, state, new=False)
        incident = as_incident(dict(row["incident"], severity=row["severity"]))
        return [(AlertEvent(uuid.uuid4().hex, RESOLVED, now, incident), state)]

    def _record(self, cur: Any, event: AlertEvent, state: dict, at: float, seq: int) -> None:
        self.store.add_event(cur, {"id": event.id, "at": at, "seq": seq, "incident_id": event.incident.id,
                                   "kind": event.kind, "severity": event.incident.severity,
                                   "previous_severity": event.previous_severity,
                                   "incident": event.incident.to_dict()})
        for index, notifier in enumerate(self.notifiers):
            delivery_id = uuid.uuid4().hex
            self.store.enqueue(cur, {"id": delivery_id, "event_id": event.id, "notifier": notifier.name,
                                     "payload": payload(event, delivery_id, state), "created_at": at,
                                     "seq": seq * 1000 + index, "next_attempt_at": at})

    # -- delivery -------------------------------------------------------------------------------
    def deliver(self, now: Optional[datetime] = None) -> DeliveryStats:
        """Send every due pending row once; returns what happened."""
        at = epoch(_now(now))
        stats = DeliveryStats()
        by_name = {n.name: n for n in self.notifiers}
        failing: set = set()
        for row in self.store.outbox(status=PENDING, due_before=at + 1e-6):  # times shown as datetimes: µs
            notifier = by_name.get(row["notifier"])
            if notifier is None:
                stats.unrouted += 1
                continue
            if notifier.name in failing:
                stats.deferred += 1
                continue
            try:
                notifier.send(row["payload"])
            except Exception as err:  # noqa: BLE001 — any failure of a receiver is retried later
                failing.add(notifier.name)
                error = f"{type(err).__name__}: {err}"
                delay = backoff_delay(row["attempts"] + 1, self.backoff_base, self.backoff_cap, self.rng)
                self.store.mark_failed(row["id"], at, at + delay, error)
                stats.failed += 1
                stats.errors.append(f"{notifier.name}: {error}")
                continue
            self.store.mark_sent(row["id"], epoch(datetime.now(timezone.utc)))
            stats.sent += 1
        stats.pending = len(self.store.outbox(status=PENDING))
        return stats

    # -- display --------------------------------------------------------------------------------
    def history(self, limit: int = 100) -> list:
        """The latest events, newest first, each with its deliveries (status, attempts, last error)."""
        events = self.store.events(limit)
        deliveries: dict = {}
        for row in self.store.deliveries([e["id"] for e in events]):
            deliveries.setdefault(row["event_id"], []).append(_delivery(row))
        for event in events:
            event["at"] = from_epoch(event["at"])
            event["deliveries"] = deliveries.get(event["id"], [])
        return events

    def pending(self) -> list:
        """Deliveries not yet sent (due later, failing, or for a notifier not configured here)."""
        return [_delivery(row) for row in self.store.outbox(status=PENDING, limit=100000)]

    def incidents(self, status: Optional[str] = None) -> list:
        """Incident states (``open`` / ``resolved`` / all), times as datetimes."""
        rows = self.store.incidents(status)
        for row in rows:
            for name in ("opened_at", "last_seen", "absent_since", "resolved_at"):
                row[name] = from_epoch(row[name])
        return rows


def _delivery(row: dict) -> dict:
    return {"delivery_id": row["id"], "event_id": row["event_id"], "notifier": row["notifier"],
            "status": row["status"], "attempts": row["attempts"], "event": row["payload"]["event"],
            "incident_id": row["payload"]["incident"]["id"], "next_attempt_at": from_epoch(row["next_attempt_at"]),
            "last_error": row["last_error"], "sent_at": from_epoch(row["sent_at"])}
