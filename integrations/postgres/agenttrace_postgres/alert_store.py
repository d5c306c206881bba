"""The alert tables (state, history, outbox) in PostgreSQL: the core's SQL
(:class:`agenttrace.alerts.store.AlertStore`) over this integration's connection; a lifecycle pass
holds an advisory transaction lock, so two watchers on one database never interleave."""

from __future__ import annotations

from typing import Any

from agenttrace.alerts.store import SCHEMA, AlertStore

from .connection import PostgresDatabase


class PostgresAlertStore(PostgresDatabase, AlertStore):
    schema = SCHEMA
    schema_lock = "agenttrace_alerts"

    def _lock(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('agenttrace_alerts_pass'))")
