"""Alerting: de-duplicated incidents, their history, and notifications that are never lost.

API (what ``agenttrace watch`` builds on):

- :class:`AlertIncident` ``(id, severity, title, evidence, cause, link, action, key, segments,
  first_seen)`` — one detected condition; ``id`` is stable across passes, ``severity`` one of
  ``info`` < ``warning`` < ``alert``, ``evidence`` one line, ``link`` a Phoenix view of the
  affected runs. ``AlertIncident.from_dict(d)`` takes the same keys as a plain dict.
- :func:`open_alert_store` ``(target=None)`` — ``None``: ``AGENTTRACE_ALERT_STORE``, else SQLite at
  ``.agenttrace/alerts.sqlite``; a file path: SQLite; ``postgresql://...``: PostgreSQL (the
  PostgreSQL integration, entry point group ``agenttrace.alert_stores``).
- :class:`Alerter` ``(store, notifiers, resolve_after=timedelta(minutes=60))``:

  - ``observe(incidents, now) -> list[AlertEvent]``: new id → ``opened``; same id, higher severity
    → ``escalated``; same id otherwise → ``last_seen`` only; open id missing from the pass → resolved
    once missing for ``resolve_after``; back after resolution → ``opened`` again. Events go to the
    history and their notifications to the outbox in the same transaction as the state change.
  - ``deliver(now) -> DeliveryStats`` (sent, failed, deferred, unrouted, pending, errors): sends due
    outbox rows; a failure is retried with capped exponential backoff (30 s doubling to 1 h, jitter
    ×[0.5, 1]) for ever; rows survive restarts.
  - ``history(limit)``, ``pending()``, ``incidents(status)`` for display.

- :mod:`agenttrace.alerts.notifiers`: ``WebhookNotifier(url, headers=None, timeout=10)``,
  ``SlackNotifier(url)``, ``SmtpNotifier(host, port, sender, recipients, username, password,
  starttls)``, ``notifier_from_spec("webhook:URL" | "slack:URL" | "smtp://host?to=..." | dict)``.

Delivery is at-least-once: a kill -9 after a receiver accepted a message and before its row was
marked sent resends it once, with the same ``delivery_id`` (payload field, header
``X-Agenttrace-Delivery-Id``, e-mail ``Message-ID``) for the receiver to dedupe. docs/alerts.md.
"""

from .alerter import Alerter, DeliveryStats, backoff_delay
from .model import ESCALATED, OPENED, RESOLVED, SEVERITIES, AlertEvent, AlertIncident
from .store import AlertStore, SQLiteAlertStore, default_target, open_alert_store

__all__ = ["Alerter", "AlertEvent", "AlertIncident", "AlertStore", "DeliveryStats", "ESCALATED", "OPENED",
           "RESOLVED", "SEVERITIES", "SQLiteAlertStore", "backoff_delay", "default_target", "open_alert_store"]
