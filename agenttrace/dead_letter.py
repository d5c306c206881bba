"""The dead-letter queue: root runs that failed after exhausting their retries, kept for replay.

The handler calls :meth:`DeadLetterQueue.offer` when a root run fails (on the agent's thread, before
its exception propagates): the entry — trace and span id, agent name, the run's input in
LangChain's own serialisation (``langchain_core.load.dumps``), config metadata and tags, error type
and message, attempts, time — is built there (the ``redact`` hook applies) and handed to a bounded
queue. A writer thread commits it to the store (:mod:`agenttrace.dead_letter_store`); only then is
it *acknowledged* (``written``). The agent never waits for the store: a full queue drops the entry,
an unreachable store is retried in the background; both are counted and logged, and the agent's
own exception propagates exactly as without the queue.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from typing import Any, Callable, Optional

from .content import Redactor
from .errors import error_type
from .retryable import retryable

logger = logging.getLogger("agenttrace")

INPUT_KEY = "agenttrace.dead_letter.input"  # the key the redact hook sees for the stored input


class DeadLetter:
    """What ``configure(dead_letter=...)`` takes when the defaults are not enough.

    Args:
        store: a SQLite path, a ``postgresql://`` URL, or a store object; default
            ``AGENTTRACE_DEAD_LETTER``, else ``.agenttrace/dead-letter.sqlite``.
        predicate: ``predicate(error) -> bool``: which failures are dead-lettered (default
            :func:`agenttrace.retryable.retryable`).
        require_retries: only runs in which a ``with_retry`` wrapper gave up (default True); False:
            any root failure the predicate accepts.
        replay_agent: ``"module:attr"`` of the runnable ``agenttrace dlq replay`` should run the
            entries through (``--agent`` overrides it).
        max_queue: entries waiting for the store at most; past that they are dropped and counted.
    """

    def __init__(self, store: Any = None, *, predicate: Callable[[BaseException], bool] = retryable,
                 require_retries: bool = True, replay_agent: Optional[str] = None, max_queue: int = 1000) -> None:
        if not callable(predicate):
            raise ValueError(f"agenttrace: dead-letter predicate={predicate!r} is not callable")
        if not isinstance(max_queue, int) or max_queue < 1:
            raise ValueError(f"agenttrace: dead-letter max_queue={max_queue!r} is not valid")
        self.store, self.predicate, self.require_retries = store, predicate, bool(require_retries)
        self.replay_agent, self.max_queue = replay_agent, max_queue


def serialise_input(inputs: Any) -> Any:
    """The run's input as LangChain serialises it (``dumps``; messages and documents come back as
    themselves on replay), as a JSON value."""
    from langchain_core.load import dumps

    return json.loads(dumps(inputs))


class DeadLetterQueue:
    """A bounded queue in front of a store, written by one background thread."""

    def __init__(self, store: Any, config: DeadLetter, redact: Optional[Redactor] = None) -> None:
        self.store = store
        self.config = config
        self.redact = redact
        self._queue: "queue.Queue" = queue.Queue(maxsize=config.max_queue)
        self._done = threading.Condition()
        self.offered = 0  # entries handed to the queue
        self.written = 0  # entries committed to the store (acknowledged)
        self.dropped = 0  # entries never stored: queue full, or still queued at close
        self.store_errors = 0  # failed attempts to write a batch (the batch is kept and retried)
        self._warned: set = set()
        self._closed = False
        self._thread = threading.Thread(target=self._write_loop, name="agenttrace-dead-letter", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ the agent's thread

    def wants(self, error: BaseException, attempts: int) -> bool:
        if self.config.require_retries and attempts < 1:
            return False
        try:
            return bool(self.config.predicate(error))
        except Exception:  # noqa: BLE001 - a broken predicate must not break the agent
            self._warn("predicate", "agenttrace: the dead-letter predicate failed; the run was not dead-lettered")
            return False

    def run_failed(self, state: Any, error: BaseException) -> None:
        """A run failed (the handler's error callback, on the agent's thread). A retry wrapper that
        gave up is noted on its root run; a failed root run the policy accepts is offered."""
        root = state
        while root.parent is not None:
            root = root.parent
        if state.retry_attempts:
            root.retries_exhausted = max(root.retries_exhausted, state.retry_attempts)
        if state.parent is None and state.dead_letter is not None and self.wants(error, root.retries_exhausted):
            inputs, tags, metadata = state.dead_letter
            self.offer(self.entry(state.span, state.agent_name or state.name, inputs, tags, metadata, error,
                                  root.retries_exhausted))

    def _redacted(self, key: str, text: Optional[str]) -> Optional[str]:
        if text is None or self.redact is None:
            return text
        try:
            out = self.redact(key, text)
        except Exception:  # noqa: BLE001 - privacy first: a failing redactor drops the value
            self._warn("redact", "agenttrace: the redact hook failed on a dead-letter entry; the value was dropped")
            return None
        return None if out is None else str(out)

    def entry(self, span: Any, agent: str, inputs: Any, tags: Any, metadata: Any, error: BaseException,
              attempts: int) -> dict:
        ctx = span.get_span_context()
        text = self._redacted(INPUT_KEY, json.dumps(serialise_input(inputs), ensure_ascii=False))
        try:
            stored_input = json.loads(text) if text is not None else None
        except ValueError:  # the redactor broke the JSON: keep its text, replay will say it cannot load it
            stored_input = text
        meta = json.loads(json.dumps(dict(metadata or {}), default=repr))
        try:
            message = str(error)
        except Exception:  # noqa: BLE001
            message = None
        return {
            "id": uuid.uuid4().hex, "created_at": time.time(),
            "trace_id": format(ctx.trace_id, "032x") if ctx.trace_id else None,
            "span_id": format(ctx.span_id, "016x") if ctx.span_id else None,
            "agent": agent, "replay_agent": self.config.replay_agent, "input": stored_input,
            "metadata": meta, "tags": [str(t) for t in tags or ()],
            "error_type": error_type(error), "error_message": self._redacted("exception.message", message),
            "attempts": int(attempts),
        }

    def offer(self, entry: dict) -> bool:
        """Queue ``entry`` for the store without waiting; False (counted, logged) when the queue is full."""
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            with self._done:
                self.dropped += 1
            self._warn("full", "agenttrace: the dead-letter queue is full (the store is slow or unreachable); "
                               "entries are dropped and counted in dead_letter.dropped")
            return False
        with self._done:
            self.offered += 1
        return True

    # ------------------------------------------------------------------ the writer thread

    def _write_loop(self) -> None:
        backoff = 0.05
        batch: list = []
        while True:
            if not batch:
                item = self._queue.get()
                if item is None:
                    return
                batch.append(item)
                while len(batch) < 100:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        self._queue.put(None)  # keep the stop mark for after this batch
                        break
                    batch.append(item)
            try:
                self.store.add_many(batch)
            except Exception:  # noqa: BLE001 - the store is down: keep the batch, retry later
                with self._done:
                    self.store_errors += 1
                self._warn("store", "agenttrace: writing to the dead-letter store failed (retrying; "
                                    "counted in dead_letter.store_errors)", exc_info=True)
                if self._closed:
                    return
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.05
            with self._done:
                self.written += len(batch)
                self._done.notify_all()
            batch = []

    def _warn(self, key: str, message: str, exc_info: bool = False) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message, exc_info=exc_info)

    # ------------------------------------------------------------------ flush / close

    @property
    def pending(self) -> int:
        return self.offered - self.written

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every entry offered so far is committed, at most ``timeout`` seconds."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._done:
            target = self.offered
            while self.written < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._done.wait(left)
        return True

    def close(self, timeout: float = 3.0) -> bool:
        """Flush within ``timeout`` and stop the writer; what is still queued is counted as dropped."""
        ok = self.flush(timeout)
        self._closed = True
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(0.5 if ok else 0.0)
        if not ok:
            with self._done:
                lost = self.offered - self.written
                self.dropped += lost
            logger.warning("agenttrace: %d dead-letter entries could not be stored before exit", lost)
        try:
            self.store.close()
        except Exception:  # noqa: BLE001
            pass
        return ok


def open_queue(dead_letter: Any, redact: Optional[Redactor]) -> Optional[DeadLetterQueue]:
    """``configure(dead_letter=...)``: None/False → off; True, a path, a URL, a store or a
    :class:`DeadLetter` → a running :class:`DeadLetterQueue`."""
    if dead_letter is None or dead_letter is False:
        return None
    from .dead_letter_store import open_store

    config = dead_letter if isinstance(dead_letter, DeadLetter) else DeadLetter(dead_letter)
    return DeadLetterQueue(open_store(config.store), config, redact)
