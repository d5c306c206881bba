"""Build a profile store from the spans already stored in a Phoenix project.

For traffic that was traced before profiling was switched on, or by processes that do not
profile: ``agenttrace drift --phoenix-project NAME`` calls :func:`build_store_from_phoenix` when
the profile store is missing or empty. Spans are read page by page in start-time order and each
run is profiled as soon as it is complete (``agenttrace_phoenix.trajectories``), so a big
project streams through in one pass with memory for the runs in flight only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Optional, Sequence

from agenttrace.trajectory import DEFAULT_SEGMENT_KEYS

BATCH = 1000  # trajectories per ProfileStore.write


def write_phoenix_runs(phoenix_store: Any, project: str, store: Any, *, start: Optional[datetime] = None,
                       end: Optional[datetime] = None, segment_keys: Sequence[str] = DEFAULT_SEGMENT_KEYS,
                       progress: bool = False) -> int:
    """Write the trajectory of every run of ``project`` whose root span ended in ``[start, end)``
    into ``store`` (anything with ``write(trajectories)``), flush it, and return how many runs were
    written. ``progress`` shows a tqdm bar of spans read and runs profiled. Raises
    ``agenttrace_phoenix.PhoenixError`` when Phoenix cannot be read."""
    from agenttrace_phoenix.trajectories import iter_trajectories

    from .report import progress_bar

    bar = progress_bar(progress, desc=f"profiling Phoenix project {project}", unit=" spans")
    batch: list = []
    rows = 0
    try:
        for trajectory in iter_trajectories(phoenix_store, project, start=start, end=end, segment_keys=segment_keys,
                                            on_span=(lambda _: bar.update()) if bar is not None else None):
            batch.append(trajectory)
            if len(batch) >= BATCH:
                store.write(batch)
                rows += len(batch)
                batch = []
                if bar is not None:
                    bar.set_postfix(runs=rows)
        if batch:
            store.write(batch)
            rows += len(batch)
        store.flush()
    finally:
        if bar is not None:
            bar.close()
    return rows


def build_store_from_phoenix(phoenix_store: Any, project: str, root: str | Path, *, start: Optional[datetime] = None,
                             end: Optional[datetime] = None, window: timedelta = timedelta(hours=1),
                             segment_keys: Sequence[str] = DEFAULT_SEGMENT_KEYS, progress: bool = False) -> Any:
    """Profile every run of ``project`` whose root span ended in ``[start, end)`` into a
    :class:`~agenttrace_whylogs.store.ProfileStore` at ``root`` (created if needed; profiles
    already there are kept, and merge with the new ones) and return the store, flushed.

    ``phoenix_store`` is an :class:`agenttrace_phoenix.PhoenixStore`; ``window`` and
    ``segment_keys`` are the store's. See :func:`write_phoenix_runs` for the rest.
    """
    from .store import ProfileStore

    # no journal: the rows are re-read from Phoenix if the import is interrupted
    store = ProfileStore(root, window=window, segment_keys=tuple(segment_keys), sync_interval=None)
    write_phoenix_runs(phoenix_store, project, store, start=start, end=end, segment_keys=segment_keys,
                       progress=progress)
    return store
