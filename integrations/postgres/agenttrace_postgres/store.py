"""The dead-letter table in PostgreSQL (psycopg 3), for a queue several machines write and replay.

The SQL is the core's (:class:`agenttrace.dead_letter_store.SqlStore`); what differs is the
connection (:mod:`agenttrace_postgres.connection`) and the claim: ``SELECT ... FOR UPDATE SKIP
LOCKED`` — two replayers at once each lock different rows and never wait on each other.
Connections open lazily (one per thread), so an unreachable server at start-up is a counted,
retried store error, not a crash of the agent.
"""

from __future__ import annotations

from typing import Any

from agenttrace.dead_letter_store import INDEX, SCHEMA, SqlStore

from .connection import PostgresDatabase


class PostgresStore(PostgresDatabase, SqlStore):
    schema = (SCHEMA, INDEX)
    schema_lock = "agenttrace_dead_letter"

    def _claim_ids(self, cur: Any, where: str, args: tuple, limit: int) -> list:
        cur.execute(self._sql(f"SELECT id FROM agenttrace_dead_letter WHERE {where} ORDER BY created_at "
                              f"LIMIT {int(limit)} FOR UPDATE SKIP LOCKED"), args)
        return [r[0] for r in cur.fetchall()]
