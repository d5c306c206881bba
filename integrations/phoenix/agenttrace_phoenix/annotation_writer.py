"""A background writer of Phoenix annotations: bounded, batched, retried, never blocking its caller.

``put()`` (called where spans end: the agent's thread or the metric worker) only stores the row in
a bounded, keyed queue — a row for the same (span/trace, name, identifier) replaces the one still
waiting — and wakes the writer thread at most once per batch. The thread sends batches of up to
``batch_size`` rows through ``phoenix.client`` (``log_span_annotations`` /
``log_trace_annotations`` with ``sync=True``, so every outcome is known), after ``delay`` seconds
unless a flush asks for them now (the spans reach Phoenix meanwhile: the export pipeline sends them
within its 1 s schedule delay and Phoenix stores them a moment later).

Outcomes:

- Phoenix unreachable, timing out or answering 408/429/500/502/503/504: the batch stays queued and the thread
  backs off (0.5 s doubling to ``backoff_cap``, with jitter; 0.5 s while a flush waits).
- HTTP 404 for rows whose span or trace Phoenix has not stored yet. Phoenix 20.26 rejects a
  ``sync=True`` batch naming a span it does not have as a whole ("Spans with IDs … do not
  exist."); with ``sync=False`` it would accept it, answer 200 and retry the row itself every 10 s,
  60 times, in memory, then discard it without telling anyone. So the writer keeps the named
  rows and retries them on their own (0.25 s doubling to 10 s; to 2 s while a flush waits), sends
  the rest of the batch at once, and gives a row up after ``target_wait`` seconds (counted).
- Any other 4xx (a bad row, no permission): the batch is dropped, counted, logged once.

With ``probe=True`` (a target only assumed to be Phoenix) the thread first asks
``GET /arize_phoenix_version``; anything but a version number turns the writer off (logged once,
the queue emptied, later rows ignored). Everything given up on is counted in ``drops`` by reason;
``flush(deadline)`` and ``shutdown_by(deadline)`` keep their deadline.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Mapping, Optional

logger = logging.getLogger("agenttrace")

SPAN, TRACE = "span", "trace"
_TARGET = {SPAN: ("span_id", re.compile(r"\b[0-9a-f]{16}\b")), TRACE: ("trace_id", re.compile(r"\b[0-9a-f]{32}\b"))}
_VERSION = re.compile(r"^\d+\.\d+")
RETRY_STATUS = (408, 429, 500, 502, 503, 504)  # Phoenix busy or briefly down (behind a proxy): try again
FLUSH_RETRY = 0.25  # seconds between retries while a flush waits; the first wait for a span not yet stored
MISSING_CAP, MISSING_CAP_FLUSHING = 10.0, 2.0  # the longest wait between tries of a row whose span is not stored
_REASONS = {
    "queue_full": "the annotation queue was full",
    "target_missing": "their span or trace never reached Phoenix",
    "rejected": "Phoenix refused them",
    "abandoned": "still queued when a shutdown deadline passed",
}


class AnnotationDrops:
    """Annotations given up on, by reason; the first drop is logged once."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(_REASONS, 0)
        self._lock = threading.Lock()
        self._logged = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, reason: str, n: int) -> None:
        with self._lock:
            self.counts[reason] += n
            first = n > 0 and not self._logged
            self._logged = self._logged or first
        if first:
            logger.warning("agenttrace: %d Phoenix annotation(s) dropped (%s); the agent is unaffected, the scores "
                           "stay on the spans. Further drops are counted (Telemetry.dropped_scores).", n, _REASONS[reason])

    def summary(self) -> str:
        parts = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in self.counts.items() if n)
        return f"{self.total} Phoenix annotation(s) were dropped in total ({parts})"


@dataclass
class _Item:
    kind: str
    row: dict
    queued_at: float
    not_before: float = 0.0
    missing_tries: int = 0

    @property
    def target(self) -> str:
        return str(self.row[_TARGET[self.kind][0]]).lower()


def _key(kind: str, row: Mapping[str, Any]) -> tuple:
    return kind, row[_TARGET[kind][0]], row["name"], row.get("identifier", "")


class AnnotationWriter:
    def __init__(self, base_url: str, headers: Optional[Mapping[str, str]] = None, *, timeout: float = 5.0,
                 max_queue: int = 10_000, batch_size: int = 500, delay: float = 2.0, target_wait: float = 120.0,
                 backoff_cap: float = 30.0, probe: bool = False, client: Optional[Callable[[], Any]] = None):
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.max_queue, self.batch_size, self.delay = max(1, max_queue), max(1, batch_size), delay
        self.target_wait, self.backoff_cap = target_wait, backoff_cap
        self._make_client = client or self._phoenix_client
        self.state = "probe" if probe else "on"  # "on" | "probe" | "off"
        self.delivered = 0
        self.target_retries = 0  # rows sent before Phoenix had stored their span/trace, queued again
        self.drops = AnnotationDrops()
        self._items: "OrderedDict[tuple, _Item]" = OrderedDict()
        self._cond = threading.Condition(threading.Lock())
        self._inflight = 0
        self._inflight_abandoned = False
        self._urgent = False  # a flush or shutdown wants everything sent now
        self._down_until = 0.0
        self._backoff = 0.0
        self._stopped = self._gave_up = False
        self._logged_down = self._logged_rejected = False
        self._thread: Optional[threading.Thread] = None

    @property
    def pending(self) -> int:
        return len(self._items) + self._inflight

    # ------------------------------------------------------------------ callers' threads

    def put(self, kind: str, row: dict) -> None:
        """Queue a row (never blocks); a row waiting for the same key is replaced."""
        key = _key(kind, row)
        with self._cond:
            if self.state == "off":
                return
            if self._stopped:
                reason = "abandoned"
            elif (item := self._items.get(key)) is not None:
                item.row = row
                return
            elif self.pending >= self.max_queue:
                reason = "queue_full"
            else:
                self._items[key] = _Item(kind, row, time.monotonic())
                if len(self._items) in (1, self.batch_size):
                    self._cond.notify_all()
                if self._thread is None or not self._thread.is_alive():  # lazily; again in a forked child
                    self._thread = threading.Thread(target=self._run, name="agenttrace-annotations", daemon=True)
                    self._thread.start()
                return
        self.drops.add(reason, 1)

    def request_flush(self) -> None:
        """Send what is queued without the batching delay and retry soon (without waiting)."""
        with self._cond:
            self._hurry()

    def flush(self, deadline: float) -> int:
        """Wait until every queued row is delivered or given up, or ``deadline`` (``time.monotonic()``)
        passes; returns the rows still pending."""
        with self._cond:
            self._hurry()
            while self.pending and self.state != "off" and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            return self.pending if self.state != "off" else 0

    def shutdown_by(self, deadline: float) -> None:
        """Deliver what is queued until ``deadline``, then stop; what is left is counted as abandoned."""
        with self._cond:
            if self._stopped:
                return
            self._stopped = True
        self.flush(deadline)
        with self._cond:
            lost = self.pending if self.state != "off" else 0
            self._items.clear()
            self._inflight_abandoned = self._inflight > 0
            self._gave_up = True
            self._cond.notify_all()
        if lost:
            self.drops.add("abandoned", lost)
        if self.drops.total:
            logger.warning("agenttrace: %s", self.drops.summary())

    def _hurry(self) -> None:  # holding the lock
        self._urgent = True
        soon = time.monotonic() + FLUSH_RETRY
        self._down_until = min(self._down_until, soon)
        for item in self._items.values():
            item.not_before = min(item.not_before, soon)
        self._cond.notify_all()

    # ------------------------------------------------------------------ the writer thread

    def _phoenix_client(self) -> Any:
        import httpx
        from phoenix.client import Client

        return Client(http_client=httpx.Client(base_url=self.base_url, headers=self.headers, timeout=self.timeout))

    def _run(self) -> None:
        client = None
        try:
            while True:
                with self._cond:
                    work = self._next()
                if work is None:
                    return
                if client is None:
                    client = self._make_client()
                if work == "probe":
                    self._probe(client)
                    continue
                kind, batch = work
                outcome = self._send(client, kind, batch)
                with self._cond:
                    self._settle(kind, batch, *outcome)
        except Exception:  # noqa: BLE001 - a writer bug costs annotations, never the application
            logger.warning("agenttrace: the Phoenix annotation writer stopped", exc_info=True)
        finally:
            close = getattr(getattr(client, "_client", None), "close", None)
            if close is not None:
                close()

    def _next(self):
        """Holding the lock: wait for work — ``"probe"``, ``(kind, batch)`` — or None to stop."""
        while not self._gave_up and self.state != "off":
            now = time.monotonic()
            if not self._items:
                self._urgent = False
                self._cond.wait()
                continue
            if now < self._down_until:
                self._cond.wait(self._down_until - now)
                continue
            if self.state == "probe":
                return "probe"
            first = next((item for item in self._items.values() if item.not_before <= now), None)
            if first is not None and (self._urgent or now - first.queued_at >= self.delay
                                      or len(self._items) >= self.batch_size):
                batch = list(islice((i for i in self._items.values() if i.not_before <= now and i.kind == first.kind),
                                    self.batch_size))
                for item in batch:
                    del self._items[_key(item.kind, item.row)]
                self._inflight = len(batch)
                return first.kind, batch
            waiting = (i.not_before for i in self._items.values() if i.not_before > now)
            wake = min(waiting, default=now + self.delay)
            if first is not None:
                wake = min(wake, first.queued_at + self.delay)
            self._cond.wait(max(0.0, wake - now))
        return None

    def _probe(self, client: Any) -> None:
        import httpx

        try:
            response = client._client.get("arize_phoenix_version")
        except httpx.HTTPError as err:
            with self._cond:
                self._unreachable(str(err) or type(err).__name__)
            return
        with self._cond:
            if response.status_code == 200 and _VERSION.match(response.text.strip()):
                self.state = "on"
            elif response.status_code in RETRY_STATUS:
                self._unreachable(f"HTTP {response.status_code}")
            else:
                self.state = "off"
                self._items.clear()
                logger.info("agenttrace: %s does not answer as an Arize Phoenix (GET /arize_phoenix_version: HTTP %d); "
                            "metric scores stay on the spans only (configure(annotate_scores=True or a URL) to write "
                            "them anyway)", self.base_url, response.status_code)
            self._cond.notify_all()

    def _send(self, client: Any, kind: str, batch: list[_Item]) -> tuple[str, Any]:
        import httpx

        rows = [item.row for item in batch]
        log = client.spans.log_span_annotations if kind == SPAN else client.traces.log_trace_annotations
        try:
            log(**{f"{kind}_annotations": rows}, sync=True)
            return "ok", None
        except httpx.HTTPStatusError as err:
            code, text = err.response.status_code, err.response.text
            if code == 404:
                return "missing", set(_TARGET[kind][1].findall(text.lower()))
            if code in RETRY_STATUS:
                return "down", f"HTTP {code}"
            return "rejected", f"HTTP {code}: {text.strip()[:300]}"
        except httpx.HTTPError as err:
            return "down", str(err) or type(err).__name__
        except Exception as err:  # noqa: BLE001 - e.g. the client's own validation of a row
            return "rejected", f"{type(err).__name__}: {err}"

    def _settle(self, kind: str, batch: list[_Item], outcome: str, detail: Any) -> None:
        """Holding the lock: account for a sent batch."""
        abandoned, self._inflight, self._inflight_abandoned = self._inflight_abandoned, 0, False
        now = time.monotonic()
        if outcome == "ok":
            self.delivered += len(batch)
            self._backoff = 0.0
            if abandoned:
                self.drops.add("abandoned", -len(batch))  # counted at the deadline, delivered after all
        elif abandoned:
            pass
        elif outcome == "rejected":
            self.drops.add("rejected", len(batch))
            if not self._logged_rejected:
                self._logged_rejected = True
                logger.warning("agenttrace: Phoenix at %s refused %d %s annotation(s): %s", self.base_url, len(batch),
                               kind, detail)
        elif outcome == "down":
            self._requeue(batch)
            self._unreachable(detail)
        else:  # missing: those named wait for their span/trace; the rest go again at once
            missing = detail or {item.target for item in batch}
            expired = 0
            for item in batch:
                if item.target not in missing:
                    item.not_before = 0.0
                elif now - item.queued_at >= self.target_wait:
                    expired += 1
                    continue
                else:
                    item.missing_tries += 1
                    self.target_retries += 1
                    cap = MISSING_CAP_FLUSHING if self._urgent else MISSING_CAP
                    wait = min(cap, FLUSH_RETRY * 2 ** (item.missing_tries - 1))
                    item.not_before = now + wait
                self._requeue([item])
            if expired:
                self.drops.add("target_missing", expired)
        if not self._items and not self._inflight:
            self._urgent = False
        self._cond.notify_all()

    def _requeue(self, batch: list[_Item]) -> None:
        for item in batch:
            key = _key(item.kind, item.row)
            if key not in self._items:  # else a newer row for the same key is already waiting
                self._items[key] = item

    def _unreachable(self, detail: str) -> None:
        """Holding the lock: Phoenix did not answer; back off before the next try."""
        self._backoff = min(self.backoff_cap, max(0.5, self._backoff * 2))
        wait = FLUSH_RETRY if self._urgent else self._backoff * random.uniform(0.8, 1.2)
        self._down_until = time.monotonic() + wait
        if not self._logged_down:
            self._logged_down = True
            logger.warning("agenttrace: Phoenix at %s is not reachable for annotations (%s); up to %d are kept and "
                           "retried", self.base_url, detail, self.max_queue)
