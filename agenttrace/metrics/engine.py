"""The metric engine: light metrics inline, heavy metrics on a background worker.

On the agent's thread (``on_step_end``) the engine only picks the step's profile, computes the
light metrics (string lengths, flags — microseconds), decides sampling, and enqueues
``(span, end time, prompt, response)`` for the worker. The worker batches texts across spans,
scores them, writes ``agenttrace.metric.<name>`` attributes and ``gen_ai.evaluation.result``
events, raises review flags past thresholds, and then ends the span with its *true* end time.
The queue is bounded: when it is full the heavy metrics of that step are skipped (never block the
agent), the span says so (``agenttrace.metric.skipped``), and the skip is counted and logged once.

Judges (``judge:<name>`` metrics) are a separate sample (``judge_sample_rate``, its own decision per
trace) handed to the :class:`~agenttrace.metrics.judge_worker.JudgeWorker`; a span that both parts
work on is ended by whichever finishes last (:class:`~agenttrace.metrics.judge_worker.SpanEnd`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple, Optional, Protocol, Sequence

from .. import semconv as sc
from .judge_worker import JudgeWorker, SpanEnd
from .judges import JUDGE_PREFIX, build_judges
from .light import light_metrics
from .profiles import LIGHT_METRICS, REFUSAL_SOURCES, Profile, ProfileSet
from .sampling import StratifiedSampler

logger = logging.getLogger("agenttrace")

EVALUATION_EVENT = sc.EVALUATION_EVENT


class Scorer(Protocol):
    """Heavy metrics: ``score`` gets a batch of (prompt, response) pairs and the metric names wanted.
    A scorer may also have ``default_thresholds`` (metric → calibrated flag threshold), used for
    metrics a profile computes without a threshold of its own."""

    metrics: Sequence[str]

    def score(self, pairs: Sequence[tuple[str, str]], metrics: Sequence[str]) -> list[dict[str, Optional[float]]]: ...


@dataclass
class _Job:
    span: Any
    end_time: int
    profile: Profile
    prompt: str
    response: str
    end: Optional[SpanEnd] = None

    def finish(self) -> None:
        if self.end is not None:
            self.end.done()
        else:
            self.span.end(end_time=self.end_time)


class _Verdict(NamedTuple):
    explanation: str  # "refusal_similarity 0.718 > threshold 0.4", "relevance 0.120 < floor 0.3", ...
    reason: Optional[str]  # the review reason when flagged ("relevance 0.120 < 0.3"), else None


def _verdict(name: str, value: float, threshold: Optional[float], floor: Optional[float]) -> _Verdict:
    """A score against its profile's threshold (flagged above) and floor (flagged below)."""
    if threshold is not None and value > threshold:
        return _Verdict(f"{name} {value:.3f} > threshold {threshold:g}", f"{name} {value:.3f} > {threshold:g}")
    if floor is not None and value < floor:
        return _Verdict(f"{name} {value:.3f} < floor {floor:g}", f"{name} {value:.3f} < {floor:g}")
    within = [f"≤ threshold {threshold:g}" if threshold is not None else "", f"≥ floor {floor:g}" if floor is not None else ""]
    return _Verdict(f"{name} {value:.3f} " + " and ".join(w for w in within if w), None)


def _flag(span, profile: Profile, scores: Mapping[str, Optional[float]], window_counts: Counter, end_time: int,
          default_thresholds: Mapping[str, float] = {}) -> None:
    """Record the scores on the span; label each against the profile's threshold (else the scorer's
    calibrated default for it, e.g. the refusal detector's) or floor, and raise the review flag."""
    reasons = []
    for name, value in scores.items():
        if value is None:
            continue
        span.set_attribute(f"{sc.METRIC_PREFIX}{name}", float(value))
        event = {sc.EVALUATION_NAME: name, sc.EVALUATION_SCORE_VALUE: float(value)}
        threshold, floor = profile.thresholds.get(name, default_thresholds.get(name)), profile.floors.get(name)
        if threshold is not None or floor is not None:
            verdict = _verdict(name, float(value), threshold, floor)
            event[sc.EVALUATION_SCORE_LABEL] = "flagged" if verdict.reason else "pass"
            event[sc.EVALUATION_EXPLANATION] = verdict.explanation
            if verdict.reason and not (name in REFUSAL_SOURCES.values() and name != profile.refusal_metric):
                reasons.append(verdict.reason)  # the other refusal score is labelled, but does not raise the flag
        if name not in LIGHT_METRICS or threshold is not None or floor is not None:
            span.add_event(EVALUATION_EVENT, event, timestamp=end_time)
    if reasons:
        before = (getattr(span, "attributes", None) or {}).get(sc.REVIEW_REASON)  # a judge's, written first
        span.set_attribute(sc.REVIEW_REQUIRED, True)
        span.set_attribute(sc.REVIEW_REASON, "; ".join([before, *reasons] if before else reasons))
        window = (end_time // 3_600_000_000_000) * 3600  # hour window, epoch seconds
        for r in reasons:
            window_counts[(window, r.split(" ", 1)[0])] += 1


class MetricsEngine:
    def __init__(self, profiles: ProfileSet, scorer: Optional[Scorer] = None, *, queue_size: int = 10_000,
                 batch_size: int = 256, max_wait: float = 0.02, judges: Optional[Mapping[str, Any]] = None,
                 judge_threads: int = 4, capture_content: bool = False):
        self.profiles = profiles
        self.scorer = scorer
        #: thresholds the scorer ships for its own metrics (a profile's thresholds take precedence)
        self.default_thresholds: Mapping[str, float] = dict(getattr(scorer, "default_thresholds", None) or {})
        self.sampler = StratifiedSampler()
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.skipped = 0
        self.unscored = 0  # steps still queued when shutdown's deadline passed: ended without heavy scores
        self.scored = 0
        self.failed = 0
        self.flags: Counter = Counter()  # (hour window start, metric) → flagged steps
        self._flags_lock = threading.Lock()
        self._queue: "queue.Queue[_Job]" = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        #: judges of the ``judge:<name>`` metrics, run by their own worker (None: no profile uses a judge)
        self.judge_worker: Optional[JudgeWorker] = None
        if profiles.judged:
            used = {n for p in profiles.profiles.values() for n in p.judges}
            if judges is None:
                judges = build_judges({n: s for n, s in profiles.judges.items() if n in used})
            self.judge_worker = JudgeWorker(judges, profiles.judge_limits, threads=judge_threads,
                                            queue_size=queue_size, capture_content=capture_content)
            self.judge_worker.review_lock = self._flags_lock  # LangKit's and the judges' flags on one span
        self._judge_profiles: dict[str, Profile] = {}
        missing = profiles.heavy_metrics - set(scorer.metrics if scorer else ())
        if missing:
            raise RuntimeError(
                f"agenttrace: metric(s) {', '.join(sorted(missing))} need a scorer: pip install torch==2.13.0 "
                "&& pip install -e integrations/langkit (agenttrace-langkit), or remove them from the profiles")

    # ---------------------------------------------------------------- agent thread

    def on_step_end(self, span, step: Mapping[str, Any], prompt: str, response: str, duration_s: float,
                    end_time: Optional[int] = None) -> bool:
        """Returns True when the engine took over ending ``span`` (at ``end_time``, ns; default now)."""
        profile = self.profiles.select(step)
        if profile is None:
            return False
        end_time = end_time if end_time is not None else time.time_ns()
        light = light_metrics(response, step.get("attributes") or {}, duration_s)
        with self._flags_lock:
            _flag(span, profile, light, self.flags, end_time)
        heavy = profile.heavy if self.scorer is not None else ()
        # a step that answered with tool calls only has no text for a judge to read
        judges = profile.judges if self.judge_worker is not None and response.strip() else ()
        if not heavy and not judges:
            return False
        trace_id = span.get_span_context().trace_id
        if heavy:
            heavy_on = self.sampler.sampled(profile, trace_id, step)
            span.set_attribute(sc.METRIC_SAMPLED, heavy_on)
            heavy = heavy if heavy_on else ()
        if judges and not self.sampler.sampled(self._judge_profile(profile), trace_id, step):
            judges = ()
        if not heavy and not judges:
            return False
        end = SpanEnd(span, end_time, 2) if heavy and judges else None
        if judges:
            if end is None:
                end = SpanEnd(span, end_time, 1)
            limits = {n: (profile.thresholds.get(JUDGE_PREFIX + n), profile.floors.get(JUDGE_PREFIX + n)) for n in judges}
            if not self.judge_worker.submit(end, judges, prompt, response, limits):
                end.done()
        if not heavy:
            return True
        self._ensure_worker()
        try:
            self._queue.put_nowait(_Job(span, end_time, profile, prompt, response, end))
            return True
        except queue.Full:
            self.skipped += 1
            span.set_attribute(sc.METRIC_SKIPPED, True)
            if self.skipped == 1:
                logger.warning("agenttrace: metric queue full, heavy metrics skipped for a step (the agent is not "
                               "slowed; further skips are counted in MetricsEngine.skipped)")
            if end is not None and judges:
                end.done()  # the judges end the span
                return True
            return False

    def _judge_profile(self, profile: Profile) -> Profile:
        jp = self._judge_profiles.get(profile.name)
        if jp is None:
            jp = self._judge_profiles[profile.name] = profile.judge_profile()
        return jp

    def use_content_policy(self, policy: Any) -> None:
        """The handler's :class:`~agenttrace.content.ContentPolicy`: judge explanations quote the
        judged text, so they are recorded only with content capture, and every string the judges
        write passes the policy's redaction hook and length cap."""
        if self.judge_worker is not None:
            self.judge_worker.capture_content = bool(policy.capture)
            self.judge_worker.finalize = policy.finalize

    # ---------------------------------------------------------------- worker

    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._flags_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="agenttrace-metrics", daemon=True)
                    self._thread.start()

    def _take_batch(self) -> list[_Job]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=max(0.0, remaining)) if remaining > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            batch = self._take_batch()
            if batch:
                self._process(batch)

    def _process(self, batch: list[_Job]) -> None:
        wanted = sorted({m for job in batch for m in job.profile.heavy})
        try:
            results = self.scorer.score([(j.prompt, j.response) for j in batch], wanted)
        except Exception:  # noqa: BLE001 - a scorer failure costs the scores, never the spans
            self.failed += len(batch)
            logger.warning("agenttrace: metric scoring failed for a batch of %d", len(batch), exc_info=self.failed == len(batch))
            results = [{} for _ in batch]
        for job, scores in zip(batch, results):
            try:
                chosen = {m: scores.get(m) for m in job.profile.heavy}
                with self._flags_lock:
                    _flag(job.span, job.profile, chosen, self.flags, job.end_time, self.default_thresholds)
                self.scored += 1
            except Exception:  # noqa: BLE001
                self.failed += 1
            finally:
                job.finish()
                self._queue.task_done()

    # ---------------------------------------------------------------- lifecycle

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every enqueued step is scored and its span ended."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        if self.judge_worker is not None:
            return self.judge_worker.flush(max(0.0, deadline - time.monotonic()))
        return True

    def shutdown(self, timeout: float = 30.0) -> None:
        """Score what is queued within ``timeout``. Steps still waiting when the time is nearly up
        are ended without their heavy scores (``agenttrace.metric.skipped``, counted in
        :attr:`unscored`), so their spans are exported, not lost; the rest of the time (up to
        1 s) lets the batch being scored finish: a process that exits while the encoder runs on
        this thread can be aborted by the native runtime."""
        reserve = min(1.0, max(0.0, timeout) / 4)
        drained = self.flush(max(0.0, timeout - reserve))
        if self.judge_worker is not None and not drained:
            self.judge_worker.shutdown(reserve / 2)  # judged steps still waiting: ended, their judges "timeout"
            reserve /= 2
        self._stop.set()
        if not drained:
            self._end_unscored()
        if self._thread is not None:
            self._thread.join(timeout=reserve if not drained else 1.0)

    def _end_unscored(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            try:
                job.span.set_attribute(sc.METRIC_SKIPPED, True)
                self.unscored += 1
            finally:
                job.finish()
                self._queue.task_done()
        if self.unscored:
            logger.warning("agenttrace: shut down before %d step(s) were scored: their spans are exported "
                           "without heavy metrics (agenttrace.metric.skipped)", self.unscored)
