"""The judge worker: LLM judges on sampled steps, off the agent's thread.

The engine hands a judge-sampled step over with :meth:`JudgeWorker.submit` (a ``put_nowait``: a
full queue skips the step's judges, ``queue_full``). A dispatcher thread takes the step, checks the
limits per judge call — a token bucket of ``calls_per_minute`` (``rate_limit``) and the tokens
spent today against ``tokens_per_day`` (``cost_cap``) — and runs the calls on a small pool of
daemon threads (judge calls wait on the network; a hung call never keeps the process alive). A call
that has not answered within its judge's ``timeout`` is recorded as ``timeout``; an exception as
``error``. Then the results go on the span (:func:`record`) and the span is ended with its true
end time, once every other part working on it (the heavy metrics) is done too (:class:`SpanEnd`).
Every skip is counted in :attr:`JudgeWorker.skipped` by reason and recorded on the span.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Optional

from .. import semconv as sc
from .judges import JudgeLimits, JudgeResult

logger = logging.getLogger("agenttrace")

JUDGE_PREFIX = sc.METRIC_JUDGE_PREFIX


class SpanEnd:
    """Ends a span at its true end time once every part working on it (heavy metrics, judges) is done."""

    __slots__ = ("span", "end_time", "_parts", "_lock")

    def __init__(self, span: Any, end_time: int, parts: int):
        self.span, self.end_time, self._parts, self._lock = span, end_time, parts, threading.Lock()

    def done(self) -> None:
        with self._lock:
            self._parts -= 1
            last = self._parts == 0
        if last:
            self.span.end(end_time=self.end_time)


class TokenBucket:
    """``rate_per_minute`` calls per minute, bursts up to a minute's worth."""

    def __init__(self, rate_per_minute: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.capacity, self.clock = rate_per_minute / 60.0, max(1.0, rate_per_minute), clock
        self.tokens, self.at = self.capacity, clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def review_reason(result: JudgeResult, threshold: Optional[float], floor: Optional[float]) -> Optional[str]:
    """Why a judge's score needs review: above the profile's threshold or below its floor for
    ``judge:<name>`` (``"judge.hedging 0.000 < 0.5 (hedged)"``); None when it does not, or has no score."""
    if result.score is None:
        return None
    name, score, label = "judge." + result.name, float(result.score), f" ({result.label})" if result.label else ""
    if threshold is not None and score > threshold:
        return f"{name} {score:.3f} > {threshold:g}{label}"
    if floor is not None and score < floor:
        return f"{name} {score:.3f} < {floor:g}{label}"
    return None


def flag_for_review(span: Any, reasons: list, lock: Any) -> None:
    """Raise the review flag with ``reasons`` added to any the span already has (the LangKit scores'
    flags are written by the metric worker on its own thread: both go through ``lock``)."""
    if not reasons:
        return
    with lock:
        before = (getattr(span, "attributes", None) or {}).get(sc.REVIEW_REASON)
        span.set_attribute(sc.REVIEW_REQUIRED, True)
        span.set_attribute(sc.REVIEW_REASON, "; ".join([before, *reasons] if before else reasons))


def record(span: Any, result: JudgeResult, end_time: int, capture_content: bool,
           finalize: Callable[[dict], dict] = lambda attrs: attrs) -> None:
    """A judge's result on its span: ``agenttrace.metric.judge.<name>`` (score), ``.label``,
    ``.explanation`` (only with content capture: it quotes the judged text), ``.skipped``,
    ``.error``, and a ``gen_ai.evaluation.result`` event named ``judge.<name>``. Strings pass
    ``finalize`` (the handler's content policy: the redaction hook, the length cap)."""
    key = JUDGE_PREFIX + result.name
    attrs: dict = {}
    if result.skipped:
        attrs[key + ".skipped"] = result.skipped
    if result.error:
        attrs[key + ".error"] = result.error
    event: dict = {sc.EVALUATION_NAME: "judge." + result.name}
    if result.score is not None:
        attrs[key] = event[sc.EVALUATION_SCORE_VALUE] = float(result.score)
    if result.label is not None:
        attrs[key + ".label"] = event[sc.EVALUATION_SCORE_LABEL] = result.label
    if capture_content and result.explanation:
        attrs[key + ".explanation"] = event[sc.EVALUATION_EXPLANATION] = result.explanation
    span.set_attributes(finalize(attrs))
    if len(event) > 1:
        span.add_event(sc.EVALUATION_EVENT, finalize(event), timestamp=end_time)


@dataclass
class _Job:
    end: SpanEnd
    names: tuple
    prompt: str
    response: str
    limits: Mapping[str, tuple] = field(default_factory=dict)  # name -> (threshold, floor) of judge:<name>
    calls: dict = field(default_factory=dict)  # name -> (Future, deadline)
    results: dict = field(default_factory=dict)  # name -> JudgeResult


class JudgeWorker:
    def __init__(self, judges: Mapping[str, Any], limits: JudgeLimits = JudgeLimits(), *, threads: int = 4,
                 queue_size: int = 1000, capture_content: bool = False, clock: Callable[[], float] = time.monotonic):
        self.judges = dict(judges)
        self.limits = limits
        self.capture_content = capture_content
        self.finalize: Callable[[dict], dict] = lambda attrs: attrs  # the handler's ContentPolicy.finalize
        self.skipped: Counter = Counter()  # reason -> judge calls skipped
        self.judged = 0  # judge calls answered
        self.failed = 0  # judge calls that raised or timed out
        self.tokens_today = 0
        self._day = self._today()
        self._bucket = TokenBucket(limits.calls_per_minute, clock) if limits.calls_per_minute else None
        self._threads = max(1, threads)
        self._jobs: "queue.Queue[_Job]" = queue.Queue(maxsize=queue_size)
        self._calls: "queue.Queue[tuple]" = queue.Queue()
        self._pending = 0  # submitted jobs whose span is not finished yet
        self._lock = threading.Lock()
        self._started = False
        self._give_up = threading.Event()
        #: the lock the review flag is written under (the metric engine's, which flags LangKit scores)
        self.review_lock: Any = threading.Lock()

    # ------------------------------------------------------------------ agent thread

    def submit(self, end: SpanEnd, names: tuple, prompt: str, response: str,
               limits: Mapping[str, tuple] = {}) -> bool:
        """Queue a step for its judges (``limits``: judge name → the profile's (threshold, floor) for
        its score, which raise the review flag); False (counted ``queue_full``, recorded) when the
        queue is full."""
        self._ensure_started()
        with self._lock:
            self._pending += 1
        try:
            self._jobs.put_nowait(_Job(end, names, prompt, response, dict(limits)))
            return True
        except queue.Full:
            with self._lock:
                self._pending -= 1
            for name in names:
                self.skipped["queue_full"] += 1
                record(end.span, JudgeResult(name, None, None, None, skipped="queue_full"), end.end_time, False, self.finalize)
            if self.skipped["queue_full"] == len(names):
                logger.warning("agenttrace: judge queue full, judges skipped for a step (counted in JudgeWorker.skipped)")
            return False

    # ------------------------------------------------------------------ threads

    def _ensure_started(self) -> None:
        if self._started:
            return
        with self._lock:
            if self._started:
                return
            threading.Thread(target=self._dispatch, name="agenttrace-judges", daemon=True).start()
            for i in range(self._threads):
                threading.Thread(target=self._call_loop, name=f"agenttrace-judge-{i}", daemon=True).start()
            self._started = True

    def _call_loop(self) -> None:
        while True:
            future, judge, prompt, response = self._calls.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(judge.evaluate(prompt, response))
            except BaseException as err:  # noqa: BLE001 - a judge failure is recorded, never raised
                future.set_exception(err)

    @staticmethod
    def _today() -> str:
        return datetime.now(timezone.utc).strftime("%Y-%m-%d")

    def _allowed(self) -> Optional[str]:
        """None when a call may go out now, else the skip reason."""
        day = self._today()
        if day != self._day:
            self._day, self.tokens_today = day, 0
        if self.limits.tokens_per_day is not None and self.tokens_today >= self.limits.tokens_per_day:
            return "cost_cap"
        if self._bucket is not None and not self._bucket.take():
            return "rate_limit"
        return None

    def _start(self, job: _Job) -> None:
        for name in job.names:
            judge = self.judges.get(name)
            reason = self._allowed() if judge is not None else None
            if judge is None:
                job.results[name] = JudgeResult(name, None, None, None, error="judge not available")
            elif reason:
                self.skipped[reason] += 1
                job.results[name] = JudgeResult(name, None, None, None, skipped=reason)
            else:
                future: Future = Future()
                self._calls.put((future, judge, job.prompt, job.response))
                job.calls[name] = (future, time.monotonic() + float(getattr(judge, "timeout", 30.0)))

    def _collect(self, job: _Job, now: float, give_up: bool = False) -> bool:
        """Move answered (or overdue) calls into results; True when the job is complete."""
        for name, (future, deadline) in list(job.calls.items()):
            if future.done():
                del job.calls[name]
                try:
                    result = future.result()
                    if not isinstance(result, JudgeResult):
                        raise TypeError(f"judge returned {type(result).__name__}, not a JudgeResult")
                except BaseException as err:  # noqa: BLE001
                    self.failed += 1
                    result = JudgeResult(name, None, None, None, error=f"{type(err).__name__}: {err}"[:500])
                else:
                    self.judged += 1
                    with self._lock:
                        self.tokens_today += int(result.tokens or 0)
                job.results[name] = result
            elif give_up or now >= deadline:
                del job.calls[name]
                future.cancel()
                self.failed += 1
                self.skipped["timeout"] += 1
                job.results[name] = JudgeResult(name, None, None, None, skipped="timeout",
                                                error="timeout: no answer within the judge's timeout")
        return not job.calls

    def _finish(self, job: _Job) -> None:
        try:
            reasons = []
            for name in job.names:
                result = job.results.get(name)
                if result is not None:
                    record(job.end.span, result, job.end.end_time, self.capture_content, self.finalize)
                    reason = review_reason(result, *job.limits.get(name, (None, None)))
                    if reason:
                        reasons.append(reason)
            flag_for_review(job.end.span, reasons, self.review_lock)
        except Exception:  # noqa: BLE001 - recording costs the results, never the span
            logger.debug("agenttrace: recording judge results failed", exc_info=True)
        finally:
            job.end.done()
            with self._lock:
                self._pending -= 1

    def _dispatch(self) -> None:
        waiting: list[_Job] = []
        while True:
            give_up = self._give_up.is_set()
            try:
                job = self._jobs.get(timeout=0.005 if waiting or give_up else 0.2)
                if give_up:
                    job.calls = {n: (Future(), 0.0) for n in job.names}  # never started: timed out at shutdown
                else:
                    self._start(job)
                waiting.append(job)
            except queue.Empty:
                pass
            except Exception:  # noqa: BLE001
                logger.debug("agenttrace: judge dispatch failed", exc_info=True)
            now = time.monotonic()
            still = []
            for job in waiting:
                (self._finish if self._collect(job, now, give_up) else still.append)(job)
            waiting = still

    # ------------------------------------------------------------------ lifecycle

    @property
    def pending(self) -> int:
        return self._pending

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted step is judged (or its calls timed out) and its span ended."""
        deadline = time.monotonic() + timeout
        while self._pending:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def shutdown(self, timeout: float = 30.0) -> None:
        """Judge what is queued within ``timeout``; steps still waiting then are ended with their
        judges recorded as ``timeout`` (their spans are exported, not lost)."""
        reserve = min(0.5, max(0.0, timeout) / 4)
        if self.flush(max(0.0, timeout - reserve)):
            return
        self._give_up.set()
        if not self.flush(reserve):
            logger.warning("agenttrace: %d judged step(s) not ended at shutdown", self._pending)
