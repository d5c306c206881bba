"""The dead-letter queue's figures: entries lost to kill -9, concurrent replayers, hot-path cost.

    python benchmarks/dead_letter.py kill [--trials 20] [--store sqlite|postgresql]
    python benchmarks/dead_letter.py replay [--entries 200] [--store sqlite|postgresql]
    python benchmarks/dead_letter.py overhead [--runs 2000] [--rounds 5]

``kill``: each trial starts a writer process (a retry-wrapped runnable failing with 429 into
``configure(dead_letter=...)``; it prints ``ACK`` for an entry once ``dead_letter.flush()`` says it
is committed), SIGKILLs it 0.2-1.5 s after its first acknowledgement, then reads the store: an
acknowledged entry missing is *lost*; SQLite's ``PRAGMA integrity_check`` must say ok.
``replay``: N entries, two ``agenttrace dlq replay`` processes started together on the same store;
counts replays per entry from the replay target's side file (each must run exactly once).
``overhead``: per-run time of the same successful run (a ``with_retry`` runnable, the default
batch pipeline into a discarding exporter) with the dead-letter queue off and on, in interleaved
slices; prints the median of each and the difference in ms per run.
``--store postgresql`` starts a throwaway PostgreSQL cluster (tests/postgres_server.py).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))


def _stores(kind: str):
    """Yields a factory of fresh store URLs for ``kind``."""
    if kind == "postgresql":
        from postgres_server import PostgresServer

        server = PostgresServer().start()
        try:
            yield server.create_database
        finally:
            server.stop()
    else:
        tmp = tempfile.mkdtemp(prefix="agenttrace-dlq-bench-")
        counter = iter(range(10**9))
        yield lambda: f"{tmp}/dlq-{next(counter)}.sqlite"


def kill(args) -> None:
    from dead_letter_agents import kill_trial

    rng = random.Random(args.seed)
    total = {"acknowledged": 0, "stored": 0, "lost": 0}
    for new_store in _stores(args.store):
        for trial in range(args.trials):
            r = kill_trial(new_store(), rng)
            for k in total:
                total[k] += r[k]
            print(f"trial {trial + 1:2}: acknowledged {r['acknowledged']:4}  stored {r['stored']:4}  "
                  f"lost {r['lost']}  integrity {r['integrity'] or '-'}", flush=True)
    print(f"{args.store}: {args.trials} kill -9 trials, {total['acknowledged']} entries acknowledged, "
          f"{total['stored']} stored, {total['lost']} lost")


def replay(args) -> None:
    from test_dead_letter_replay import check_two_replayers

    for new_store in _stores(args.store):
        log = Path(tempfile.mkdtemp(prefix="agenttrace-dlq-replay-")) / "replays.log"
        started = time.monotonic()
        counts = check_two_replayers(new_store(), log, n=args.entries, delay=args.delay)
        runs = log.read_text().splitlines()
        briefs = [line.split(" ", 1)[1] for line in runs]
        doubles = len(briefs) - len(set(briefs))
        print(f"{args.store}: {args.entries} entries, 2 replayer processes: replays per process "
              f"{sorted(counts.values())}, {len(runs)} replays in all, {doubles} entries replayed twice, "
              f"{time.monotonic() - started:.1f} s")


def overhead(args) -> None:
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    import agenttrace
    from dead_letter_agents import provider

    class Discard(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    tmp = tempfile.mkdtemp(prefix="agenttrace-dlq-overhead-")
    modes = {
        "off": agenttrace.configure(project="b", span_exporter=Discard(), set_global=False, handle_sigterm=False),
        "on": agenttrace.configure(project="b", span_exporter=Discard(), set_global=False, handle_sigterm=False,
                                   dead_letter=f"{tmp}/dlq.sqlite"),
    }
    agent = provider(429, failures=0).with_retry(stop_after_attempt=3, wait_exponential_jitter=False,
                                                 retry_if_exception_type=(agenttrace.RetryableError,))
    times = {m: [] for m in modes}
    for name, at in modes.items():  # warm-up
        for _ in range(200):
            agent.invoke({"brief": "x"}, config={"callbacks": [at.callback_handler]})
    slice_ = 50
    for _ in range(args.rounds):
        for start in range(0, args.runs, slice_):
            for name, at in modes.items():
                cfg = {"callbacks": [at.callback_handler]}
                for _ in range(slice_):
                    t0 = time.perf_counter()
                    agent.invoke({"brief": "x"}, config=cfg)
                    times[name].append(time.perf_counter() - t0)
    med = {m: statistics.median(t) * 1000 for m, t in times.items()}
    print(f"{len(times['off'])} runs per mode (with_retry runnable, 2 spans per run, no failures)")
    print(f"median per run: dead letter off {med['off']:.4f} ms, on {med['on']:.4f} ms, "
          f"difference {med['on'] - med['off']:+.4f} ms")
    for at in modes.values():
        at.shutdown(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("kill")
    k.add_argument("--trials", type=int, default=20)
    k.add_argument("--seed", type=int, default=12)
    k.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    r = sub.add_parser("replay")
    r.add_argument("--entries", type=int, default=200)
    r.add_argument("--delay", type=float, default=0.02, help="seconds each replayed run takes (a model call)")
    r.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    o = sub.add_parser("overhead")
    o.add_argument("--runs", type=int, default=2000)
    o.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    {"kill": kill, "replay": replay, "overhead": overhead}[args.cmd](args)


if __name__ == "__main__":
    main()
