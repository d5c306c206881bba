"""Hot-path cost of the Phoenix annotation writer: the same agent with it off vs on, side by side.

    python benchmarks/annotation_hot_path.py [--runs 300] [--phoenix URL]

The tests' LangGraph support agent (3 chat calls, 2 tool calls per run) is traced by two
``agenttrace.configure()`` pipelines exporting to the same real Phoenix, with the same metric
profile: light metrics on every chat step, ``response_length`` with a threshold, so every chat
span gets an evaluation event and a label. The profile is light on purpose: light metrics are
computed on the agent's thread, so the annotation processor's ``on_end`` (reading the scores,
queuing the rows) runs there too — the worst case for the agent (heavy metrics end their spans on
the metric worker). One pipeline has ``annotate_scores=False``, the other the default (on for
Phoenix). Runs alternate between them in one process; prints the median wall time per run of
each, the difference per run, the time the annotation processor itself spent on the agent's thread
per span (``on_start`` + ``on_end``, timed around the calls), and what the writer delivered.

Without ``--phoenix`` a Phoenix is started from the repo's server venv (``.agenttrace/phoenix``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import ask, build_agent  # noqa: E402

PROFILES = {"profiles": {"copy": {"metrics": ["response_length", "latency_ms"], "thresholds": {"response_length": 30}}},
            "rules": [{"match": {"operation": "chat"}, "profile": "copy"}]}


def pipeline(url: str, annotate: bool):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    import agenttrace
    from agenttrace import semconv as sc

    project = f"bench-annotations-{'on' if annotate else 'off'}-{uuid.uuid4().hex[:6]}"
    provider = TracerProvider(resource=Resource.create({sc.OI_PROJECT_NAME: project}))
    return agenttrace.configure(project=project, tracer_provider=provider, endpoint=f"{url}/v1/traces", profiles=PROFILES,
                                annotate_scores=None if annotate else False, max_queue_size=100_000,
                                handle_sigterm=False)


def timed(sink) -> list:
    """Time ``sink.on_start`` + ``sink.on_end`` of each span ended on the main (agent's) thread."""
    import threading

    spent: list = []
    started: dict = {}
    start, end = sink.on_start, sink.on_end

    def on_start(span, parent_context=None):
        t0 = time.perf_counter()
        start(span, parent_context)
        started[span.context.span_id] = time.perf_counter() - t0

    def on_end(span):
        t0 = time.perf_counter()
        end(span)
        took = time.perf_counter() - t0 + started.pop(span.context.span_id, 0.0)
        if threading.current_thread() is threading.main_thread():
            spent.append(took)

    sink.on_start, sink.on_end = on_start, on_end
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--phoenix", help="base URL of a running Phoenix (default: start one)")
    parser.add_argument("--pause", type=float, default=0.25, help="seconds between iterations (default 0.25)")
    args = parser.parse_args()

    server = None
    url = args.phoenix
    if url is None:
        from agenttrace_phoenix import DEFAULT_VERSION, LocalPhoenix
        from phoenix_fixtures import free_port

        venv = Path(__file__).resolve().parents[1] / ".agenttrace" / "phoenix" / f"venv-{DEFAULT_VERSION}"
        server = LocalPhoenix(tempfile.mkdtemp(prefix="bench-phoenix-"), venv_dir=venv)
        url = server.start(port=free_port(), grpc_port=free_port()).url
    try:
        off, on = pipeline(url, False), pipeline(url, True)
        assert not off.score_sinks and on.score_sinks
        spent = timed(on.score_sinks[0])
        graph = build_agent()
        times = {"writer off": [], "writer on": []}
        for _ in range(20):
            for t in (off, on):
                graph.invoke(ask(), config={"callbacks": [t.callback_handler]})
        spent.clear()
        for i in range(args.runs):
            order = [("writer off", off), ("writer on", on)] if i % 2 == 0 else [("writer on", on), ("writer off", off)]
            for name, t in order:
                t0 = time.perf_counter()
                graph.invoke(ask(f"Where is my order A{i}?"), config={"callbacks": [t.callback_handler]})
                times[name].append(time.perf_counter() - t0)
            time.sleep(args.pause)  # both pipelines' spans within what Phoenix ingests (~300 spans/s on SQLite)
        t0 = time.perf_counter()
        flushed = on.flush(120)
        flush_s = time.perf_counter() - t0
        off.flush(120)
        base, with_writer = statistics.median(times["writer off"]), statistics.median(times["writer on"])
        print(f"{'mode':<12}{'median ms/run':>15}{'p90 ms/run':>12}")
        for name, values in times.items():
            print(f"{name:<12}{statistics.median(values) * 1e3:>15.3f}{statistics.quantiles(values, n=10)[-1] * 1e3:>12.3f}")
        print(f"added per run (median vs median): {(with_writer - base) * 1e3:+.3f} ms")
        agent = sorted(spent)
        print(f"annotation processor on the agent's thread, per span (on_start + on_end, {len(agent)} spans): "
              f"median {statistics.median(agent) * 1e6:.1f} µs, p99 {agent[int(len(agent) * 0.99)] * 1e6:.1f} µs, "
              f"per run {sum(agent) / args.runs * 1e6:.0f} µs")
        (sink,) = on.score_sinks
        w = sink.writer
        print(f"annotations delivered: {w.delivered} (state {w.state}), dropped: {w.drops.total}, retried for a span "
              f"not yet stored: {w.target_retries}; final flush {'ok' if flushed else flushed} in {flush_s:.2f} s")
        on.shutdown(10)
        off.shutdown(10)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
