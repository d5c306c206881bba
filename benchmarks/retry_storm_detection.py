"""How soon a retry storm / thundering herd is detected after it starts.

    python benchmarks/retry_storm_detection.py [--seed 3]

1. Generated timelines (simulated time, the detector evaluated every 0.25 s as the monitor's thread
   does): a healthy minute at R calls/s, then from t0 every call hits the rate limit and is retried
   twice (3 attempts), with flat 2 s waits or with exponential backoff + jitter (2^n s + 0–1 s).
   Prints the seconds from t0 to each detection, per traffic rate and policy.
2. A real concurrent run: N threads run a LangChain chat model ``.with_retry(...)`` (exponential
   backoff without jitter) that is rate limited, traced through ``configure()`` with the monitor's
   own background thread; prints the time from the first rate-limited attempt's end to each onset.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agenttrace.retry_detect import Attempt, StormDetector  # noqa: E402

S = 1_000_000_000


def timeline(rate: int, flat: bool, rng: random.Random, t0: float = 60.0, storm_s: float = 60.0) -> list:
    records, run = [], 0
    for second in range(int(t0 + storm_s)):
        for _ in range(rate):
            run += 1
            start = second + rng.random()
            failing = second >= t0
            attempts = 3 if failing else 1
            t = start
            for n in range(1, attempts + 1):
                wait = None
                if n > 1:
                    wait = 2.0 if flat else 2.0 ** (n - 1) + rng.random()
                    t += wait
                records.append(Attempt("openai", "gpt-4o-mini", int(t * S), n, run, 429 if n < attempts else None,
                                       "openai.RateLimitError" if n < attempts else None,
                                       None if wait is None else wait * 1000))
                t += 0.3  # the attempt's own duration
    return sorted(records, key=lambda r: r.start_ns)


def detect(records: list, t0: float, tick: float = 0.25) -> dict:
    detector, found, i, now = StormDetector(), {}, 0, 0.0
    end = records[-1].start_ns / S + 1
    while now < end:
        while i < len(records) and records[i].start_ns <= now * S:
            detector.add(records[i])
            i += 1
        for change, episode in detector.evaluate(int(now * S)):
            if change == "onset" and episode.kind not in found:
                found[episode.kind] = now - t0
        now += tick
    return found


def generated(seed: int) -> None:
    print("1. generated timelines: seconds from onset (t0) to detection; '-' = not detected")
    print(f"{'calls/s':>8} {'policy':<22} {'storm':>7} {'herd':>7}")
    for rate in (2, 5, 20, 100):
        for flat in (True, False):
            found = detect(timeline(rate, flat, random.Random(seed)), 60.0)
            fmt = lambda k: f"{found[k]:.2f}" if k in found else "-"  # noqa: E731
            print(f"{rate:>8} {'flat 2 s' if flat else 'exponential + jitter':<22} {fmt('storm'):>7} {fmt('herd'):>7}")


def real_run(runs: int) -> None:
    import httpx
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import agenttrace
    from agenttrace.testing import ScriptedChatModel

    class RateLimitError(Exception):
        def __init__(self):
            request = httpx.Request("POST", "https://api.example.test/v1/chat/completions")
            self.response, self.status_code = httpx.Response(429, request=request), 429
            super().__init__("rate limited")

    first_failure: list = []
    seen: dict = {}
    lock = threading.Lock()

    def reply(messages):
        text = messages[-1].content
        with lock:
            seen[text] = n = seen.get(text, 0) + 1
        if n <= 2:
            time.sleep(0.05)
            with lock:
                if not first_failure:
                    first_failure.append(time.time_ns())
            raise RateLimitError()
        return "ok"

    at = agenttrace.configure(span_exporter=InMemorySpanExporter(), set_global=False, handle_sigterm=False)
    runnable = ScriptedChatModel(replies=[reply], model="gpt-4o-mini").with_retry(
        stop_after_attempt=3, wait_exponential_jitter=True, exponential_jitter_params={"initial": 0.5, "jitter": 0.0})
    with ThreadPoolExecutor(max_workers=runs) as pool:
        list(pool.map(lambda i: runnable.invoke(f"brief {i}", config={"callbacks": [at.callback_handler]}), range(runs)))
    time.sleep(0.5)
    print(f"\n2. real concurrent run: {runs} threads, chat model .with_retry(3 attempts, exponential 0.5 s / 1 s, "
          f"no jitter), rate limited twice per run; monitor thread ticking every 0.25 s")
    for episode in at.retry_monitor.storms():
        print(f"   {episode.kind}: detected {(episode.detected_ns - first_failure[0]) / 1e9:.2f} s after the first "
              f"rate-limited attempt ended (amplification then {episode.amplification:.2f}, "
              f"jitter missing: {episode.jitter_missing})")
    at.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    generated(args.seed)
    real_run(args.runs)


if __name__ == "__main__":
    main()
