"""The database layer the dead-letter queue and the alert store share: a DB-API connection per
thread, transactions, one SQL dialect for SQLite (embedded default) and PostgreSQL.

A store subclasses :class:`SqlDatabase` and writes its SQL with ``?`` placeholders; the PostgreSQL
integration's connection class (``agenttrace_postgres.connection``) swaps them for ``%s``.
SQLite files are created with mode 0600 in WAL mode with ``synchronous=FULL``: a committed
transaction survives a kill -9 of the writing process.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator


class SqlDatabase:
    """A connection per thread (opened lazily by :meth:`_connect`) and transactions over it."""

    param = "?"  # the driver's placeholder

    def __init__(self) -> None:
        self._local = threading.local()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self.param) if self.param != "?" else sql

    def _connect(self) -> Any:
        raise NotImplementedError

    @property
    def conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor whose work is committed at the end of the block, rolled back on an error."""
        conn = self.conn
        cur = conn.cursor()
        try:
            yield cur
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            cur.close()

    def _run(self, sql: str, args: tuple = (), fetch: bool = False) -> Any:
        with self._transaction() as cur:
            cur.execute(self._sql(sql), args)
            return cur.fetchall() if fetch else cur.rowcount

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            conn.close()


def create_private_file(path: str) -> str:
    """Create ``path`` (and its directory) with mode 0600 if missing; SQLite gives its -wal/-shm
    files the same mode."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    return path


def connect_sqlite(path: str) -> sqlite3.Connection:
    """A connection in WAL mode with ``synchronous=FULL`` (durable commits), deferred transactions."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.isolation_level = "DEFERRED"
    return conn


def open_target(text: str, group: str, what: str, sqlite_factory: Callable[[str], Any]) -> Any:
    """A store for ``text``: a ``postgresql://`` URL through the PostgreSQL integration's entry
    point in ``group``, else a file path for ``sqlite_factory``; ``what`` names the store in errors."""
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        from . import plugins

        try:
            factory = plugins.load(group, "postgresql")
        except plugins.PluginMissing as err:
            raise RuntimeError(f"agenttrace: a PostgreSQL {what} needs {err}") from None
        return factory(text)
    if scheme:
        raise ValueError(f"agenttrace: {what} {text!r}: unknown scheme {scheme!r} "
                         "(a file path for SQLite, or a postgresql:// URL)")
    return sqlite_factory(text)
