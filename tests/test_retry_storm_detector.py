"""The storm / herd decisions on generated timelines: storm, herd, healthy, low traffic, recovery."""

from __future__ import annotations

import random

import pytest

from agenttrace.retry_detect import HERD, STORM, Attempt, Exhausted, StormDetector, Thresholds

S = 1_000_000_000  # ns
MS = 1_000_000


def calls(timeline, start_s, seconds, per_second, attempts=1, wait_ms=0.0, jitter_ms=0.0, status=429,
          provider="openai", model="gpt-4o-mini", rng=None, spread_ms=1000.0):
    """Logical calls spread over ``seconds``; each fails ``attempts - 1`` times and retries after
    ``wait_ms`` (+ up to ``jitter_ms`` random). ``spread_ms`` 0: every call of a second starts at once."""
    rng = rng or random.Random(7)
    run = 0
    for second in range(seconds):
        for i in range(per_second):
            run += 1
            t = int((start_s + second) * S + (rng.random() * spread_ms) * MS)
            for n in range(1, attempts + 1):
                failed = n < attempts
                timeline.append(Attempt(provider, model, t, n, (start_s, run), status if failed else None,
                                     "openai.RateLimitError" if failed else None,
                                     None if n == 1 else wait))
                wait = wait_ms + rng.random() * jitter_ms
                t += int((20 + wait) * MS)  # the attempt takes 20 ms, then the wait


def evaluate_each_second(detector, timeline, until_s, start_s=0):
    """Replay the timeline: each record reaches the detector once its time has come (as finished
    spans do), and the detector decides every second."""
    pending = sorted(timeline, key=lambda r: r.start_ns)
    changes, i = [], 0
    for second in range(start_s, until_s + 1):
        while i < len(pending) and pending[i].start_ns <= second * S:
            detector.add(pending[i])
            i += 1
        changes += [(second, change, episode) for change, episode in detector.evaluate(second * S)]
    return changes


def test_healthy_traffic_raises_nothing():
    detector, timeline = StormDetector(), []
    calls(timeline, 0, 120, 20)  # no failures
    calls(timeline, 0, 120, 2, attempts=2, wait_ms=1000, jitter_ms=1000)  # a few jittered retries
    assert evaluate_each_second(detector, timeline, 120) == []
    stats = detector.stats("openai", "gpt-4o-mini")
    assert stats["calls"] > 0 and stats["amplification"] < 1.5


def test_a_retry_storm_is_detected_and_recovers():
    detector, timeline = StormDetector(), []
    calls(timeline, 0, 60, 10)  # a healthy minute
    calls(timeline, 60, 60, 10, attempts=3, wait_ms=1000, jitter_ms=1000)  # every call retried twice, jittered
    calls(timeline, 120, 90, 10)  # healthy again
    changes = evaluate_each_second(detector, timeline, 210)
    onsets = [(s, e) for s, c, e in changes if c == "onset"]
    assert [e.kind for _, e in onsets] == [STORM]  # jittered: a storm, not a herd
    second, storm = onsets[0]
    assert 60 < second <= 60 + 20  # amplification over 1.5 once a quarter of the window has retried twice
    assert storm.amplification > 1.5 and storm.provider == "openai" and storm.model == "gpt-4o-mini"
    assert storm.jitter_missing is False
    assert 60 * S <= storm.first_retry_ns < second * S
    recoveries = [(s, e) for s, c, e in changes if c == "recovery"]
    assert recoveries == [(recoveries[0][0], storm)] and 120 < recoveries[0][0] <= 180
    assert storm.recovered_ns == recoveries[0][0] * S and not detector.active


def test_flat_retries_bunching_across_runs_are_a_thundering_herd():
    detector, timeline = StormDetector(), []
    calls(timeline, 0, 30, 10)
    # 50 concurrent runs hit the limit together and retry at a flat 2 s: their retries start together
    calls(timeline, 30, 10, 50, attempts=3, wait_ms=2000, spread_ms=20)
    changes = evaluate_each_second(detector, timeline, 45)
    kinds = {e.kind: (s, e) for s, c, e in changes if c == "onset"}
    assert set(kinds) == {STORM, HERD}
    second, herd = kinds[HERD]
    assert second <= 33  # the first bunch of retries
    assert herd.jitter_missing is True and herd.bunched_retries >= 10


def test_jittered_retries_of_as_many_runs_are_no_herd():
    detector, timeline = StormDetector(), []
    calls(timeline, 30, 10, 50, attempts=3, wait_ms=1000, jitter_ms=1000, spread_ms=20)
    changes = evaluate_each_second(detector, timeline, 45, start_s=30)
    assert {e.kind for _, c, e in changes if c == "onset"} == {STORM}


def test_low_traffic_is_no_storm_and_no_herd():
    detector, timeline = StormDetector(), []
    calls(timeline, 0, 1, 5, attempts=3, wait_ms=2000, spread_ms=10)  # 5 calls, amplification 3, flat waits
    assert evaluate_each_second(detector, timeline, 30) == []
    assert detector.stats("openai", "gpt-4o-mini")["amplification"] == 3.0


def test_each_provider_and_model_has_its_own_window():
    detector, timeline = StormDetector(Thresholds(min_calls=5)), []
    calls(timeline, 0, 10, 5, attempts=2, wait_ms=500, jitter_ms=500, provider="anthropic", model="claude-sonnet-4")
    calls(timeline, 0, 10, 5, provider="openai", model="gpt-4o-mini")
    onsets = [e for _, c, e in evaluate_each_second(detector, timeline, 10) if c == "onset"]
    assert [(e.provider, e.model, e.kind) for e in onsets] == [("anthropic", "claude-sonnet-4", STORM)]


def test_counts_by_failure_and_exhausted():
    detector = StormDetector()
    detector.add(Attempt("openai", "m", 1 * S, 1, "r1", 429, "openai.RateLimitError"))
    detector.add(Attempt("openai", "m", 2 * S, 2, "r1", 503, "httpx.HTTPStatusError", 1000.0))
    detector.add(Attempt("openai", "m", 3 * S, 3, "r1", None, "openai.APITimeoutError", 1000.0))
    detector.add(Exhausted("openai", "m", 4 * S))
    detector.evaluate(5 * S)
    stats = detector.stats("openai", "m")
    assert (stats["calls"], stats["attempts"], stats["rate_limited"], stats["server_errors"], stats["timeouts"],
            stats["exhausted"], stats["retries"]) == (1, 3, 1, 1, 1, 1, 2)
    detector.evaluate(70 * S)  # slid out of the window; the totals remain
    assert detector.stats("openai", "m")["attempts"] == 0 and detector.totals["attempts"] == 3


@pytest.mark.parametrize("bad", [{"amplification": 0}, {"min_calls": -1}, {"window_s": "60"}, {"herd": 3}])
def test_bad_thresholds_are_a_clear_error(bad):
    with pytest.raises(ValueError, match="retry_monitor"):
        StormDetector(bad)
