"""Completion rate of the overnight batch under flat retries vs backoff with jitter (run on demand, not a test).

    python benchmarks/overnight_completion.py                   # 10 batches of 60 briefs, the demo's tier
    python benchmarks/overnight_completion.py --trials 20 --rps 5 --burst 15

Runs ``run_overnight`` (the ``agenttrace demo --overnight`` scenario, spans to an in-memory
exporter) ``--trials`` times and prints, per retry policy, the completion rate over all briefs and
over the briefs the simulated safety system accepts (what retrying can change): mean, min, max.
Both policies run side by side, as in the demo, so both meet the same machine load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import warnings

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agenttrace_examples.marketing.overnight import TIER, run_overnight


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--briefs", type=int, default=60)
    parser.add_argument("--rps", type=float, default=TIER["requests_per_second"], help="the tier's requests/s (uncompressed)")
    parser.add_argument("--burst", type=int, default=TIER["burst"], help="the tier's burst and concurrency limit")
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    overall: dict[str, list[float]] = {}
    accepted: dict[str, list[float]] = {}
    seconds: list[float] = []
    for _ in range(args.trials):
        summary = run_overnight(args.briefs, span_exporter=InMemorySpanExporter(),
                                provider_options={"requests_per_second": args.rps, "burst": args.burst,
                                                  "max_concurrency": args.burst})
        for r in summary.results:
            overall.setdefault(r.policy, []).append(r.completion_rate)
            accepted.setdefault(r.policy, []).append(r.infrastructure_completion_rate)
            seconds.append(r.seconds)
    print(f"{args.trials} batches of {args.briefs} briefs, tier {args.rps:g} requests/s, burst {args.burst}, "
          f"{args.burst} concurrent; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    for policy in overall:
        o, a = overall[policy], accepted[policy]
        print(f"  {policy:<12} completed {100 * statistics.mean(o):5.1f}% of all briefs (min {100 * min(o):.0f}%, "
              f"max {100 * max(o):.0f}%); {100 * statistics.mean(a):5.1f}% of the accepted ones "
              f"(min {100 * min(a):.1f}%, max {100 * max(a):.1f}%)")
    print(f"  longest batch {max(seconds):.1f} s")


if __name__ == "__main__":
    main()
