"""Flush and shutdown that keep their time: ``Telemetry.flush(timeout)``, process exit and SIGTERM.

What agenttrace buffers — metric scores (the MetricsEngine ends scored LLM spans), spans (the
export queue), trajectory rows (the TrajectoryProcessor) and score writes of the score sinks
(Phoenix annotations) — is flushed against one deadline: metrics first (they end spans), then
spans, profiles and score writes side by side, each with the time left. A
step that has no timeout of its own runs on a daemon thread that is waited for only until the
deadline, so a hung backend or store can delay exit by at most the deadline, never block it.

At exit (``atexit``) and on SIGTERM, each pipeline ``configure()`` created is shut down within its
``exit_timeout``. SIGTERM then ends the process as SIGTERM would have (status -15, 143 in a shell),
or calls the handler the application had installed.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

logger = logging.getLogger("agenttrace")

DEFAULT_EXIT_TIMEOUT = 3.0  # seconds process exit (and SIGTERM) waits for spans, scores and profiles


@dataclass(frozen=True)
class FlushResult:
    """What ``Telemetry.flush()`` achieved. Truthy when everything that had finished before the call
    was delivered in time (``flush()`` used to return a bool: ``if telemetry.flush():`` still reads
    the same)."""

    ok: bool
    pending_spans: int = 0  # finished before the flush, still queued or being exported when time ran out
    failed_spans: int = 0  # finished before the flush, not accepted by the backend (counted as dropped)
    metrics_pending: bool = False  # metric scoring unfinished: those LLM spans have not ended yet
    profiles_pending: bool = False  # trajectory rows/profiles not all written to the profile store
    dropped_spans: int = 0  # Telemetry.dropped_spans after the flush: every cause since configure()
    elapsed: float = 0.0  # seconds the flush took
    scores_pending: int = 0  # score writes (Phoenix annotations) not yet delivered when time ran out
    dropped_scores: int = 0  # Telemetry.dropped_scores after the flush: every cause since configure()

    def __bool__(self) -> bool:
        return self.ok

    @property
    def undelivered_spans(self) -> int:
        return self.pending_spans + self.failed_spans


def run_within(deadline: float, fn: Callable, *args: Any) -> tuple[bool, Any]:
    """Run ``fn(*args)`` on a daemon thread and wait for it until ``deadline`` (``time.monotonic()``).
    Returns ``(finished without raising, its value)``; an unfinished call is left running."""
    done = threading.Event()
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = fn(*args)
        except Exception:  # noqa: BLE001
            outcome["error"] = True
            logger.warning("agenttrace: %s failed", getattr(fn, "__qualname__", fn), exc_info=True)
        finally:
            done.set()

    threading.Thread(target=target, name="agenttrace-deadline", daemon=True).start()
    done.wait(max(0.0, deadline - time.monotonic()))
    return done.is_set() and "error" not in outcome, outcome.get("value")


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def flush_pipeline(t: Any, timeout: float) -> FlushResult:
    """``Telemetry.flush``: metric scores, then spans and trajectory profiles, within ``timeout``."""
    start = time.monotonic()
    deadline = start + max(0.0, float(timeout))
    metrics, processor, profiler = t.callback_handler.metrics, t.processor, t.profiler
    metrics_pending = metrics is not None and not run_within(deadline, metrics.flush, _left(deadline))[1]
    ticket = processor.request_flush() if hasattr(processor, "request_flush") else None
    for sink in t.score_sinks:  # they write in the background while the spans are exported
        sink.request_flush()
    profiles_pending = profiler is not None and not run_within(
        deadline, profiler.force_flush, int(_left(deadline) * 1000))[1]
    pending = failed = 0
    others_ok = True
    if ticket is not None:
        pending, failed = processor.wait(ticket, deadline)
    # a SimpleSpanProcessor (batch=False); the application's own provider: its other processors too
    for target in ([processor] if processor is not None and ticket is None else []) + \
            ([t.tracer_provider] if not t.owns_provider and hasattr(t.tracer_provider, "force_flush") else []):
        finished, value = run_within(deadline, target.force_flush, int(_left(deadline) * 1000))
        others_ok = others_ok and finished and value is not False
    scores_pending = sum(sink.flush(deadline) for sink in t.score_sinks)
    if t.dead_letter is not None:
        others_ok = t.dead_letter.flush(_left(deadline)) and others_ok
    if t.meter is not None:  # the GenAI metrics' OTLP export (a Prometheus endpoint is scraped, not pushed)
        finished, value = run_within(deadline, t.meter.force_flush, int(_left(deadline) * 1000))
        others_ok = others_ok and finished and value is not False
    ok = others_ok and not (metrics_pending or profiles_pending or pending or failed or scores_pending)
    return FlushResult(ok, pending, failed, metrics_pending, profiles_pending, t.dropped_spans,
                       time.monotonic() - start, scores_pending, t.dropped_scores)


def shutdown_pipeline(t: Any, timeout: float) -> None:
    """``Telemetry.shutdown``: end open runs, drain metric scores, then stop span export and
    trajectory profiling side by side, all within ``timeout``; what is left is counted as dropped."""
    deadline = time.monotonic() + max(0.0, float(timeout))
    handler = t.callback_handler
    run_within(deadline, handler.runs.sweep, float("inf"))  # end what is still open, marked expired
    if handler.metrics is not None:  # drain: scores of finished steps are not lost
        # the spans it ends (scored or not) still have to be exported: keep time for that
        export_reserve = min(1.0, _left(deadline) / 4)
        run_within(deadline, handler.metrics.shutdown, _left(deadline) - export_reserve)
    processor = t.processor
    ticket = processor.begin_shutdown() if hasattr(processor, "begin_shutdown") else None
    for sink in t.score_sinks:
        sink.request_flush()
    if t.profiler is not None:  # rows are synced to the journal first, then the store is closed in time
        run_within(deadline, t.profiler.shutdown, int(_left(deadline) * 1000))
    if ticket is not None:
        processor.finish_shutdown(ticket, deadline)
    elif processor is not None:
        run_within(deadline, processor.shutdown)
    for sink in t.score_sinks:  # writing since the spans' shutdown began; what is left is counted
        sink.shutdown_by(deadline)
    if t.dead_letter is not None:  # entries still queued at the deadline are counted and logged
        t.dead_letter.close(_left(deadline))
    if t.meter is not None:  # spans are ended: export the last metric points, close the scrape endpoint
        run_within(deadline, t.meter.shutdown, int(_left(deadline) * 1000))
    if t.owns_provider:  # processors the application added to agenttrace's provider; ours return at once
        run_within(deadline, t.tracer_provider.shutdown)


# ---------------------------------------------------------------------------------------- exit

_live: list = []  # Telemetry objects whose pipelines exit and SIGTERM shut down
_lock = threading.Lock()
_atexit_registered = False


def register(t: Any) -> None:
    global _atexit_registered
    with _lock:
        _live.append(t)
        if not _atexit_registered:
            _atexit_registered = True
            atexit.register(shutdown_all)


def unregister(t: Any) -> None:
    with _lock:
        _live[:] = [x for x in _live if x is not t]


def shutdown_all(only: Optional[Callable[[Any], bool]] = None) -> None:
    """Shut down every registered pipeline; together within the longest of their exit_timeouts."""
    with _lock:
        live = [t for t in _live if only is None or only(t)]
    if not live:
        return
    deadline = time.monotonic() + max(t.exit_timeout for t in live)
    for t in live:
        t.shutdown(timeout=min(t.exit_timeout, _left(deadline)))


# ---------------------------------------------------------------------------------------- SIGTERM

_previous: Any = None  # the SIGTERM disposition agenttrace found, to chain to
_installed = False


def install_sigterm() -> bool:
    """Handle SIGTERM like a normal exit. Only from the main thread (Python allows no other), and
    not when the application ignores SIGTERM or set its handler outside Python."""
    global _installed, _previous
    if _installed:
        return True
    if threading.current_thread() is not threading.main_thread():
        logger.info("agenttrace: configure() ran outside the main thread, so SIGTERM is not handled "
                    "(a normal exit still flushes)")
        return False
    previous = signal.getsignal(signal.SIGTERM)
    if previous is None or previous == signal.SIG_IGN:
        return False
    _previous, _installed = previous, True
    signal.signal(signal.SIGTERM, _on_sigterm)
    return True


def _on_sigterm(signum: int, frame: Any) -> None:
    previous = _previous
    chain = callable(previous)
    with _lock:
        live = [t for t in _live if t.handle_sigterm]
    if live:
        budget = max(t.exit_timeout for t in live)
        if chain:  # the application's handler decides what happens next; it may keep running
            work = lambda: [t.flush(timeout=budget) for t in live]  # noqa: E731
        else:
            work = lambda: shutdown_all(only=lambda t: t.handle_sigterm)  # noqa: E731
        # on a helper thread: the main thread may hold a lock the work needs; the wait stays bounded
        run_within(time.monotonic() + budget + 0.5, work)
    if chain:
        previous(signum, frame)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)  # die of SIGTERM, as without agenttrace
    time.sleep(1.0)
    os._exit(128 + signum)  # pragma: no cover - only if the signal could not be delivered
