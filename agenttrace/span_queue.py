"""A bounded queue of finished spans and the background thread that works through it: what span
processors use to keep their work off the agent's thread (``on_end`` is one append)."""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any, Callable, Optional

logger = logging.getLogger("agenttrace")


class SpanQueue:
    """``offer()`` on the agent's thread; ``work()`` every ``tick`` seconds on a daemon thread named
    ``name`` (errors are logged, the thread goes on); past ``max_queue`` spans are counted in ``dropped``."""

    def __init__(self, work: Callable[[], Any], name: str, tick: float, max_queue: int, start: bool = True):
        self.spans: deque = deque()
        self.dropped = 0
        self._work, self._name = work, name
        self._tick, self._max = float(tick), int(max_queue)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        if start:
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def __len__(self) -> int:
        return len(self.spans)

    def offer(self, span: Any) -> None:
        if len(self.spans) < self._max:
            self.spans.append(span)
        else:
            self.dropped += 1

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            try:
                self._work()
            except Exception:  # noqa: BLE001 - the background work must never take anything down
                logger.warning("agenttrace: %s error (it continues)", self._name, exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
