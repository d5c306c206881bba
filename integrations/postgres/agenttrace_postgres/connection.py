"""The PostgreSQL side of the core's database layer (:class:`agenttrace.sqldb.SqlDatabase`), shared
by the dead-letter store and the alert store: psycopg 3, ``%s`` placeholders, the schema created once
under an advisory lock (concurrent first starts), connections opened lazily (one per thread) and
dropped when the server goes away, so the next call reconnects.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import psycopg


class PostgresDatabase:
    """Mix in before a :class:`~agenttrace.sqldb.SqlDatabase` subclass; set ``schema`` (statements
    run once per process) and ``schema_lock`` (the advisory lock's name)."""

    param = "%s"
    schema: tuple = ()
    schema_lock = "agenttrace"

    def __init__(self, url: str, connect_timeout: float = 5.0) -> None:
        super().__init__()
        self.url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.connect_timeout = connect_timeout
        self._schema_ready = False

    def _connect(self) -> Any:
        conn = psycopg.connect(self.url, connect_timeout=max(1, int(self.connect_timeout)))
        if not self._schema_ready:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema_lock,))
                for statement in self.schema:
                    cur.execute(statement)
            conn.commit()
            self._schema_ready = True
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        try:
            with super()._transaction() as cur:  # type: ignore[misc]
                yield cur
        except psycopg.OperationalError:
            self._drop_connection()  # the server went away: reconnect at the next call
            raise

    def _drop_connection(self) -> None:
        conn, self._local.conn = getattr(self._local, "conn", None), None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass
