"""Retry storms and thundering herds, decided over timelines of model-call attempts.

Pure logic, no threads and no OTel: :class:`StormDetector` is fed :class:`Attempt` and
:class:`Exhausted` records (span timestamps, ns) and asked, at a time ``now``, what changed.
Per (provider, requested model) it keeps a sliding window (one minute by default) of logical
calls, attempts, 429 / 5xx / timeout failures, exhausted retries and retry start times.

- **retry storm**: attempts / calls (the retry amplification) above ``amplification`` with at least
  ``min_calls`` calls in the window. Ends when the amplification is back at or under the threshold
  (or the window is empty).
- **thundering herd**: at least ``herd_retries`` retries of distinct runs starting within
  ``herd_window_ms`` of each other, while retry waits have (almost) no spread: for each attempt
  number with three waits or more, their standard deviation is at most ``jitter_spread_ms`` — the
  retry policy adds no jitter. Ends when no such bunch is left in the window.

:mod:`agenttrace.retry_monitor` feeds it from finished spans, off the agent's thread.
"""

from __future__ import annotations

import statistics
from collections import Counter, deque
from dataclasses import dataclass, fields
from typing import Any, Hashable, Mapping, Optional, Union

STORM, HERD = "storm", "herd"


@dataclass(frozen=True)
class Thresholds:
    window_s: float = 60.0
    amplification: float = 1.5
    min_calls: int = 10
    herd_retries: int = 10
    herd_window_ms: float = 100.0
    jitter_spread_ms: float = 50.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
                raise ValueError(f"agenttrace: retry_monitor {f.name}={value!r} is not valid (a positive number)")

    @classmethod
    def of(cls, value: Union["Thresholds", Mapping[str, Any], None]) -> "Thresholds":
        if isinstance(value, Thresholds):
            return value
        if value is None:
            return cls()
        unknown = set(value) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"agenttrace: retry_monitor has no setting {', '.join(sorted(unknown))} "
                             f"(settings: {', '.join(f.name for f in fields(cls))})")
        return cls(**value)


@dataclass(frozen=True)
class Attempt:
    """One model call attempt: ``attempt`` 1 is a logical call, 2.. its retries."""
    provider: str
    model: str
    start_ns: int
    attempt: int = 1
    run: Hashable = None  # the run (trace) it belongs to
    status: Optional[int] = None  # HTTP status of its failure
    error_type: Optional[str] = None
    wait_ms: Optional[float] = None  # a retry: how long after the previous attempt ended it started


@dataclass(frozen=True)
class Exhausted:
    provider: str
    model: str
    at_ns: int


@dataclass
class Episode:
    """A storm or a herd on one provider/model: when it was detected and what it looked like then."""
    kind: str
    provider: str
    model: str
    detected_ns: int
    first_retry_ns: Optional[int]  # the earliest retry start in the window at detection
    amplification: float
    jitter_missing: Optional[bool]
    calls: int
    attempts: int
    bunched_retries: int = 0
    recovered_ns: Optional[int] = None

    @property
    def active(self) -> bool:
        return self.recovered_ns is None


_COUNTS = ("calls", "attempts", "rate_limited", "server_errors", "timeouts", "exhausted")


def _is_timeout(error_type: Optional[str], status: Optional[int]) -> bool:
    return status == 408 or (error_type is not None and "timeout" in error_type.rsplit(".", 1)[-1].lower())


class _Window:
    def __init__(self) -> None:
        self.events: deque = deque()  # (time ns, count deltas, retry or None), in arrival order
        self.retries: deque = deque()  # (start ns, run, attempt, wait ms)
        self.counts = dict.fromkeys(_COUNTS, 0)

    def add(self, t: int, deltas: tuple, retry: Optional[tuple]) -> None:
        self.events.append((t, deltas))
        for name, delta in zip(_COUNTS, deltas):
            self.counts[name] += delta
        if retry is not None:
            self.retries.append(retry)

    def prune(self, cutoff: int) -> None:
        while self.events and self.events[0][0] < cutoff:
            _, deltas = self.events.popleft()
            for name, delta in zip(_COUNTS, deltas):
                self.counts[name] -= delta
        while self.retries and self.retries[0][0] < cutoff:
            self.retries.popleft()


def jitter_missing(retries: Any, spread_ms: float) -> Optional[bool]:
    """True when the waits of each attempt number (three or more of them) hardly differ; None when
    too few waits were seen to tell."""
    by_attempt: dict = {}
    for _, _, attempt, wait in retries:
        if wait is not None:
            by_attempt.setdefault(attempt, []).append(wait)
    spreads = [statistics.pstdev(waits) for waits in by_attempt.values() if len(waits) >= 3]
    return None if not spreads else max(spreads) <= spread_ms


def largest_bunch(retries: Any, window_ns: int) -> tuple[int, Optional[int]]:
    """The most distinct runs whose retries start within ``window_ns`` of each other, and when
    that bunch starts."""
    starts = sorted((start, run) for start, run, _, _ in retries)
    runs: Counter = Counter()
    best, best_at, left = 0, None, 0
    for start, run in starts:
        runs[run] += 1
        while start - starts[left][0] > window_ns:
            old = starts[left][1]
            runs[old] -= 1
            if not runs[old]:
                del runs[old]
            left += 1
        if len(runs) > best:
            best, best_at = len(runs), starts[left][0]
    return best, best_at


class StormDetector:
    def __init__(self, thresholds: Union[Thresholds, Mapping[str, Any], None] = None, max_episodes: int = 1000):
        self.thresholds = Thresholds.of(thresholds)
        self._windows: dict = {}
        self.active: dict = {}  # (provider, model, kind) -> the Episode under way
        self.episodes: deque = deque(maxlen=max_episodes)  # every episode, oldest first
        self.totals = dict.fromkeys(_COUNTS, 0)

    def _window(self, provider: str, model: str) -> _Window:
        key = (provider, model)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window()
        return window

    def add(self, record: Union[Attempt, Exhausted]) -> None:
        if isinstance(record, Exhausted):
            deltas = (0, 0, 0, 0, 0, 1)
            self._window(record.provider, record.model).add(record.at_ns, deltas, None)
        else:
            status = record.status
            deltas = (1 if record.attempt <= 1 else 0, 1, int(status == 429),
                      int(status is not None and 500 <= status <= 599), int(_is_timeout(record.error_type, status)), 0)
            retry = (record.start_ns, record.run, record.attempt, record.wait_ms) if record.attempt > 1 else None
            self._window(record.provider, record.model).add(record.start_ns, deltas, retry)
        for name, delta in zip(_COUNTS, deltas):
            self.totals[name] += delta

    def keys(self) -> list:
        """The (provider, model) pairs with something in their window."""
        return list(self._windows)

    def stats(self, provider: str, model: str) -> dict:
        """The window's figures for one provider/model (as of the last ``evaluate``)."""
        window = self._windows.get((provider, model))
        counts = dict(window.counts) if window is not None else dict.fromkeys(_COUNTS, 0)
        counts["amplification"] = counts["attempts"] / counts["calls"] if counts["calls"] else None
        counts["retries"] = len(window.retries) if window is not None else 0
        return counts

    def evaluate(self, now_ns: int) -> list:
        """Slide the windows to ``now_ns``; return ``[("onset" | "recovery", Episode)]`` for what changed."""
        t = self.thresholds
        changes: list = []
        for (provider, model), window in list(self._windows.items()):
            window.prune(now_ns - int(t.window_s * 1e9))
            calls, attempts = window.counts["calls"], window.counts["attempts"]
            amplification = attempts / calls if calls else (float(attempts) if attempts else 0.0)
            no_jitter = jitter_missing(window.retries, t.jitter_spread_ms)
            bunch, _ = largest_bunch(window.retries, int(t.herd_window_ms * 1e6)) if window.retries else (0, None)
            storm_now = calls >= t.min_calls and amplification > t.amplification
            storm_over = not window.events or (calls > 0 and amplification <= t.amplification)
            herd_now = bunch >= t.herd_retries and no_jitter is True
            for kind, onset, over in ((STORM, storm_now, storm_over), (HERD, herd_now, not herd_now)):
                key = (provider, model, kind)
                episode = self.active.get(key)
                if episode is None and onset:
                    episode = Episode(kind, provider, model, now_ns, window.retries[0][0] if window.retries else None,
                                      amplification, no_jitter, calls, attempts, bunch)
                    self.active[key] = episode
                    self.episodes.append(episode)
                    changes.append(("onset", episode))
                elif episode is not None and over:
                    episode.recovered_ns = now_ns
                    del self.active[key]
                    changes.append(("recovery", episode))
            if not window.events and not window.retries:
                del self._windows[(provider, model)]
        return changes
