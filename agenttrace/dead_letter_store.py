"""Where dead-letter entries live: one table, the same SQL on SQLite (embedded default) and PostgreSQL.

An entry goes ``pending`` → ``replaying`` (claimed by one replayer, with a lease) → ``replayed``
(never taken again) or ``failed`` (with the replay's error; taken again only when asked to);
``resolved`` closes it by hand.
Claiming is the only step two replayers race on: SQLite takes it in an immediate transaction (one
writer at a time), PostgreSQL with ``SELECT ... FOR UPDATE SKIP LOCKED``. A claim whose replayer
died is taken again once its lease has passed.

The SQLite file is created with mode 0600 (it holds the runs' inputs) in WAL mode with
``synchronous=FULL``: a committed entry survives a kill -9 of the writing process.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from typing import Any, Iterable, Optional

from .sqldb import SqlDatabase, connect_sqlite, create_private_file, open_target

DEFAULT_PATH = os.path.join(".agenttrace", "dead-letter.sqlite")
STORE_ENV = "AGENTTRACE_DEAD_LETTER"
DEFAULT_LEASE = 600.0  # seconds a claim is held before another replayer may take the entry again

PENDING, REPLAYING, REPLAYED, FAILED, RESOLVED = "pending", "replaying", "replayed", "failed", "resolved"
COLUMNS = ("id", "created_at", "trace_id", "span_id", "agent", "replay_agent", "input", "metadata", "tags",
           "error_type", "error_message", "attempts", "status", "replays", "claimed_by", "claimed_at",
           "replayed_at", "replay_trace_id", "replay_error", "note")
_JSON = ("input", "metadata", "tags")

SCHEMA = """CREATE TABLE IF NOT EXISTS agenttrace_dead_letter (
    id TEXT PRIMARY KEY, created_at DOUBLE PRECISION NOT NULL, trace_id TEXT, span_id TEXT, agent TEXT,
    replay_agent TEXT, input TEXT, metadata TEXT, tags TEXT, error_type TEXT, error_message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'pending',
    replays INTEGER NOT NULL DEFAULT 0, claimed_by TEXT, claimed_at DOUBLE PRECISION,
    replayed_at DOUBLE PRECISION, replay_trace_id TEXT, replay_error TEXT, note TEXT)"""
INDEX = "CREATE INDEX IF NOT EXISTS agenttrace_dead_letter_status ON agenttrace_dead_letter (status, created_at)"


def claimable(include_failed: bool) -> str:
    """The entries a replayer may take: pending ones, claims whose lease has passed (first ``?``)
    and, when asked, failed replays from before this replayer started (second ``?``)."""
    failed = " OR (status = 'failed' AND replayed_at < ?)" if include_failed else ""
    return f"(status = 'pending' OR (status = 'replaying' AND claimed_at < ?){failed})"


def _row(values: Iterable[Any]) -> dict:
    entry = dict(zip(COLUMNS, values))
    for key in _JSON:
        if entry.get(key) is not None:
            try:
                entry[key] = json.loads(entry[key])
            except ValueError:
                pass
    return entry


class SqlStore(SqlDatabase):
    """The dead-letter table over a DB-API connection; subclasses connect and claim."""

    def _claim_ids(self, cur: Any, where: str, args: tuple, limit: int) -> list:
        raise NotImplementedError

    def add_many(self, entries: list) -> None:
        """Write ``entries`` in one transaction; when this returns they are durable."""
        names = [c for c in COLUMNS if c not in ("replays", "status")]
        sql = self._sql(f"INSERT INTO agenttrace_dead_letter ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})")
        rows = [tuple(json.dumps(e.get(c)) if c in _JSON else e.get(c) for c in names) for e in entries]
        with self._transaction() as cur:
            cur.executemany(sql, rows)

    def list(self, status: Optional[str] = None, limit: int = 100) -> list:
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        rows = self._run(f"SELECT {', '.join(COLUMNS)} FROM agenttrace_dead_letter {where} "
                         f"ORDER BY created_at LIMIT {int(limit)}", args, fetch=True)
        return [_row(r) for r in rows]

    def get(self, entry_id: str) -> Optional[dict]:
        rows = self._run(f"SELECT {', '.join(COLUMNS)} FROM agenttrace_dead_letter WHERE id = ?", (entry_id,), fetch=True)
        return _row(rows[0]) if rows else None

    def candidates(self, limit: int, include_failed: bool = False, since: Optional[float] = None,
                   lease: float = DEFAULT_LEASE) -> list:
        """What a replay would take now, without claiming it (``--dry-run``)."""
        now = time.time()
        args = (now - lease, since or now) if include_failed else (now - lease,)
        rows = self._run(f"SELECT {', '.join(COLUMNS)} FROM agenttrace_dead_letter WHERE {claimable(include_failed)} "
                         f"ORDER BY created_at LIMIT {int(limit)}", args, fetch=True)
        return [_row(r) for r in rows]

    def claim(self, worker: str, limit: int = 1, lease: float = DEFAULT_LEASE, include_failed: bool = False,
              since: Optional[float] = None) -> list:
        """Take up to ``limit`` replayable entries for ``worker``; no other replayer gets them."""
        now = time.time()
        args = (now - lease, since or now) if include_failed else (now - lease,)
        with self._transaction() as cur:
            ids = self._claim_ids(cur, claimable(include_failed), args, limit)
            for entry_id in ids:
                cur.execute(self._sql("UPDATE agenttrace_dead_letter SET status = 'replaying', claimed_by = ?, "
                                      "claimed_at = ? WHERE id = ?"), (worker, now, entry_id))
        return [e for e in (self.get(i) for i in ids) if e is not None]

    def complete(self, entry_id: str, worker: str, ok: bool, replay_trace_id: Optional[str],
                 error: Optional[str]) -> bool:
        """Record a replay's outcome (only by the worker that holds the claim)."""
        return bool(self._run(
            "UPDATE agenttrace_dead_letter SET status = ?, replays = replays + 1, replayed_at = ?, "
            "replay_trace_id = ?, replay_error = ?, claimed_by = NULL, claimed_at = NULL "
            "WHERE id = ? AND status = 'replaying' AND claimed_by = ?",
            (REPLAYED if ok else FAILED, time.time(), replay_trace_id, error, entry_id, worker)))

    def resolve(self, entry_id: str, note: str) -> bool:
        return bool(self._run("UPDATE agenttrace_dead_letter SET status = 'resolved', note = ? WHERE id = ?",
                              (note, entry_id)))

    def purge(self, before: float, include_pending: bool = False) -> int:
        states = "('replayed', 'resolved', 'failed', 'pending', 'replaying')" if include_pending else \
            "('replayed', 'resolved', 'failed')"
        return int(self._run(f"DELETE FROM agenttrace_dead_letter WHERE created_at < ? AND status IN {states}",
                             (before,)))


class SQLiteStore(SqlStore):
    """The embedded store: one SQLite file (WAL), mode 0600."""

    def __init__(self, path: str = DEFAULT_PATH) -> None:
        super().__init__()
        self.path = create_private_file(path)
        self.url = self.path
        self._run(SCHEMA)
        self._run(INDEX)

    def _connect(self) -> sqlite3.Connection:
        return connect_sqlite(self.path)

    def _claim_ids(self, cur: Any, where: str, args: tuple, limit: int) -> list:
        cur.execute("BEGIN IMMEDIATE")  # the write lock first: no other replayer reads the same candidates
        cur.execute(f"SELECT id FROM agenttrace_dead_letter WHERE {where} ORDER BY created_at LIMIT {int(limit)}", args)
        return [r[0] for r in cur.fetchall()]


def default_target() -> str:
    """Where the dead-letter queue is when nothing names it: ``AGENTTRACE_DEAD_LETTER``, else
    ``.agenttrace/dead-letter.sqlite``."""
    return os.environ.get(STORE_ENV, "").strip() or DEFAULT_PATH


def open_store(target: Any = None) -> Any:
    """A store from a path (SQLite), a ``postgresql://`` URL (the PostgreSQL integration), or a
    store object; default ``AGENTTRACE_DEAD_LETTER``, else ``.agenttrace/dead-letter.sqlite``."""
    if target is None or target is True:
        target = default_target()
    if not isinstance(target, (str, os.PathLike)):
        return target
    from . import plugins

    return open_target(os.fspath(target), plugins.DEAD_LETTER_STORES, "dead-letter store", SQLiteStore)
