"""Clustering failures by cause at scale: N failed runs with realistic provider messages (a 429
rate limit with request ids and counts, a 400 content-policy refusal, a 503 overload), mined into
templates by drain3 and clustered; prints the time and the clusters found.

    python benchmarks/retry_clusters.py [--failures 20000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from agenttrace.trajectory import Trajectory  # noqa: E402
from agenttrace_whylogs.retry_clusters import cluster  # noqa: E402
from agenttrace_whylogs.retry_failures import Failure  # noqa: E402
from retry_traffic import CATEGORIES, TEMPLATES, content_policy, rate_limited  # noqa: E402


def overloaded(rng: random.Random) -> Exception:
    return Exception(f"Error code: 503 - The server is overloaded or not ready yet. (request_id: "
                     f"req_{rng.getrandbits(64):016x}) at 2026-06-30T02:{rng.randint(10, 59)}:{rng.randint(10, 59)}Z")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", type=int, default=20_000)
    n = parser.parse_args().failures
    rng = random.Random(0)
    failures, runs = [], []
    for i in range(n):
        template, category = rng.choice(list(TEMPLATES)), rng.choice(CATEGORIES)
        pick = rng.random()
        if pick < 0.2:
            template, category, error, status = "creative_brief", "swimwear", content_policy(rng), 400
        elif pick < 0.8:
            error, status = rate_limited(rng), 429
        else:
            error, status = overloaded(rng), 503
        segs = {"prompt_template": template, "client_category": category}
        t = 1_782_777_600 + 7200 + rng.random() * 1200
        failures.append(Failure(f"{i:032x}", f"{i:016x}", t, type(error).__name__, str(error), status, "openai",
                                "gpt-4o", segs, 2, True))
        runs.append(Trajectory(f"{i:032x}", f"{i:016x}", t, segs, {}))
    start = time.perf_counter()
    clusters = cluster(failures, runs)
    took = time.perf_counter() - start
    print(f"{n} failures clustered in {took:.2f} s ({n / took:,.0f} failures/s), {len(clusters)} clusters:")
    for c in clusters:
        print(f"  {c.kind:<15} {c.failures:>6} status {c.status}  {c.template[:70]}")


if __name__ == "__main__":
    main()
