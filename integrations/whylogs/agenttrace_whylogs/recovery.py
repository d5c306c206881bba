"""Rows of writers that died before their windows were flushed: read from their journals, folded in.

- :func:`snapshot`: what a read sees — the committed flushes (:class:`.durable.CommitState`) and,
  profiled in memory, the rows of dead writers' journals that no committed flush holds. The two
  are taken as one consistent pair: if a flush committed while the journals were read, it is taken
  again. A row is therefore counted once: either from a committed profile file or from a journal.
- :func:`recover`: what a writer does when it starts (:meth:`ProfileStore.recover`) — fold those
  journals into committed profile files under the dead writer's name, then remove them. Killed
  after the commit and before the removal, the next recovery finds the journal files listed in the
  commit and only removes them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Sequence

from whylogs.core import DatasetProfileView

from . import journal
from .durable import CommitState

if TYPE_CHECKING:
    from .store import ProfileStore, _Profile

logger = logging.getLogger("agenttrace")


@dataclass
class Snapshot:
    """Which flushes are committed, and the rows of dead writers' journals by (window start, key, value)."""

    key: tuple
    state: CommitState
    journal_rows: "dict[tuple[float, str, str], _Profile]"
    first_seen: dict[float, dict[str, dict[str, float]]]

    def starts(self, segment: Optional[tuple[str, str]]) -> list[float]:
        seg = tuple(segment) if segment is not None else ("*", "*")
        return [k[0] for k in self.journal_rows if (k[1], k[2]) == seg]

    def view(self, start: float, segment: Optional[tuple[str, str]]) -> DatasetProfileView:
        from .store import META_FIRST_SEEN

        key, value = tuple(segment) if segment is not None else ("*", "*")
        meta = {META_FIRST_SEEN: json.dumps(self.first_seen[start])} if key == "*" and start in self.first_seen else {}
        return self.journal_rows[(start, key, value)].view(meta)


def _accumulate(store: "ProfileStore", names: Sequence[str]) -> "ProfileStore":
    """An in-memory store (no journal, no files until flushed) holding the rows of these journal files."""
    from .store import ProfileStore

    rows: list[dict[str, Any]] = []
    segs: list[dict[str, str]] = []
    for name in names:
        r, sg = journal.read_rows(store.root / journal.JOURNAL_DIR, name, store._problem)
        rows += r
        segs += sg
    acc = ProfileStore(store.root, window=store.stored_window, segment_keys=sorted({k for sg in segs for k in sg}),
                       day_rollups=False, sync_interval=None)
    acc._staged_rows, acc._staged_segments = rows, [{k: str(v) for k, v in sg.items()} for sg in segs]
    acc._profile_staged()
    return acc


def snapshot(store: "ProfileStore", previous: Optional[Snapshot]) -> Snapshot:
    """The store's :class:`Snapshot` now (``previous`` when nothing changed since)."""
    snap = previous
    for _ in range(5):
        state = store._commits.state(store._problem)
        with journal.dead_journals(store.root, store._resolved, store._problem) as dead:
            names = [f for d in dead for consumed in [store._commits.consumed(d.writer)] for f in d.files if f not in consumed]
            key = (state.key(), tuple(names))
            if snap is None or snap.key != key:
                acc = _accumulate(store, names) if names else None
                snap = Snapshot(key, state, acc._windows if acc else {}, acc._first_seen if acc else {})
        if store._commits.state().key() == state.key():
            break
    assert snap is not None
    return snap


def recover(store: "ProfileStore") -> int:
    """Fold dead writers' journals into committed profiles and remove them; returns the rows folded.

    A dead writer's journal is locked while it is folded (two recoveries never fold one journal),
    and its files that a committed flush already lists are only removed."""
    recovered = 0
    try:
        with journal.dead_journals(store.root, store._resolved, store._problem) as dead:
            for d in dead:
                consumed = store._commits.consumed(d.writer)
                todo = [f for f in d.files if f not in consumed]
                if todo:
                    acc = _accumulate(store, todo)
                    acc.writer_id = d.writer  # the dead writer's files, under a flush number of their own
                    recovered += acc.buffered_rows()
                    acc._commit(None, None, consumed=todo)
                d.finish()
    except OSError as e:
        store._problem(store.root / journal.JOURNAL_DIR, f"recovering journals failed ({e})")
        logger.warning("agenttrace: recovering profile journals in %s failed: %s", store.root, e)
    return recovered
