"""The dead-letter table in PostgreSQL (psycopg 3), for a queue several machines write and replay.

The SQL is the core's (:class:`agenttrace.dead_letter_store.SqlStore`); what differs is the
connection and the claim: ``SELECT ... FOR UPDATE SKIP LOCKED`` — two replayers at once each lock
different rows and never wait on each other. Connections open lazily (one per thread), so an
unreachable server at start-up is a counted, retried store error, not a crash of the agent.
"""

from __future__ import annotations

from typing import Any

import psycopg

from agenttrace.dead_letter_store import INDEX, SCHEMA, SqlStore


class PostgresStore(SqlStore):
    param = "%s"

    def __init__(self, url: str, connect_timeout: float = 5.0) -> None:
        super().__init__()
        self.url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.connect_timeout = connect_timeout
        self._schema_ready = False

    def _connect(self) -> Any:
        conn = psycopg.connect(self.url, connect_timeout=max(1, int(self.connect_timeout)))
        if not self._schema_ready:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(hashtext('agenttrace_dead_letter'))")  # concurrent first starts
                cur.execute(SCHEMA)
                cur.execute(INDEX)
            conn.commit()
            self._schema_ready = True
        return conn

    def _run(self, sql: str, args: tuple = (), fetch: bool = False) -> Any:
        try:
            return super()._run(sql, args, fetch)
        except psycopg.OperationalError:
            self._drop_connection()  # the server went away: reconnect at the next call
            raise

    def add_many(self, entries: list) -> None:
        try:
            super().add_many(entries)
        except psycopg.OperationalError:
            self._drop_connection()
            raise

    def _drop_connection(self) -> None:
        conn, self._local.conn = getattr(self._local, "conn", None), None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    def _claim_ids(self, cur: Any, where: str, args: tuple, limit: int) -> list:
        cur.execute(self._sql(f"SELECT id FROM agenttrace_dead_letter WHERE {where} ORDER BY created_at "
                              f"LIMIT {int(limit)} FOR UPDATE SKIP LOCKED"), args)
        return [r[0] for r in cur.fetchall()]
