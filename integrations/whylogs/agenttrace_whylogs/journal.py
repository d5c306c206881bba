"""The row journal of a profile store: rows are on disk within seconds, long before their window closes.

A writer appends each row it is given (JSON lines: ``{"r": row, "s": segments}``) to
``root/_journal/<writer>.<incarnation>/<window start>-<n>.jsonl`` as soon as
:meth:`ProfileStore.write` gets it (so a ``kill -9`` loses nothing the store was given), and
fsyncs the files at most ``sync_interval`` seconds later (a power loss or kernel crash loses at
most that much). The profiles of a window are written when it closes; the flush that writes them
lists the window's journal files in its commit record (:mod:`.durable`), and the files are
deleted after the commit. A crash between the two is harmless: a journal file that a committed
flush lists is never read again.

A live writer holds an exclusive ``flock`` on ``lock`` in its journal directory; the kernel
releases it when the process dies, however it dies. A journal directory whose lock is free
belongs to a dead writer: readers fold its rows into what they read, and the next writer that
opens the store folds them into profiles (:meth:`ProfileStore.recover`) and removes the
directory. (On systems without ``fcntl``, Windows, nobody can tell a dead writer from a live one:
journals are written but only their own writer folds them in.)
"""

from __future__ import annotations

import json
import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from .durable import fsync_dir, inside, make_dirs

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

JOURNAL_DIR = "_journal"
LOCK = "lock"
SUFFIX = ".jsonl"
MAX_OPEN = 16  # journal files kept open per writer (late rows for old windows reopen theirs)
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str, check_circular=False)


def encode(row: dict[str, Any], segments: dict[str, Any]) -> bytes:
    """One journal line (NaN and infinity as JSON's NaN / Infinity, which Python reads back)."""
    return (_ENCODER.encode({"r": row, "s": segments}) + "\n").encode()


class Journal:
    """One writer's journal (one instance of :class:`ProfileStore`); not thread-safe (the store locks)."""

    def __init__(self, root: Path, resolved_root: Path, writer: str, sync_interval: float) -> None:
        self.name = f"{writer}.{uuid.uuid4().hex[:8]}"
        self.top = root / JOURNAL_DIR
        self.dir = self.top / self.name
        self.resolved_root = resolved_root
        self.sync_interval = sync_interval
        self._lock_fd: Optional[int] = None
        self._open: dict[float, tuple[str, int]] = {}   # window start → (file name, fd) being appended
        self._files: dict[float, list[str]] = {}        # window start → every file of it not yet folded
        self._n = 0
        self._dirty: set[int] = set()
        self._new_files = False
        self._last_sync = time.monotonic()

    def _start(self) -> None:
        if self._lock_fd is not None:
            return
        make_dirs(self.resolved_root, self.dir)
        fd = os.open(self.dir / LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new directory: nobody else holds it
        self._lock_fd = fd
        fsync_dir(self.top)

    def _fd(self, start: float, label: str) -> int:
        if start in self._open:
            return self._open[start][1]
        if len(self._open) >= MAX_OPEN:  # close the oldest window's file; a later row opens a new one
            oldest = min(self._open)
            fd = self._open.pop(oldest)[1]
            if fd in self._dirty:
                os.fsync(fd)
                self._dirty.discard(fd)
            os.close(fd)
        self._n += 1
        name = f"{label}-{self._n:06d}{SUFFIX}"
        fd = os.open(self.dir / name, _FLAGS, 0o644)
        self._open[start] = (name, fd)
        self._files.setdefault(start, []).append(name)
        self._new_files = True
        return fd

    def append(self, lines: dict[float, list[bytes]], labels: Callable[[float], str]) -> None:
        """Append rows (encoded, by window start) to this writer's journal; fsync when due."""
        self._start()
        for start, chunk in lines.items():
            fd = self._fd(start, labels(start))
            data = memoryview(b"".join(chunk))
            while data:
                data = data[os.write(fd, data):]
            self._dirty.add(fd)
        if time.monotonic() - self._last_sync >= self.sync_interval:
            self.sync()

    def sync(self) -> None:
        """fsync what was appended since the last sync."""
        for fd in list(self._dirty):
            os.fsync(fd)
        self._dirty.clear()
        if self._new_files:
            self._new_files = False
            fsync_dir(self.dir)
        self._last_sync = time.monotonic()

    def files_of(self, starts: set[float]) -> list[str]:
        """The journal files (relative to ``_journal``) holding rows of these windows."""
        return [f"{self.name}/{n}" for start in sorted(starts) for n in self._files.get(start, [])]

    def drop(self, starts: set[float]) -> None:
        """Close the files of these windows (a committed flush holds their rows); later rows of the
        same windows go to new files."""
        for start in starts:
            if start in self._open:
                fd = self._open.pop(start)[1]
                self._dirty.discard(fd)
                os.close(fd)
            self._files.pop(start, None)

    def remove(self, names: list[str]) -> None:
        """Delete journal files whose rows a committed flush holds."""
        remove(self.top, names)

    def close(self) -> None:
        """Close the files and give up the directory (empty after a full flush)."""
        for _, fd in self._open.values():
            os.close(fd)
        self._open.clear()
        self._dirty.clear()
        if self._lock_fd is not None:
            if not self._files:
                (self.dir / LOCK).unlink(missing_ok=True)
                try:
                    self.dir.rmdir()
                except OSError:
                    pass
            os.close(self._lock_fd)  # releases the lock: leftover files are a dead writer's, recovered later
            self._lock_fd = None


def remove(top: Path, names: list[str]) -> None:
    dirs = set()
    for name in names:
        (top / name).unlink(missing_ok=True)
        dirs.add((top / name).parent)
    for d in dirs:
        fsync_dir(d)


@dataclass
class DeadJournal:
    """The journal directory of a writer that is gone, locked while it is looked at."""

    writer: str
    name: str
    path: Path
    files: list[str] = field(default_factory=list)  # relative to ``_journal``

    def finish(self) -> None:
        """Remove the (folded) directory."""
        remove(self.path.parent, self.files)
        (self.path / LOCK).unlink(missing_ok=True)
        try:
            self.path.rmdir()
        except OSError:
            pass


@contextmanager
def dead_journals(root: Path, resolved_root: Path, problem: Callable[[Path, str], None]) -> Iterator[list[DeadJournal]]:
    """The journals of dead writers, each locked until the block ends (so nobody else folds them meanwhile)."""
    found: list[DeadJournal] = []
    held: list[int] = []
    try:
        if fcntl is not None:
            try:
                entries = sorted(os.scandir(root / JOURNAL_DIR), key=lambda e: e.name)
            except OSError:
                entries = []
            for entry in entries:
                path = Path(entry.path)
                if entry.is_symlink() and not inside(resolved_root, path):
                    problem(path, "symlink to outside the store, ignored")
                    continue
                if not entry.is_dir() or "." not in entry.name:
                    continue
                try:
                    fd = os.open(path / LOCK, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
                except FileNotFoundError:
                    fd = None  # died before taking its lock, or its recovery was finishing
                except OSError as e:
                    problem(path / LOCK, f"unreadable journal lock ({e.strerror or e})")
                    continue
                if fd is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError:
                        os.close(fd)
                        continue  # a live writer, or someone recovering it
                    held.append(fd)
                try:
                    files = sorted(n for n in os.listdir(path) if n.endswith(SUFFIX) and not n.startswith("."))
                except OSError:
                    files = []
                found.append(DeadJournal(entry.name.rsplit(".", 1)[0], entry.name, path, [f"{entry.name}/{n}" for n in files]))
        yield found
    finally:
        for fd in held:
            os.close(fd)


def read_rows(top: Path, name: str, problem: Callable[[Path, str], None]) -> tuple[list[dict], list[dict]]:
    """The rows and segments of one journal file. A last line cut short (the writer was killed while
    appending) is ignored; any other unreadable line is reported and skipped."""
    path = top / name
    rows: list[dict] = []
    segs: list[dict] = []
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return rows, segs
    except OSError as e:
        problem(path, f"unreadable journal ({e.strerror or e})")
        return rows, segs
    lines = data.split(b"\n")
    bad = 0
    for line in lines[:-1]:  # the part after the last newline is a torn append (or empty)
        try:
            item = json.loads(line)
            row, seg = item["r"], item["s"]
            if not isinstance(row, dict) or not isinstance(seg, dict):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            bad += 1
            continue
        rows.append(row)
        segs.append(seg)
    if bad:
        problem(path, f"{bad} unreadable journal line(s) skipped")
    return rows, segs
