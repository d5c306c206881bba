"""Hot-path cost of LLM judges: the same agent with no judges vs a 15% judge sample, side by side.

    python benchmarks/judge_overhead.py [--runs 300] [--latency 0.2] [--rate 0.15]

The tests' LangGraph support agent (3 chat calls, 2 tool calls per run) is traced with agenttrace
into memory with one metric profile on its chat steps: ``response_length`` only ("no judges"), or
``response_length`` + ``judge:hedging`` at ``judge_sample_rate = 0.15`` ("15% judged"). The judge is
the built-in hedging judge through phoenix-evals' classification path over a
``RuleJudgeModel`` that sleeps ``--latency`` seconds per call (a provider's round trip). Modes are
interleaved run by run in one process. Prints:

- the median wall time per run of each mode and the difference per LLM call;
- the agent's-thread part timed directly: ``MetricsEngine.on_step_end`` per chat step (the
  sampling decision and the hand-over to the judge worker), median and 90th percentile, per mode.

The judges answer on the worker's threads; the script waits for them at the end and prints how
many steps were judged.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import ask, build_agent  # noqa: E402


class Timed:
    """Wraps a MetricsEngine: times ``on_step_end`` of chat steps (the agent's-thread part)."""

    def __init__(self, engine):
        self.engine, self.times = engine, []

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def on_step_end(self, span, step, *args, **kw):
        t0 = time.perf_counter_ns()
        owned = self.engine.on_step_end(span, step, *args, **kw)
        if step.get("operation") == "chat":
            self.times.append(time.perf_counter_ns() - t0)
        return owned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per judge call")
    parser.add_argument("--rate", type=float, default=0.15, help="judge_sample_rate")
    args = parser.parse_args()

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agenttrace import CallbackHandler
    from agenttrace.metrics import MetricsEngine, load
    from agenttrace.metrics.judges import JudgeSpec
    from agenttrace.testing import RuleJudgeModel
    from agenttrace_phoenix.judges import PhoenixJudge

    judge_spec = {"hedging": {"builtin": "hedging", "model": "judge_models:hedging_judge"}}
    rule = [{"match": {"operation": "chat"}, "profile": "p"}]
    plain = load({"profiles": {"p": {"metrics": ["response_length"]}}, "rules": rule})
    judged = load({"judges": judge_spec, "rules": rule,
                   "profiles": {"p": {"metrics": ["response_length", "judge:hedging"], "judge_sample_rate": args.rate,
                                      "min_per_stratum": 0}}})
    model = RuleJudgeModel(latency=args.latency, rules=[(r"\b(might|maybe)\b", "hedged", "hedges")],
                           default=("confident", "plain"))
    judge = PhoenixJudge(JudgeSpec("hedging", "hedging", None, None, None, "rule", 30.0), model)

    def handler(engine):
        tp = TracerProvider()
        tp.add_span_processor(BatchSpanProcessor(InMemorySpanExporter(), max_queue_size=1_000_000))
        timed = Timed(engine)
        return CallbackHandler(tp, metrics=timed), timed

    modes = {"no judges": handler(MetricsEngine(plain, queue_size=100_000)),
             f"{args.rate:.0%} judged": handler(MetricsEngine(judged, queue_size=100_000, judges={"hedging": judge}))}
    graph = build_agent()
    for _ in range(20):  # warm-up
        for h, _ in modes.values():
            graph.invoke(ask(), config={"callbacks": [h]})
    for _, timed in modes.values():
        timed.times.clear()
    walls: dict = {name: [] for name in modes}
    names = list(modes)
    for i in range(args.runs):
        for name in (names if i % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            graph.invoke(ask(f"Where is my order A{i}?"), config={"callbacks": [modes[name][0]]})
            walls[name].append(time.perf_counter() - t0)
    worker = modes[names[1]][1].engine
    t0 = time.perf_counter()
    worker.flush(600)
    waited = time.perf_counter() - t0

    print(f"{args.runs} runs per mode (3 chat calls each), judge latency {args.latency * 1e3:.0f} ms, "
          f"judge_sample_rate {args.rate}")
    print(f"{'mode':<14}{'median ms/run':>15}{'on_step_end median µs':>24}{'p90 µs':>9}")
    for name in names:
        t = sorted(modes[name][1].times)
        print(f"{name:<14}{statistics.median(walls[name]) * 1e3:>15.3f}{statistics.median(t) / 1e3:>24.2f}"
              f"{t[int(len(t) * 0.9)] / 1e3:>9.2f}")
    base, on = (statistics.median(walls[n]) for n in names)
    hot = (statistics.median(modes[names[1]][1].times) - statistics.median(modes[names[0]][1].times)) / 1e6
    print(f"added per LLM call, wall (median run difference / 3): {(on - base) * 1e3 / 3:+.3f} ms")
    print(f"added per LLM call, agent's thread (on_step_end median difference): {hot:+.4f} ms (target <= 0.05 ms)")
    w = worker.judge_worker
    print(f"judged calls: {w.judged} of {len(modes[names[1]][1].times)} chat steps "
          f"({w.judged / max(1, len(modes[names[1]][1].times)):.1%}); failed {w.failed}; skipped {dict(w.skipped)}; "
          f"waited {waited:.1f} s after the last run for the judges")


if __name__ == "__main__":
    main()
