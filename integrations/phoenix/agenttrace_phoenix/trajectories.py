"""Turn a Phoenix project's spans into trajectories (one per agent run), streaming.

Spans are read in start-time order (:meth:`.store.PhoenixStore.iter_spans`, 1,000 per request) and a trace is turned into trajectories as soon as it is complete: once the
reader has passed the end of every span seen in that trace, no later span can belong to it
(a child starts before its parent ends). So memory holds only the traces in flight, not the
project.

Which runs: those whose root span *ended* in ``[start, end)`` — the same time a trajectory is
profiled under (:attr:`agenttrace.trajectory.Trajectory.end_time`). Spans are read from
``start - lookback`` so that runs which started before ``start`` are complete; a run longer
than ``lookback`` that started before ``start - lookback`` is missed, and the part of it that was
read is recognised (its top span's parent is stored in Phoenix) and dropped.
"""

from __future__ import annotations

import heapq
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Optional, Sequence

import httpx

from agenttrace.trajectory import DEFAULT_SEGMENT_KEYS, SpanRecord, Trajectory, record_from_phoenix, trajectories

from .server import PhoenixError
from .store import project_path, utc

DEFAULT_LOOKBACK = timedelta(hours=1)


def iter_trajectories(phoenix_store: Any, project: str, *, start: Optional[datetime] = None,
                      end: Optional[datetime] = None, segment_keys: Sequence[str] = DEFAULT_SEGMENT_KEYS,
                      lookback: timedelta = DEFAULT_LOOKBACK,
                      on_span: Optional[Callable[[dict], None]] = None) -> Iterator[Trajectory]:
    """The trajectories of ``project``'s runs whose root span ended in ``[start, end)`` (either bound
    may be None), roughly in end-time order. ``on_span`` is called with every span read (progress)."""
    start, end = utc(start), utc(end)
    lo = start.timestamp() if start is not None else float("-inf")
    hi = end.timestamp() if end is not None else float("inf")
    open_traces: dict[str, list[SpanRecord]] = {}
    open_until: dict[str, int] = {}  # trace id → latest end (ns) of its spans read so far
    heap: list[tuple[int, str]] = []  # (end, trace id), stale entries skipped when popped
    ordered, last_start = True, None

    def finish(trace_ids: list[str]) -> Iterator[Trajectory]:
        found: list[tuple[Trajectory, Optional[str]]] = []
        for trace_id in trace_ids:
            records = open_traces.pop(trace_id)
            open_until.pop(trace_id)
            ids = {r.span_id: r for r in records}
            for t in trajectories(records, segment_keys):
                if lo <= t.end_time < hi:
                    parent = ids[t.span_id].parent_id
                    found.append((t, parent if parent and parent not in ids else None))
        # a run root whose parent is missing here is either the root of a distributed trace (parent in
        # another service) or the tail of a run that started before the read range: ask Phoenix
        stored = _stored_span_ids(phoenix_store, project, [p for _, p in found if p])
        yield from (t for t, parent in found if parent is None or parent not in stored)

    first = start - lookback if start is not None else None
    for span in phoenix_store.iter_spans(project, start=first, end=end):
        if on_span is not None:
            on_span(span)
        record = record_from_phoenix(span)
        if last_start is not None and record.start_ns < last_start:
            ordered = False  # a Phoenix that ignores sort=start_time: keep everything until the end
        last_start = record.start_ns
        if ordered:
            done = []
            while heap and heap[0][0] < record.start_ns:
                until, trace_id = heapq.heappop(heap)
                if open_until.get(trace_id) == until and trace_id != record.trace_id:
                    done.append(trace_id)
            if done:
                yield from finish(done)
        open_traces.setdefault(record.trace_id, []).append(record)
        if record.end_ns > open_until.get(record.trace_id, -1):
            open_until[record.trace_id] = record.end_ns
            heapq.heappush(heap, (record.end_ns, record.trace_id))
    if open_traces:
        yield from finish(list(open_traces))


def _stored_span_ids(phoenix_store: Any, project: str, span_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(span_ids), 100):
        try:
            batch = phoenix_store.client.spans.get_spans(project_identifier=project_path(project),
                                                         span_ids=span_ids[i:i + 100], limit=100)
        except httpx.HTTPError as err:
            raise PhoenixError(f"reading spans of project {project!r} failed: {err}") from None
        found.update(s["context"]["span_id"] for s in batch)
    return found
