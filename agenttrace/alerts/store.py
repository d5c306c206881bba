"""Alert state, history and the delivery outbox: three tables, the same SQL on SQLite (embedded
default, ``.agenttrace/alerts.sqlite``) and PostgreSQL (a ``postgresql://`` URL, through the
PostgreSQL integration's ``agenttrace.alert_stores`` entry point).

- ``agenttrace_alert_incidents``: one row per incident id — ``open`` or ``resolved``, the peak
  severity, when it opened, was last seen, has been absent since (the clear timer), resolved.
- ``agenttrace_alert_events``: the history, one row per opened / escalated / resolved.
- ``agenttrace_alert_outbox``: one row per (event, notifier), ``pending`` until sent; attempts,
  the next attempt's time and the last error are kept, so a failing row stays visible.

A lifecycle pass runs in one locked transaction (SQLite ``BEGIN IMMEDIATE``, PostgreSQL an
advisory transaction lock): the state change, its history and its outbox rows commit together.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from typing import Any, Iterator, Optional

from .. import plugins
from ..sqldb import SqlDatabase, connect_sqlite, create_private_file, open_target

DEFAULT_PATH = os.path.join(".agenttrace", "alerts.sqlite")
STORE_ENV = "AGENTTRACE_ALERT_STORE"
PENDING, SENT = "pending", "sent"

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS agenttrace_alert_incidents (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, severity TEXT NOT NULL, incident TEXT NOT NULL,
    opened_at DOUBLE PRECISION NOT NULL, last_seen DOUBLE PRECISION NOT NULL,
    absent_since DOUBLE PRECISION, resolved_at DOUBLE PRECISION, openings INTEGER NOT NULL DEFAULT 1)""",
    """CREATE TABLE IF NOT EXISTS agenttrace_alert_events (
    id TEXT PRIMARY KEY, at DOUBLE PRECISION NOT NULL, seq INTEGER NOT NULL, incident_id TEXT NOT NULL,
    kind TEXT NOT NULL, severity TEXT NOT NULL, previous_severity TEXT, incident TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS agenttrace_alert_outbox (
    id TEXT PRIMARY KEY, event_id TEXT NOT NULL, notifier TEXT NOT NULL, payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', created_at DOUBLE PRECISION NOT NULL, seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at DOUBLE PRECISION NOT NULL,
    last_attempt_at DOUBLE PRECISION, last_error TEXT, sent_at DOUBLE PRECISION)""",
    "CREATE INDEX IF NOT EXISTS agenttrace_alert_events_at ON agenttrace_alert_events (at, seq)",
    "CREATE INDEX IF NOT EXISTS agenttrace_alert_outbox_due ON agenttrace_alert_outbox (status, next_attempt_at)",
)
INCIDENT_COLUMNS = ("id", "status", "severity", "incident", "opened_at", "last_seen", "absent_since",
                    "resolved_at", "openings")
EVENT_COLUMNS = ("id", "at", "seq", "incident_id", "kind", "severity", "previous_severity", "incident")
OUTBOX_COLUMNS = ("id", "event_id", "notifier", "payload", "status", "created_at", "seq", "attempts",
                  "next_attempt_at", "last_attempt_at", "last_error", "sent_at")


def _rows(columns: tuple, rows: list, json_columns: tuple) -> list:
    out = []
    for values in rows:
        row = dict(zip(columns, values))
        for name in json_columns:
            row[name] = json.loads(row[name])
        out.append(row)
    return out


class AlertStore(SqlDatabase):
    """The alert tables over a DB-API connection; subclasses connect and lock."""

    def _lock(self, cur: Any) -> None:
        raise NotImplementedError

    @contextmanager
    def locked(self) -> Iterator[Any]:
        """A transaction that holds the alert lock: one lifecycle pass at a time."""
        with self._transaction() as cur:
            self._lock(cur)
            yield cur

    # -- inside a locked transaction ------------------------------------------------------------
    def known_incidents(self, cur: Any) -> dict:
        cur.execute(f"SELECT {', '.join(INCIDENT_COLUMNS)} FROM agenttrace_alert_incidents")
        return {r["id"]: r for r in _rows(INCIDENT_COLUMNS, cur.fetchall(), ("incident",))}

    def save_incident(self, cur: Any, row: dict, new: bool) -> None:
        values = dict(row, incident=json.dumps(row["incident"]))
        if new:
            sql = (f"INSERT INTO agenttrace_alert_incidents ({', '.join(INCIDENT_COLUMNS)}) "
                   f"VALUES ({', '.join('?' * len(INCIDENT_COLUMNS))})")
            cur.execute(self._sql(sql), tuple(values[c] for c in INCIDENT_COLUMNS))
        else:
            names = INCIDENT_COLUMNS[1:]
            sql = f"UPDATE agenttrace_alert_incidents SET {', '.join(f'{c} = ?' for c in names)} WHERE id = ?"
            cur.execute(self._sql(sql), tuple(values[c] for c in names) + (values["id"],))

    def add_event(self, cur: Any, row: dict) -> None:
        values = dict(row, incident=json.dumps(row["incident"]))
        sql = f"INSERT INTO agenttrace_alert_events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
        cur.execute(self._sql(sql), tuple(values[c] for c in EVENT_COLUMNS))

    def enqueue(self, cur: Any, row: dict) -> None:
        names = ("id", "event_id", "notifier", "payload", "created_at", "seq", "next_attempt_at")
        values = dict(row, payload=json.dumps(row["payload"]))
        sql = f"INSERT INTO agenttrace_alert_outbox ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        cur.execute(self._sql(sql), tuple(values[c] for c in names))

    # -- reads and the delivery bookkeeping (each its own transaction) ------------------------
    def incidents(self, status: Optional[str] = None) -> list:
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        rows = self._run(f"SELECT {', '.join(INCIDENT_COLUMNS)} FROM agenttrace_alert_incidents {where} "
                         "ORDER BY opened_at, id", args, fetch=True)
        return _rows(INCIDENT_COLUMNS, rows, ("incident",))

    def events(self, limit: int = 100) -> list:
        """The latest ``limit`` events, newest first."""
        rows = self._run(f"SELECT {', '.join(EVENT_COLUMNS)} FROM agenttrace_alert_events "
                         f"ORDER BY at DESC, seq DESC LIMIT {int(limit)}", fetch=True)
        return _rows(EVENT_COLUMNS, rows, ("incident",))

    def outbox(self, status: Optional[str] = None, due_before: Optional[float] = None, limit: int = 1000) -> list:
        clauses, args = [], []
        if status:
            clauses.append("status = ?")
            args.append(status)
        if due_before is not None:
            clauses.append("next_attempt_at <= ?")
            args.append(due_before)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._run(f"SELECT {', '.join(OUTBOX_COLUMNS)} FROM agenttrace_alert_outbox {where} "
                         f"ORDER BY created_at, seq LIMIT {int(limit)}", tuple(args), fetch=True)
        return _rows(OUTBOX_COLUMNS, rows, ("payload",))

    def deliveries(self, event_ids: list) -> list:
        """The outbox rows of these events."""
        if not event_ids:
            return []
        marks = ", ".join("?" * len(event_ids))
        rows = self._run(f"SELECT {', '.join(OUTBOX_COLUMNS)} FROM agenttrace_alert_outbox WHERE event_id IN ({marks}) "
                         "ORDER BY created_at, seq", tuple(event_ids), fetch=True)
        return _rows(OUTBOX_COLUMNS, rows, ("payload",))

    def mark_sent(self, delivery_id: str, at: float) -> bool:
        return bool(self._run("UPDATE agenttrace_alert_outbox SET status = 'sent', sent_at = ?, last_attempt_at = ?, "
                              "attempts = attempts + 1, last_error = NULL WHERE id = ? AND status = 'pending'",
                              (at, at, delivery_id)))

    def mark_failed(self, delivery_id: str, at: float, next_attempt_at: float, error: str) -> bool:
        return bool(self._run("UPDATE agenttrace_alert_outbox SET attempts = attempts + 1, last_attempt_at = ?, "
                              "next_attempt_at = ?, last_error = ? WHERE id = ? AND status = 'pending'",
                              (at, next_attempt_at, error[:1000], delivery_id)))


class SQLiteAlertStore(AlertStore):
    """The embedded store: one SQLite file (WAL, ``synchronous=FULL``), mode 0600."""

    def __init__(self, path: str = DEFAULT_PATH) -> None:
        super().__init__()
        self.path = create_private_file(path)
        self.url = self.path
        for statement in SCHEMA:
            self._run(statement)

    def _connect(self) -> Any:
        return connect_sqlite(self.path)

    def _lock(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")  # the write lock before reading the state it changes


def default_target() -> str:
    """``AGENTTRACE_ALERT_STORE``, else ``.agenttrace/alerts.sqlite``."""
    return os.environ.get(STORE_ENV, "").strip() or DEFAULT_PATH


def open_alert_store(target: Any = None) -> AlertStore:
    """A store from a file path (SQLite), a ``postgresql://`` URL (the PostgreSQL integration) or a
    store object; ``None``: ``AGENTTRACE_ALERT_STORE``, else ``.agenttrace/alerts.sqlite``."""
    if target is None:
        target = default_target()
    if not isinstance(target, (str, os.PathLike)):
        return target
    return open_target(os.fspath(target), plugins.ALERT_STORES, "alert store", SQLiteAlertStore)
