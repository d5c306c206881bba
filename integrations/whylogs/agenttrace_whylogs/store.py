"""A directory of whylogs profiles of trajectory rows, per time window and per segment.

Layout (every ``.bin`` is a plain whylogs ``DatasetProfileView``, readable with
``DatasetProfileView.read(path)``)::

    root/store.json                                      format version, window size (written once)
    root/_all/<window start>/<writer>-<seq>-<crc>.bin    rows of that window (the overall segment "*")
    root/<key>=<value>/<window start>/...                rows whose segment <key> has <value> (URL-quoted)
    root/_days/<segment dir>/<day>/<writer>-<seq>-<crc>.bin
                                                         day rollups: one writer's rows of one UTC day
    root/_commits/<writer>/<seq>.json                    the commit of flush <seq> (see .durable)
    root/_journal/<writer>.<id>/<window start>-<n>.jsonl rows not yet in a committed profile (see .journal)

``<window start>`` is ``%Y%m%dT%H%M%SZ`` (UTC), ``<day>`` is ``%Y%m%d``. Files are only ever
*added*: each :meth:`ProfileStore.flush` writes new files under names no one else uses (writer id
plus a flush number reserved exclusively), each written atomically, and commits them together
(:mod:`.durable`: a reader sees a flush whole or not at all), so any number of processes and
machines can write into one store, and a reader merges whatever committed files a window has. whylogs profiles are mergeable sketches:
the merge of four writers' files is the profile of all their rows. ``<crc>`` is the CRC-32 of the
file's bytes, so a truncated or damaged file is detected; it is listed in
:attr:`ProfileStore.problems` and skipped, and the other files are still read.

Day rollups. whylogs needs ~3-5 ms to read one profile back, so a 37-day range over hourly windows
and 18 segments (16,000 profiles per writer) would take a minute to read. Each writer therefore
also profiles its rows per UTC day and, once all of its windows of a day are flushed, writes one
day profile whose metadata lists the window files it covers (``agenttrace.covers``). A reader of a
range that contains the whole day uses the day profile instead of the covered window files, and
still reads any window file no day profile covers (late rows, a writer that stopped mid-day). A
damaged day profile is reported and its window files are read instead.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import threading
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd
from whylogs.core import DatasetProfileView
from whylogs.core.datatypes import AnyType, Fractional, Integral, String
from whylogs.core.metrics import StandardMetric
from whylogs.core.metrics.metrics import MetricConfig
from whylogs.core.preprocessing import NumpyView, PreprocessedColumn
from whylogs.core.resolvers import MetricSpec, ResolverSpec
from whylogs.core.schema import DeclarativeSchema
from whylogs.core.view import ColumnProfileView

from agenttrace.trajectory import (CATEGORICAL_FEATURES, DEFAULT_SEGMENT_KEYS, NUMERIC_FEATURES, SCORE_FEATURES, Trajectory,
                                  is_judge_score)

from . import journal, recovery
from .durable import Commits, CommitState, inside, write_all, write_once
from .journal import Journal

logger = logging.getLogger("agenttrace")

FORMAT_VERSION = 1
OVERALL = ("*", "*")
ALL_DIR = "_all"
DAYS_DIR = "_days"
WINDOW_FORMAT = "%Y%m%dT%H%M%SZ"
DAY_FORMAT = "%Y%m%d"
DAY_SECONDS = 86400.0
# the times a store holds: rows carry OTel span times (nanoseconds since 1970), and pandas'
# datetime64[ns] (the drift report's charts) ends in 2262; a window directory outside is skipped
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2262, 1, 1, tzinfo=timezone.utc)
MIN_WINDOW_SECONDS, MAX_WINDOW_SECONDS = 1.0, 366 * DAY_SECONDS  # window_seconds a reader accepts
# columns whose values get an exact "first seen" time (the minimum row timestamp per value) in the
# metadata of the overall profiles: a new model version is reported with the time it first answered
FIRST_SEEN_COLUMNS = ("model_version",)
META_FIRST_SEEN = "agenttrace.first_seen"
META_COVERS = "agenttrace.covers"
META_ROWS = "agenttrace.rows"
META_SEGMENT = "agenttrace.segment"
META_WRITER = "agenttrace.writer"

NUMERIC, TEXT = "numeric", "text"
_NUMERIC_NAMES = frozenset(NUMERIC_FEATURES) | frozenset(SCORE_FEATURES) | {"timestamp"}
# whylogs' defaults (KLL k=1024, frequent items lg_max_k=10, HLL lg_k=12), except that frequent items
# keep values up to 1,024 characters (whylogs cuts at 128): a model_version of three model pairs is longer
MAX_TEXT = 1024
_CONFIG = MetricConfig(max_frequent_item_size=MAX_TEXT)
_METRICS = {NUMERIC: (StandardMetric.counts, StandardMetric.distribution),
            TEXT: (StandardMetric.counts, StandardMetric.frequent_items, StandardMetric.cardinality)}


def profile_schema() -> DeclarativeSchema:
    """The whylogs schema equivalent to what the store logs (for ``why.log(df, schema=...)``).

    Numbers: counts (n, nulls) and the distribution (KLL sketch, mean, variance) that KS / Hellinger
    drift and score means use. Strings: counts, frequent items (exact for low-cardinality
    categorical features) and cardinality. whylogs' type counters, integer min/max and the
    cardinality of numbers are left out: nothing reads them, and each metric component costs time
    when a profile is created or read back.
    """
    counts = [MetricSpec(StandardMetric.counts.value)]
    number = counts + [MetricSpec(StandardMetric.distribution.value)]
    return DeclarativeSchema([
        ResolverSpec(column_type=Fractional, metrics=number),
        ResolverSpec(column_type=Integral, metrics=number),
        ResolverSpec(column_type=String, metrics=counts + [MetricSpec(StandardMetric.frequent_items.value),
                                                           MetricSpec(StandardMetric.cardinality.value)]),
        ResolverSpec(column_type=AnyType, metrics=counts),
    ])


def utc(dt: datetime) -> datetime:
    """``dt`` as an aware UTC datetime; naive datetimes are refused (they are ambiguous)."""
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"datetime {dt.isoformat()} has no timezone; pass an aware UTC datetime")
    return dt.astimezone(timezone.utc)


def _from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _day_of(dt: datetime) -> datetime:
    return dt.replace(hour=0, minute=0, second=0, microsecond=0)


def segment_dir(segment: Optional[tuple[str, str]]) -> str:
    """The directory name of a segment (``None`` or ``("*", "*")``: the overall segment)."""
    if segment is None or tuple(segment) == OVERALL:
        return ALL_DIR
    key, value = segment
    return f"{quote(str(key), safe='')}={quote(str(value), safe='')}"


def parse_segment_dir(name: str) -> Optional[tuple[str, str]]:
    """Inverse of :func:`segment_dir`; ``None`` for names that are not segment directories."""
    if name == ALL_DIR:
        return OVERALL
    if "=" not in name or name.startswith("."):
        return None
    key, value = name.split("=", 1)
    return unquote(key), unquote(value)


def _parse_time(name: str, fmt: str) -> Optional[datetime]:
    try:
        return datetime.strptime(name, fmt).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def rows(view: Optional[DatasetProfileView]) -> int:
    """Number of rows a profile was built from (0 for ``None``)."""
    if view is None:
        return 0
    col = view.get_column("timestamp")
    if col is not None and col.get_metric("counts") is not None:
        return int(col.get_metric("counts").n.value)
    counts = [c.get_metric("counts").n.value for c in view.get_columns().values() if c.get_metric("counts") is not None]
    return int(max(counts)) if counts else 0


def _first_seen_of(meta: dict[str, str]) -> dict[str, dict[str, float]]:
    try:
        value = json.loads(meta.get(META_FIRST_SEEN) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _merge_first_seen(into: dict[str, dict[str, float]], other: dict[str, dict[str, float]]) -> None:
    for column, values in other.items():
        target = into.setdefault(column, {})
        for value, ts in values.items():
            if value not in target or ts < target[value]:
                target[value] = ts


def _kind(column: str, values: list[Any]) -> str:
    """How a column is profiled: categorical features as text, known numeric features as numbers,
    other columns by their values (text if any value is a string)."""
    if column in CATEGORICAL_FEATURES:
        return TEXT
    if column in _NUMERIC_NAMES or column.endswith("_similarity") or is_judge_score(column):
        return NUMERIC
    return TEXT if any(isinstance(v, str) for v in values) else NUMERIC


class _Batch:
    """Staged rows as numpy columns. A column's kind is fixed the first time the store sees it;
    later values that do not fit (text in a numeric column) count as missing."""

    def __init__(self, rows_: list[dict[str, Any]], kinds: dict[str, str]) -> None:
        self.n = len(rows_)
        self.kinds = kinds
        self.numbers: dict[str, np.ndarray] = {}
        self.text: dict[str, np.ndarray] = {}
        names: dict[str, None] = {}
        for r in rows_:
            if any(k not in names for k in r):
                names.update(dict.fromkeys(r))
        for name in names:
            values = [r.get(name) for r in rows_]
            kind = kinds.setdefault(name, _kind(name, values))
            if kind == NUMERIC:
                self.numbers[name] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
            else:
                arr = np.empty(self.n, dtype=object)
                arr[:] = [v[:MAX_TEXT] if isinstance(v, str) else v if v is None else str(v)[:MAX_TEXT] for v in values]
                self.text[name] = arr

    def timestamps(self) -> np.ndarray:
        return self.numbers.get("timestamp", np.full(self.n, np.nan))

    def column(self, name: str, idx: np.ndarray) -> PreprocessedColumn:
        """The rows ``idx`` of a column, split the way ``DatasetProfile.track(pandas=...)`` splits a
        float or string column: values without the missing ones, plus null / NaN / inf counts."""
        pc = PreprocessedColumn()
        pc.len = len(idx)
        if name in self.numbers:
            values = self.numbers[name][idx]
            missing = np.isnan(values)
            present = values[~missing] if missing.any() else values
            pc.null_count = pc.nan_count = int(missing.sum())  # whylogs counts None in a float column as both
            pc.inf_count = int(np.isinf(present).sum())
            pc.numpy = NumpyView(floats=present)
        else:
            values = self.text[name][idx]
            present = values[values != None]  # noqa: E711 (elementwise comparison)
            pc.null_count = len(values) - len(present)
            pc.numpy = NumpyView(strings=present)  # already cut to MAX_TEXT characters
        return pc


def _self_check(view: DatasetProfileView) -> None:
    """Raise if a profile read back from a file cannot be merged or summarised (a bit flip whylogs'
    parser accepts; about half a millisecond per file, only for files without a checksum)."""
    view.merge(view)
    for column in view.get_columns().values():
        for metric in column.get_metrics():
            metric.to_summary_dict()


class _Profile:
    """The whylogs metrics of one window (or day) × segment, updated column by column.

    Equivalent to ``DatasetProfile(schema=profile_schema()).track(pandas=frame)`` but without
    whylogs' per-call pandas type splitting (~0.2 ms per column and call, the dominant cost when a
    batch touches many small window × segment groups): each whylogs metric gets its
    ``columnar_update``, and :meth:`view` assembles a standard ``DatasetProfileView``.
    ``tests/test_profile_store.py`` checks that both give the same profile.
    """

    def __init__(self, start: float) -> None:
        self.start = start
        self.rows = 0
        self.columns: dict[str, dict[str, Any]] = {}

    def track(self, batch: _Batch, idx: np.ndarray) -> None:
        self.rows += len(idx)
        for name in (*batch.numbers, *batch.text):
            metrics = self.columns.get(name)
            if metrics is None:
                zeros = (m.zero(_CONFIG) for m in _METRICS[batch.kinds[name]])
                metrics = self.columns[name] = {m.namespace: m for m in zeros}
            pc = batch.column(name, idx)
            for metric in metrics.values():
                metric.columnar_update(pc)

    def view(self, metadata: Optional[dict[str, str]] = None) -> DatasetProfileView:
        return DatasetProfileView(columns={name: ColumnProfileView(metrics=dict(m)) for name, m in self.columns.items()},
                                  dataset_timestamp=_from_epoch(self.start), creation_timestamp=datetime.now(timezone.utc),
                                  metadata=dict(metadata or {}))


@dataclass
class _Read:
    """What a read of a range found."""

    view: Optional[DatasetProfileView] = None
    first_seen: dict[str, dict[str, float]] = field(default_factory=dict)
    files: int = 0

    def add(self, view: DatasetProfileView) -> None:
        _merge_first_seen(self.first_seen, _first_seen_of(view.metadata))
        self.view = view if self.view is None else self.view.merge(view)
        self.files += 1


class ProfileStore:
    """Write trajectory rows into whylogs profiles per window × segment; read merged profiles back.

    ``window``: the profile window written (recorded in ``store.json`` by the first writer; reading
    goes by window start times, so stores written with another window size read fine). Windows are
    aligned to the Unix epoch: hourly windows start on the hour, daily ones at midnight UTC.
    ``segment_keys``: the :attr:`Trajectory.segments` keys rows are sliced by, besides the overall
    segment. ``writer_id`` names this writer's files (default: host, pid and a random suffix); give
    each concurrent writer its own. ``stage_rows``: rows collected before they are profiled
    (profiling has a fixed cost per window × segment group, so small batches are staged).
    ``day_rollups``: also write one profile per UTC day and segment (see the module docstring);
    only used when ``window`` is shorter than a day.

    ``sync_interval``: rows go to the journal on :meth:`write` and are fsynced at least this often
    (seconds; :meth:`sync` forces it); ``None``: no journal (rows live in memory until flushed).

    :meth:`write` is thread-safe. Rows become visible to readers when they are flushed, or, once
    their writer is gone (killed), from its journal (:mod:`.recovery`). A
    long-running writer should call :meth:`flush_closed` (or ``flush(before=<start of the current
    window>)``) now and then, which persists closed windows only, and :meth:`close` at the end:
    every :meth:`flush` writes one more file per open window × segment, and readers pay ~3 ms per file.
    """

    def __init__(self, root: str | Path, *, window: timedelta = timedelta(hours=1),
                 segment_keys: Sequence[str] = DEFAULT_SEGMENT_KEYS, writer_id: Optional[str] = None,
                 stage_rows: int = 20_000, day_rollups: bool = True, sync_interval: Optional[float] = 1.0) -> None:
        if window.total_seconds() <= 0:
            raise ValueError("window must be positive")
        if sync_interval is not None and not (0 <= sync_interval < float("inf")):
            raise ValueError("sync_interval must be a number of seconds >= 0, or None (no journal)")
        self.root = Path(root)
        self._resolved = self.root.resolve()
        self.window = window
        self.segment_keys = tuple(segment_keys)
        self.writer_id = quote(writer_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}", safe="")
        self.stage_rows = max(1, int(stage_rows))
        self.day_rollups = day_rollups and window.total_seconds() < DAY_SECONDS
        self.problems: list[str] = []
        self._problem_files: set[str] = set()
        self._lock = threading.RLock()
        self._kinds: dict[str, str] = {}
        self._staged_rows: list[dict[str, Any]] = []
        self._staged_segments: list[dict[str, str]] = []
        self._windows: dict[tuple[float, str, str], _Profile] = {}   # (window start, key, value)
        self._days: dict[tuple[float, str, str], _Profile] = {}      # (day start, key, value)
        self._covers: dict[tuple[float, str, str], list[str]] = {}   # day → window files it covers
        self._first_seen: dict[float, dict[str, dict[str, float]]] = {}      # window start → column → value → ts
        self._day_first_seen: dict[float, dict[str, dict[str, float]]] = {}  # day start → ...
        self._newest = -np.inf  # the newest row timestamp profiled (the store's notion of "now")
        self._commits = Commits(self.root, self._resolved)
        self._journal = Journal(self.root, self._resolved, self.writer_id, sync_interval) if sync_interval is not None else None
        self._journal_broken = False
        self._recovered = False
        self._snap: Optional[recovery.Snapshot] = None

    # ------------------------------------------------------------------ writing

    def write(self, trajectories: Iterable[Trajectory]) -> None:
        """Add trajectory rows (``trajectory.as_row()``, sliced by ``trajectory.segments``). Thread-safe."""
        rows_, segs = [], []
        for t in trajectories:
            rows_.append(t.as_row())
            segs.append(t.segments)
        if not rows_:
            return
        with self._lock:
            self._journal_rows(rows_, segs)
            self._staged_rows.extend(rows_)
            self._staged_segments.extend(segs)
            if len(self._staged_rows) >= self.stage_rows:
                self._profile_staged()

    def _journal_rows(self, rows_: list[dict[str, Any]], segs: list[dict[str, str]]) -> None:
        """Append rows to the journal (on disk at once, fsync'd within ``sync_interval``). Caller holds the lock."""
        if self._journal is None or self._journal_broken:
            return
        if not self._recovered:
            self._recovered = True
            self.recover()
        w = self.window.total_seconds()
        lines: dict[float, list[bytes]] = {}
        for row, seg in zip(rows_, segs):
            ts = row.get("timestamp")
            if not isinstance(ts, (int, float)) or not math.isfinite(ts):
                continue  # not profiled either
            kept = {k: seg[k] for k in self.segment_keys if seg.get(k) is not None}
            lines.setdefault(float(math.floor(ts / w) * w), []).append(journal.encode(row, kept))
        try:
            self._journal.append(lines, lambda start: _from_epoch(start).strftime(WINDOW_FORMAT))
        except OSError as e:
            self._journal_failed(e)

    def _journal_failed(self, err: OSError) -> None:
        self._problem(self._journal.dir, f"journal not writable, rows are kept in memory until flushed ({err})")
        logger.warning("agenttrace: the profile journal %s is not writable (%s); rows are only persisted by flush()",
                       self._journal.dir, err)
        self._journal_broken = True  # its files so far are still folded in by the flushes of their windows

    def sync(self) -> bool:
        """Make every row written so far durable: fsync the journal. ``False`` when the store has no
        journal (``sync_interval=None``): then only :meth:`flush` persists rows."""
        with self._lock:
            if self._journal is None or self._journal_broken:
                return False
            try:
                self._journal.sync()
            except OSError as e:
                self._journal_failed(e)
                return False
            return True

    def buffered_rows(self) -> int:
        """Rows written but not yet flushed."""
        with self._lock:
            return len(self._staged_rows) + sum(p.rows for (_, key, _), p in self._windows.items() if key == "*")

    def _profile_staged(self) -> None:
        """Profile the staged rows into the window (and day) profiles. Caller holds the lock."""
        if not self._staged_rows:
            return
        rows_, segs = self._staged_rows, self._staged_segments
        self._staged_rows, self._staged_segments = [], []
        batch = _Batch(rows_, self._kinds)
        ts = batch.timestamps()
        keep = np.flatnonzero(np.isfinite(ts))  # a row without a time cannot be placed in a window
        if not len(keep):
            return
        w = self.window.total_seconds()
        starts = np.floor(ts[keep] / w) * w
        days = np.floor(ts[keep] / DAY_SECONDS) * DAY_SECONDS
        self._newest = max(self._newest, float(ts[keep].max()))

        def track(profiles: dict, start: float, key: str, value: str, idx: np.ndarray) -> None:
            k = (float(start), key, value)
            profile = profiles.get(k)
            if profile is None:
                profile = profiles[k] = _Profile(float(start))
            profile.track(batch, idx)

        groups = [("*", np.full(len(keep), "*", dtype=object))]
        for key in self.segment_keys:
            groups.append((key, np.array([segs[i].get(key) for i in keep], dtype=object)))
        for key, values in groups:
            present = values != None  # noqa: E711
            frame = pd.DataFrame({"s": starts[present], "d": days[present], "v": values[present]})
            pos = np.flatnonzero(present)
            for (start, value), at in frame.groupby(["s", "v"], sort=True).indices.items():
                track(self._windows, start, key, str(value), keep[pos[at]])
            if self.day_rollups:
                for (day, value), at in frame.groupby(["d", "v"], sort=True).indices.items():
                    track(self._days, day, key, str(value), keep[pos[at]])
        for column in FIRST_SEEN_COLUMNS:
            if column not in batch.text:
                continue
            frame = pd.DataFrame({"s": starts, "d": days, "v": batch.text[column][keep], "t": ts[keep]}).dropna()
            for target, by in ((self._first_seen, "s"), (self._day_first_seen, "d")):
                for (start, value), t in frame.groupby([by, "v"])["t"].min().items():
                    _merge_first_seen(target.setdefault(float(start), {}), {column: {value: float(t)}})

    def flush(self, before: Optional[datetime] = None) -> int:
        """Persist buffered profiles as new files, drop them from memory; returns the files written.

        ``before``: only windows that end at or before this time (closed windows); later ones stay
        buffered. Existing files are never rewritten. Each call writes one file per buffered window
        × segment, so call it with ``before`` (or use :meth:`flush_closed`) when calling often; a
        reader pays for every file. Day rollups are written for days that have ended (before
        ``before``, or before the day of the newest row when ``before`` is None) once all their
        windows are flushed; :meth:`close` writes the rest. The files of one call are committed
        together (:mod:`.durable`): a reader sees all of them or none.
        """
        with self._lock:
            self._profile_staged()
            limit = utc(before).timestamp() if before is not None else None
            day_limit = limit if limit is not None else np.floor(self._newest / DAY_SECONDS) * DAY_SECONDS
            return self._commit(limit, day_limit)

    def flush_closed(self, lateness: timedelta = timedelta(0)) -> int:
        """Persist the windows that ended at least ``lateness`` before the newest row seen (data time,
        so a simulated clock works too); the open window stays in memory. Meant to be called
        periodically by a profiling worker, with :meth:`close` at the end."""
        with self._lock:
            self._profile_staged()
            if not np.isfinite(self._newest):
                return 0
            return self.flush(before=_from_epoch(self._newest - lateness.total_seconds()))

    def _commit(self, limit: Optional[float], day_limit: Optional[float], consumed: Sequence[str] = ()) -> int:
        """Write the windows that end by ``limit`` (all: None) and the day rollups of days that ended by
        ``day_limit`` (all: None) and have no buffered window left, as one committed flush. Memory is
        only updated once the commit is on disk: a failed flush keeps everything for the next one."""
        w = self.window.total_seconds()
        due = sorted(k for k in self._windows if limit is None or k[0] + w <= limit)
        open_days = {float(np.floor(k[0] / DAY_SECONDS) * DAY_SECONDS) for k in self._windows if k not in set(due)}
        days = [k for k in sorted(self._days) if self.day_rollups and k[0] not in open_days
                and (day_limit is None or k[0] + DAY_SECONDS <= day_limit)]
        if not due and not days:
            return 0
        self._ensure_store_json()
        seq = self._commits.reserve(self.writer_id)
        files: list[tuple[Path, bytes]] = []
        covers = {k: list(v) for k, v in self._covers.items()}
        for k in due:
            start, key, value = k
            meta = {META_SEGMENT: f"{key}={value}", META_WRITER: self.writer_id, META_ROWS: str(self._windows[k].rows)}
            if key == "*" and start in self._first_seen:
                meta[META_FIRST_SEEN] = json.dumps(self._first_seen[start], sort_keys=True)
            window_dir = _from_epoch(start).strftime(WINDOW_FORMAT)
            data = self._windows[k].view(meta).serialize()
            files.append((self.root / segment_dir((key, value)) / window_dir / self._file_name(seq, data), data))
            if self.day_rollups:
                day = float(np.floor(start / DAY_SECONDS) * DAY_SECONDS)
                covers.setdefault((day, key, value), []).append(f"{window_dir}/{files[-1][0].name}")
        for k in days:
            day, key, value = k
            meta = {META_SEGMENT: f"{key}={value}", META_WRITER: self.writer_id, META_ROWS: str(self._days[k].rows),
                    META_COVERS: json.dumps(covers.pop(k, []))}
            if key == "*" and day in self._day_first_seen:
                meta[META_FIRST_SEEN] = json.dumps(self._day_first_seen[day], sort_keys=True)
            data = self._days[k].view(meta).serialize()
            day_dir = self.root / DAYS_DIR / segment_dir((key, value)) / _from_epoch(day).strftime(DAY_FORMAT)
            files.append((day_dir / self._file_name(seq, data), data))
        write_all(self._resolved, files)
        starts = {k[0] for k in due}
        journals = list(consumed) + (self._journal.files_of(starts) if self._journal is not None else [])
        self._commits.commit(self.writer_id, seq, {"files": [str(p.relative_to(self.root)) for p, _ in files],
                                                   "journals": journals})
        for k in due:
            del self._windows[k]
        for k in days:
            del self._days[k]
        self._covers = covers
        for start in starts:
            if not any(k[0] == start for k in self._windows):
                self._first_seen.pop(start, None)
        for day in list(self._day_first_seen):
            if not any(k[0] == day for k in self._days):
                del self._day_first_seen[day]
        if self._journal is not None:
            self._journal.drop(starts)
            self._journal.remove(journals)
        return len(files)

    def close(self) -> None:
        """Flush everything, day rollups included, and release the journal."""
        with self._lock:
            self._profile_staged()
            self._commit(None, None)
            if self._journal is not None:
                self._journal.close()

    def recover(self) -> int:
        """Fold the journals of writers that are gone (killed, or never closed) into committed profile
        files and remove them; returns the rows recovered. The first :meth:`write` calls it. Safe with
        any number of processes doing the same (see :func:`.recovery.recover`)."""
        return recovery.recover(self)

    def __enter__(self) -> "ProfileStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _file_name(self, seq: int, data: bytes) -> str:
        return f"{self.writer_id}-{seq:06d}-{zlib.crc32(data) & 0xFFFFFFFF:08x}.bin"

    def _ensure_store_json(self) -> None:
        path = self.root / "store.json"
        if path.exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        info = {"format": FORMAT_VERSION, "window_seconds": self.window.total_seconds(),
                "segment_keys": list(self.segment_keys), "created": datetime.now(timezone.utc).isoformat(),
                "profiles": "whylogs 1.6 DatasetProfileView files, one per window x segment x flush (see agenttrace_whylogs.store)"}
        write_once(path, (json.dumps(info, indent=2) + "\n").encode())

    # ------------------------------------------------------------------ reading

    def info(self) -> dict[str, Any]:
        """The contents of ``store.json`` (empty when missing or unreadable; unreadable is a problem)."""
        path = self.root / "store.json"
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            self._problem(path, f"unreadable ({type(err).__name__}); the window size is inferred")
            return {}
        if not isinstance(value, dict):
            self._problem(path, "not a JSON object; the window size is inferred")
            return {}
        return value

    @property
    def stored_window(self) -> timedelta:
        """The window size recorded in ``store.json``. A missing one is this instance's ``window``;
        one out of range (not a number of seconds from 1 to 366 days) is a problem, and the window
        is inferred from the spacing of the window directories instead."""
        info = self.info()
        if "window_seconds" not in info:
            return self.window
        seconds = info["window_seconds"]
        if (isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and math.isfinite(seconds)
                and MIN_WINDOW_SECONDS <= seconds <= MAX_WINDOW_SECONDS):
            return timedelta(seconds=float(seconds))
        inferred = self._inferred_window()
        self._problem(self.root / "store.json", f"window_seconds {str(seconds)[:40]} is out of range (a number of "
                      f"seconds from {MIN_WINDOW_SECONDS:.0f} to {MAX_WINDOW_SECONDS:.0f}); using {inferred.total_seconds():.0f} "
                      "inferred from the window directories")
        return inferred

    def _inferred_window(self) -> timedelta:
        """The smallest gap between consecutive overall windows, else this instance's ``window``."""
        starts = [start for start, _ in self._window_dirs(None)]
        gaps = [b - a for a, b in zip(starts, starts[1:]) if b > a]
        return min(gaps, default=self.window)

    def _within(self, path: Path) -> bool:
        """False (and a problem listed) for a path that leads out of the store through a symlink."""
        if inside(self._resolved, path):
            return True
        self._problem(path, "symlink to outside the store, ignored")
        return False

    def _window_dirs(self, segment: Optional[tuple[str, str]]) -> list[tuple[datetime, Path]]:
        """(start, directory) of the segment's window directories, sorted. A window directory
        outside the times a store holds (:data:`EARLIEST` to :data:`LATEST`) is a problem, skipped;
        so is a symlink out of the store."""
        directory = self.root / segment_dir(segment)
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return []
        if not self._within(directory):
            return []
        found = []
        for entry in entries:
            start = _parse_time(entry.name, WINDOW_FORMAT)
            if start is None or not entry.is_dir():
                continue
            if entry.is_symlink() and not self._within(Path(entry.path)):
                continue
            if not EARLIEST <= start < LATEST:
                self._problem(Path(entry.path), f"a window outside {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}; skipped")
                continue
            found.append((start, Path(entry.path)))
        return sorted(found)

    def _files(self, directory: Path, state: CommitState) -> list[Path]:
        """The committed profile files of a directory (symlinks out of the store left out)."""
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return []
        return sorted(Path(e.path) for e in entries
                      if e.name.endswith(".bin") and not e.name.startswith(".") and state.visible(e.name)
                      and (not e.is_symlink() or self._within(Path(e.path))))

    def _snapshot(self) -> "recovery.Snapshot":
        self._snap = recovery.snapshot(self, self._snap)
        return self._snap

    def windows(self, segment: Optional[tuple[str, str]] = None) -> list[datetime]:
        """Window starts (UTC) that have profile files (or recovered journal rows) for the segment
        (``None``: overall), sorted."""
        snap = self._snapshot()
        starts = {start for start, path in self._window_dirs(segment) if self._files(path, snap.state)}
        return sorted(starts | {_from_epoch(s) for s in snap.starts(segment)})

    def segments(self) -> dict[str, list[str]]:
        """Segment key → the values seen (sorted). A directory with ``=`` in its name that
        :func:`segment_dir` would not have written (not UTF-8, or quoted differently) is a problem,
        skipped: its key and value cannot be told apart from a damaged name."""
        out: dict[str, set[str]] = {}
        try:
            entries = [e for e in os.scandir(self.root) if e.is_dir()]
        except OSError:
            entries = []
        for entry in entries:
            seg = parse_segment_dir(entry.name)
            if seg is None or seg == OVERALL:
                continue
            if entry.is_symlink() and not self._within(Path(entry.path)):
                continue
            try:
                written = segment_dir(seg)
            except UnicodeEncodeError:  # a name that is not UTF-8 (os.scandir escapes its bytes)
                written = None
            if written != entry.name:
                self._problem(Path(entry.path), "not a segment directory name agenttrace writes; skipped")
                continue
            out.setdefault(seg[0], set()).add(seg[1])
        for _, key, value in self._snapshot().journal_rows:
            if key != "*":
                out.setdefault(key, set()).add(value)
        return {k: sorted(v) for k, v in sorted(out.items())}

    def time_range(self) -> Optional[tuple[datetime, datetime]]:
        """(first window start, last window end) over all rows, or ``None`` for an empty store."""
        starts = self.windows()
        if not starts:
            return None
        return starts[0], starts[-1] + self.stored_window

    def read(self, start: datetime, end: datetime, segment: Optional[tuple[str, str]] = None) -> Optional[DatasetProfileView]:
        """The merge of the profiles of every window starting in [start, end) for the segment
        (``None`` or ``("*", "*")``: all rows); ``None`` when there is no data. Damaged files are
        skipped and listed in :attr:`problems`."""
        return self._read(start, end, segment).view

    def read_windows(self, start: datetime, end: datetime,
                     segment: Optional[tuple[str, str]] = None) -> Iterator[tuple[datetime, DatasetProfileView]]:
        """(window start, merged profile of the window) for each window starting in [start, end)
        that has data, in time order (window files only; no day rollups)."""
        lo, hi = utc(start), utc(end)
        snap = self._snapshot()
        found: dict[datetime, _Read] = {}
        for wstart, path in self._window_dirs(segment):
            if lo <= wstart < hi:
                self._read_files(self._files(path, snap.state), found.setdefault(wstart, _Read()))
        for s in snap.starts(segment):
            if lo <= _from_epoch(s) < hi:
                found.setdefault(_from_epoch(s), _Read()).add(snap.view(s, segment))
        for wstart, got in sorted(found.items()):
            if got.view is not None:
                yield wstart, got.view

    def first_seen(self, start: datetime, end: datetime, column: str = "model_version") -> dict[str, datetime]:
        """Value → the earliest row timestamp with that value among the rows of [start, end).

        Exact for the columns in :data:`FIRST_SEEN_COLUMNS`: writers record the minimum row
        timestamp per value in the metadata of the overall profiles."""
        got = self._read(start, end, None)
        return {v: _from_epoch(t) for v, t in got.first_seen.get(column, {}).items()}

    def read_with_first_seen(self, start: datetime, end: datetime, segment: Optional[tuple[str, str]] = None
                             ) -> tuple[Optional[DatasetProfileView], dict[str, dict[str, datetime]]]:
        """:meth:`read` and :meth:`first_seen` (column → value → time) in one pass."""
        got = self._read(start, end, segment)
        return got.view, {c: {v: _from_epoch(t) for v, t in values.items()} for c, values in got.first_seen.items()}

    # internals

    def _problem(self, path: Path, reason: str) -> None:
        try:
            rel = str(path.relative_to(self.root))
        except ValueError:
            rel = str(path)
        rel = os.fsencode(rel).decode("utf-8", "backslashreplace")  # a name that is not UTF-8, printable
        with self._lock:
            if rel not in self._problem_files:
                self._problem_files.add(rel)
                self.problems.append(f"{rel}: {reason}")

    def _load(self, path: Path) -> Optional[DatasetProfileView]:
        """One profile file, or ``None`` (a damaged file is recorded in :attr:`problems`)."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None  # removed since it was listed
        except OSError as e:
            self._problem(path, f"unreadable ({e.strerror or e}); skipped")
            return None
        if not data:
            self._problem(path, "empty file; skipped")
            return None
        crc = path.stem.rsplit("-", 1)[-1]
        checked = len(crc) == 8 and all(c in "0123456789abcdef" for c in crc)
        if checked and f"{zlib.crc32(data) & 0xFFFFFFFF:08x}" != crc:
            self._problem(path, f"damaged (checksum mismatch, {len(data)} bytes); skipped")
            return None
        try:
            view = DatasetProfileView.deserialize(data)
            if not checked:  # no checksum: a damaged file may still parse, then break a merge or a summary
                _self_check(view)
            return view
        except Exception as e:  # whylogs raises many kinds of errors on a damaged file
            self._problem(path, f"not a whylogs profile ({type(e).__name__}: {str(e)[:80]}); skipped")
            return None

    def _add(self, got: _Read, view: DatasetProfileView, path: Path) -> bool:
        """Merge ``view`` (read from ``path``) into ``got``; a profile that does not merge is a problem."""
        try:
            got.add(view)
            return True
        except Exception as e:  # noqa: BLE001 (whylogs' sketches raise many kinds on damaged data)
            self._problem(path, f"does not merge with the other profiles ({type(e).__name__}: {str(e)[:80]}); skipped")
            return False

    def _read_files(self, files: Iterable[Path], got: _Read) -> None:
        for path in files:
            view = self._load(path)
            if view is not None:
                self._add(got, view, path)

    def _read(self, start: datetime, end: datetime, segment: Optional[tuple[str, str]]) -> _Read:
        lo, hi = utc(start), utc(end)
        snap = self._snapshot()
        got = _Read()
        by_day: dict[datetime, list[Path]] = {}
        for wstart, path in self._window_dirs(segment):
            if lo <= wstart < hi:
                by_day.setdefault(_day_of(wstart), []).append(path)
        days_root = self.root / DAYS_DIR / segment_dir(segment)
        rollups = by_day and self._within(days_root)
        for day, window_dirs in sorted(by_day.items()):
            files = {f"{d.name}/{f.name}": f for d in window_dirs for f in self._files(d, snap.state)}
            if rollups and lo <= day and day + timedelta(days=1) <= hi:  # the whole day is in the range: use day rollups
                covered: set[str] = set()
                for rollup in self._files(days_root / day.strftime(DAY_FORMAT), snap.state):
                    view = self._load(rollup)
                    if view is None:
                        continue
                    try:
                        covers = set(json.loads(view.metadata.get(META_COVERS, "[]")))
                    except ValueError:
                        covers = set()
                    if not covers or covers & covered or not covers <= set(files):
                        # overlapping or covering window files that are not there: not safe to use
                        continue
                    if self._add(got, view, rollup):
                        covered |= covers
                files = {name: f for name, f in files.items() if name not in covered}
            self._read_files(files.values(), got)
        for s in snap.starts(segment):  # rows of writers that died before their window was flushed
            if lo <= _from_epoch(s) < hi:
                got.add(snap.view(s, segment))
        if got.view is not None:
            meta = got.view.metadata  # whylogs' merge keeps one input's metadata: replace it by the merged facts
            meta.clear()
            meta[META_ROWS] = str(rows(got.view))
            if got.first_seen:
                meta[META_FIRST_SEEN] = json.dumps(got.first_seen, sort_keys=True)
        return got
