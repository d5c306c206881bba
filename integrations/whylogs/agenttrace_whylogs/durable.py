"""Crash-safe files for the profile store: atomic writes, commits of multi-file flushes, symlink checks.

- :func:`write_atomic`: a file appears whole or not at all (temp file in the same directory,
  fsync, ``os.replace``, fsync of the directory).
- :class:`Commits`: one flush writes many files (one per window × segment, day rollups); they
  count only once the flush's commit record exists. A writer reserves a flush number
  (``_commits/<writer>/<seq>.pending``, created exclusively, so two writers that share an id never
  share a number), writes its files named ``<writer>-<seq>-<crc>.bin``, then writes
  ``_commits/<writer>/<seq>.json`` (the commit, atomic) which also lists the journal files the
  flush folded in. A reader shows a file of a writer that has a ``_commits`` directory only when
  its commit exists, so a writer killed in the middle of a flush leaves nothing visible (files of
  stores written before commits existed have no ``_commits`` directory and are always read).
- :func:`inside`: a path that resolves outside the store root (a symlink out of it) is neither
  read nor written.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

COMMITS_DIR = "_commits"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class OutsideStore(OSError):
    """A directory of the store resolves outside the store root (a symlink out of it)."""


def inside(root: Path, path: Path) -> bool:
    """Whether ``path`` (symlinks resolved) is ``root`` or under it; ``root`` is already resolved."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return False
    return resolved == root or root in resolved.parents


def fsync_dir(path: Path) -> None:
    """Make the entries of a directory (a new or renamed file) durable; a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_dirs(root: Path, directory: Path) -> Path:
    """Create ``directory`` (under the resolved ``root``) and refuse one that leads out of the store
    (checked on the nearest existing ancestor first, so nothing is created outside)."""
    existing = directory
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not inside(root, existing) and existing.resolve() not in root.parents:  # (an ancestor: no store yet)
        raise OutsideStore(f"{directory} leads outside the profile store {root} (a symlink); not writing there")
    directory.mkdir(parents=True, exist_ok=True)
    if not inside(root, directory):
        raise OutsideStore(f"{directory} leads outside the profile store {root} (a symlink); not writing there")
    return directory


def write_all(root: Path, files: list[tuple[Path, bytes]]) -> None:
    """:func:`write_atomic` for many files (created under the resolved ``root`` only), each
    directory fsynced once at the end. Sequential on purpose: no thread pool, whose global lock a
    thread interrupted by a signal may hold while its handler waits for this (a flush at SIGTERM)."""
    for path, data in files:
        write_atomic(make_dirs(root, path.parent), path.name, data, sync_dir=False)
    for directory in {path.parent for path, _ in files}:
        fsync_dir(directory)


def _synced_temp(directory: Path, name: str, data: bytes) -> Path:
    """``data`` in a new hidden temp file beside ``directory/name``, on disk (fsync'd)."""
    tmp = directory / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(directory: Path, name: str, data: bytes, sync_dir: bool = True) -> Path:
    """Write ``data`` as ``directory/name``: readers see the whole file or none (a killed writer
    leaves at most a hidden ``.*.tmp`` file behind)."""
    final = directory / name
    tmp = _synced_temp(directory, name, data)
    try:
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(directory)
    return final


def write_once(path: Path, data: bytes) -> None:
    """Create ``path`` holding ``data`` unless it exists (whole or not at all; never replaced)."""
    tmp = _synced_temp(path.parent, path.name, data)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return
        except OSError:  # a file system without hard links
            if path.exists():
                return
            os.rename(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _seq_of(name: str) -> Optional[int]:
    stem, _, ext = name.partition(".")
    return int(stem) if ext in ("json", "pending") and stem.isdigit() else None


@dataclass
class CommitState:
    """Which flushes are committed, read once per snapshot of the store."""

    committed: dict[str, set[int]] = field(default_factory=dict)  # writer → committed flush numbers

    def visible(self, file_name: str) -> bool:
        """Whether a profile file ``<writer>-<seq>-<crc>.bin`` belongs to a committed flush (files of
        writers without commit records predate commits and are always visible)."""
        parts = file_name[:-4].rsplit("-", 2) if file_name.endswith(".bin") else []
        if len(parts) != 3 or parts[0] not in self.committed:
            return True
        return parts[1].isdigit() and int(parts[1]) in self.committed[parts[0]]

    def key(self) -> tuple:
        return tuple(sorted((w, tuple(sorted(s))) for w, s in self.committed.items()))


class Commits:
    """The commit records of a store (``root/_commits``)."""

    def __init__(self, root: Path, resolved_root: Path) -> None:
        self.dir = root / COMMITS_DIR
        self.resolved_root = resolved_root

    def _writer_dir(self, writer: str) -> Path:
        return make_dirs(self.resolved_root, self.dir / writer)

    def reserve(self, writer: str) -> int:
        """A flush number no other flush of ``writer`` (in any process) has or will have."""
        directory = self._writer_dir(writer)
        seqs = [s for s in map(_seq_of, os.listdir(directory)) if s is not None]
        seq = max(seqs, default=0) + 1
        while True:
            pending = directory / f"{seq:06d}.pending"
            try:
                os.close(os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644))
            except FileExistsError:
                seq += 1
                continue
            if (directory / f"{seq:06d}.json").exists():  # taken by a writer that has finished with it
                pending.unlink(missing_ok=True)
                seq += 1
                continue
            fsync_dir(directory)
            return seq

    def commit(self, writer: str, seq: int, record: dict[str, Any]) -> None:
        """Make flush ``seq`` of ``writer`` visible (atomic), then drop its reservation."""
        directory = self._writer_dir(writer)
        write_atomic(directory, f"{seq:06d}.json", (json.dumps(record, sort_keys=True) + "\n").encode())
        (directory / f"{seq:06d}.pending").unlink(missing_ok=True)

    def state(self, problem=None) -> CommitState:
        """The committed flushes of every writer (names only, no file contents)."""
        state = CommitState()
        try:
            writers = list(os.scandir(self.dir))
        except OSError:
            return state
        for entry in writers:
            if not entry.is_dir():
                continue
            if entry.is_symlink() and not inside(self.resolved_root, Path(entry.path)):
                if problem is not None:
                    problem(Path(entry.path), "symlink to outside the store, ignored")
                continue
            try:
                names = os.listdir(entry.path)
            except OSError:
                names = []
            state.committed[entry.name] = {s for n in names if n.endswith(".json") and (s := _seq_of(n)) is not None}
        return state

    def consumed(self, writer: str) -> set[str]:
        """The journal files (``<journal dir>/<file>``) that committed flushes of ``writer`` folded in."""
        out: set[str] = set()
        try:
            names = sorted(n for n in os.listdir(self.dir / writer) if n.endswith(".json"))
        except OSError:
            return out
        for name in names:
            try:
                record = json.loads((self.dir / writer / name).read_text())
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and isinstance(record.get("journals"), list):
                out.update(str(j) for j in record["journals"])
        return out
