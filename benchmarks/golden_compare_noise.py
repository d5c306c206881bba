"""How often ``agenttrace golden compare`` calls noise a regression, and how big a change it catches.

    python benchmarks/golden_compare_noise.py                     # 100 pairs of same-model runs, k=3
    python benchmarks/golden_compare_noise.py --pairs 40 --repeats 5 --examples 24

The runs are those of the tests (tests/golden_compare_runs.py): a real LangGraph e-mail agent over a
seeded ScriptedChatModel that hedges and softens urgency at a per-example base rate, scored by
simple evaluators. First ``--pairs`` comparisons of two runs of the same model (different seeds):
the share with any regression (a false alarm), per evaluator. Then, for each ``--shifts`` value
added to the hedging and softening rates of the candidate: the share of pairs in which
``judge.hedging`` is called regressed (the power), and the mean time of one comparison.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from golden_compare_runs import golden_run  # noqa: E402

from agenttrace_phoenix.golden.compare import compare  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--examples", type=int, default=10)
    ap.add_argument("--shifts", default="0.1,0.2,0.3,0.5")
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args()

    def pair(seed: int, shift: float):
        base = golden_run("base", seed=seed, repeats=args.repeats, examples=args.examples)
        cand = golden_run("cand", seed=100_000 + seed, repeats=args.repeats, examples=args.examples, shift=shift)
        started = time.perf_counter()
        result = compare(base, cand, alpha=args.alpha)
        return result, time.perf_counter() - started

    print(f"{args.examples} examples x k={args.repeats}, alpha {args.alpha:g}, {args.pairs} pairs per line")
    alarms, which, examples, seconds = 0, Counter(), 0, 0.0
    for seed in range(args.pairs):
        result, took = pair(seed, 0.0)
        seconds += took
        alarms += result.regressions > 0
        examples += len(result.regressed_examples)
        which.update(e.name for e in result.regressed_evaluators)
    print(f"same model: {alarms}/{args.pairs} comparisons with a regression ({alarms / args.pairs:.1%}); "
          f"regressed examples in all: {examples}; by evaluator: {dict(which) or 'none'}; "
          f"{seconds / args.pairs * 1000:.0f} ms per comparison")
    for shift in (float(s) for s in args.shifts.split(",")):
        caught = 0
        for seed in range(args.pairs):
            result, _ = pair(seed, shift)
            caught += result.evaluator("judge.hedging").verdict == "regressed"
        print(f"hedging and softening rates +{shift:g}: judge.hedging regressed in {caught}/{args.pairs} "
              f"({caught / args.pairs:.0%})")


if __name__ == "__main__":
    main()
