"""Always-on trajectory profiling: every finished agent run becomes a row in a profile store.

:class:`TrajectoryProcessor` is an OpenTelemetry span processor. On the agent's thread it only
puts ``(start|end, span)`` on a bounded queue (about a microsecond); a background worker groups
spans by their top-level span, waits until every span of that tree has ended (LLM spans scored
by the metric worker end later than their run), computes the :mod:`trajectory <agenttrace.trajectory>`
rows and hands them to a sink in batches — a whylogs ``ProfileStore`` by default
(``agenttrace_whylogs``), any object with ``write(trajectories)``, ``flush()`` and ``close()``
(and optionally ``sync()``, which makes what was written durable without writing profiles).

It sees 100% of traffic: heavy metrics may be sampled, the trajectory rows are not.

Durability: a finished run's row reaches the sink at most ``sync_interval`` seconds (default 1 s)
after its last span ended (plus whatever backlog the queue holds), and the sink's ``sync()`` is
called at that pace; the ``ProfileStore`` appends rows to its journal on ``write`` and fsyncs it
on ``sync``, so a ``kill -9`` loses at most the rows of the last ``sync_interval``.
:meth:`TrajectoryProcessor.force_flush` and :meth:`~TrajectoryProcessor.shutdown` persist every
row accepted so far within their timeout; both are idempotent and safe to call from a signal
handler in the main thread while the worker runs (nothing they do takes a lock the interrupted
thread may hold: the queue is a ``SimpleQueue``, reentrant by design).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, Sequence

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from .trajectory import DEFAULT_SEGMENT_KEYS, SpanRecord, Trajectory, record_from_sdk, trajectories

logger = logging.getLogger("agenttrace")

_START, _END, _FLUSH = 0, 1, 2


class TrajectorySink(Protocol):
    def write(self, trajectories: Sequence[Trajectory]) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


@dataclass
class _Tree:
    opened: float
    open_spans: int = 0
    records: list[SpanRecord] = field(default_factory=list)


class TrajectoryProcessor(SpanProcessor):
    """Profiles every finished agent run into ``sink`` off the agent's thread.

    ``max_open_trees`` / ``tree_ttl`` bound memory: a tree still open after ``tree_ttl`` seconds
    (a span that never ended) is profiled with what it has. ``flush_interval`` is how often the
    sink persists its profiles (closed windows). ``sync_interval``: how long a finished run's row may
    wait before it is handed to the sink and the sink's ``sync()`` makes it durable (the bound of
    what a ``kill -9`` loses). A full queue drops the event, counts it and logs once.
    """

    def __init__(self, sink: TrajectorySink, *, segment_keys: Sequence[str] = DEFAULT_SEGMENT_KEYS,
                 queue_size: int = 100_000, batch_size: int = 1000, max_wait: float = 0.5,
                 flush_interval: float = 60.0, max_open_trees: int = 10_000, tree_ttl: float = 3600.0,
                 sync_interval: float = 1.0):
        if not 0 < sync_interval < float("inf"):
            raise ValueError("sync_interval must be a positive number of seconds")
        self.sink = sink
        self.segment_keys = tuple(segment_keys)
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.flush_interval = flush_interval
        self.max_open_trees = max_open_trees
        self.tree_ttl = tree_ttl
        self.sync_interval = sync_interval
        self.queue_size = queue_size
        self.dropped = 0
        self.rows = 0
        self.incomplete = 0
        # SimpleQueue: reentrant (a signal handler may put while the interrupted thread is in put)
        self._queue: "queue.SimpleQueue[tuple]" = queue.SimpleQueue()
        self._trees: dict[int, _Tree] = {}
        self._root_of: dict[int, int] = {}  # span id → id of its tree's top span
        self._pending: list[Trajectory] = []
        self._warned = False
        self._stopped = False
        self._closed = threading.Event()  # the worker has stopped and closed the sink
        self._thread = threading.Thread(target=self._run, name="agenttrace-profiler", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ agent thread

    def _put(self, item: tuple) -> None:
        if self._stopped:
            return
        if self._queue.qsize() >= self.queue_size:
            self.dropped += 1
            if not self._warned:
                self._warned = True
                logger.warning("agenttrace: trajectory profiling queue is full; events are dropped and counted "
                               "(TrajectoryProcessor.dropped)")
            return
        self._queue.put(item)

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        parent = span.parent.span_id if span.parent is not None and not span.parent.is_remote else None
        self._put((_START, span.context.span_id, parent))

    def on_end(self, span: ReadableSpan) -> None:
        self._put((_END, span.context.span_id, span))

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Profile everything that has finished so far and make it durable in the sink (its journal:
        ``sync()``; ``flush()`` for a sink without one); False when that did not finish in time."""
        if self._stopped:
            return self._closed.is_set()
        done = threading.Event()
        self._queue.put((_FLUSH, done, None))
        return done.wait(max(0.0, timeout_millis / 1000))

    def shutdown(self, timeout_millis: int = 30_000) -> bool:
        """Persist every accepted row, stop the worker and close the sink (which writes the open
        windows' profiles), within ``timeout_millis`` overall; True when all of it finished. When
        time runs out, the rows are already durable (synced first) and the worker goes on closing
        the sink in the background (a daemon thread). Idempotent; a second call waits for the first."""
        deadline = time.monotonic() + max(0.0, timeout_millis / 1000)
        if not self._stopped:
            self.force_flush(timeout_millis)
            self._stopped = True
            self._queue.put((None, None, None))
        if threading.current_thread() is self._thread:
            return False
        return self._closed.wait(max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------------ worker

    def _run(self) -> None:
        last_flush = last_sync = time.monotonic()
        while True:
            wait = max(0.0, min(self.max_wait, last_sync + self.sync_interval - time.monotonic()))
            try:
                kind, key, payload = self._queue.get(timeout=wait)
            except queue.Empty:
                kind = -1
            try:
                if kind is None:
                    self._finish()
                    return
                if kind == _START:
                    self._started(key, payload)
                elif kind == _END:
                    self._ended(key, payload)
                elif kind == _FLUSH:
                    self._expire(time.monotonic())
                    self._emit(force=True)
                    self._persist(explicit=True)
                    last_sync = time.monotonic()
                    key.set()
                    continue
                now = time.monotonic()
                if kind == -1 or len(self._pending) >= self.batch_size:
                    self._expire(now)
                    self._emit(force=True)
                if now - last_sync >= self.sync_interval:
                    self._emit(force=True)
                    self._persist(explicit=False)
                    last_sync = now
                if now - last_flush >= self.flush_interval:
                    self._sink_flush(closed_only=True)
                    last_flush = now
            except Exception:  # noqa: BLE001 - the worker must survive anything
                logger.warning("agenttrace: trajectory profiling failed for a span (continuing)", exc_info=True)
                if kind == _FLUSH:
                    key.set()

    def _finish(self) -> None:
        """The worker's last act: hand over what is pending and close the sink (writes every profile)."""
        try:
            self._emit(force=True)
            self.sink.close()
        except Exception:  # noqa: BLE001
            logger.warning("agenttrace: closing the profile store failed", exc_info=True)
        finally:
            self._closed.set()

    def _started(self, span_id: int, parent_id: Optional[int]) -> None:
        top = self._root_of.get(parent_id, None) if parent_id is not None else None
        if top is None:
            top = span_id
            if len(self._trees) >= self.max_open_trees:
                oldest = min(self._trees, key=lambda k: self._trees[k].opened)
                self._close(oldest, incomplete=True)
            self._trees[top] = _Tree(opened=time.monotonic())
        self._root_of[span_id] = top
        tree = self._trees.get(top)
        if tree is not None:
            tree.open_spans += 1

    def _ended(self, span_id: int, span: ReadableSpan) -> None:
        top = self._root_of.get(span_id)
        tree = self._trees.get(top) if top is not None else None
        if tree is None:
            return  # started before profiling began, or its tree was already closed
        tree.records.append(record_from_sdk(span))
        tree.open_spans -= 1
        if tree.open_spans <= 0:
            self._close(top)

    def _close(self, top: int, incomplete: bool = False) -> None:
        tree = self._trees.pop(top)
        for record in tree.records:
            self._root_of.pop(int(record.span_id, 16), None)
        self._root_of.pop(top, None)
        if incomplete:
            self.incomplete += 1
            self._root_of = {k: v for k, v in self._root_of.items() if v != top}
        self._pending.extend(trajectories(tree.records, self.segment_keys))

    def _expire(self, now: float) -> None:
        for top in [k for k, t in self._trees.items() if now - t.opened > self.tree_ttl]:
            self._close(top, incomplete=True)

    def _emit(self, force: bool = False) -> None:
        if not self._pending or (not force and len(self._pending) < self.batch_size):
            return
        batch, self._pending = self._pending, []
        self.sink.write(batch)
        self.rows += len(batch)

    def _persist(self, explicit: bool) -> None:
        """Make the rows handed to the sink durable: ``sync()`` (a journal fsync), or for a sink
        without a journal ``flush()`` on an explicit flush only (periodic flushes are closed-only)."""
        sync = getattr(self.sink, "sync", None)
        try:
            if sync is not None and sync() is not False:
                return
        except Exception:  # noqa: BLE001
            logger.warning("agenttrace: syncing the profile journal failed (will retry)", exc_info=True)
            return
        if explicit:
            self._sink_flush()

    def _sink_flush(self, closed_only: bool = False) -> None:
        """Persist profiles: periodically only the windows that are over (when the sink can tell,
        so an open window is not written again every interval), everything on an explicit flush."""
        try:
            closed = getattr(self.sink, "flush_closed", None)
            if closed_only and closed is not None:
                closed()
            else:
                self.sink.flush()
        except Exception:  # noqa: BLE001
            logger.warning("agenttrace: writing profiles failed (will retry at the next flush)", exc_info=True)
