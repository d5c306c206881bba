"""One agent process of benchmarks/sustained_load.py.

A real LangGraph ``create_react_agent`` (tests/agent_shapes.react_agent: a scripted chat model that
calls a tool, then answers) instrumented with ``agenttrace.configure()``, exporting over OTLP gRPC
through the batch processor. The process waits for commands ``(rate, seconds, sample_rate, project)``: it
reconfigures (``OTEL_TRACES_SAMPLER=parentbased_traceidratio`` at ``sample_rate``), runs the agent
at ``rate`` runs/s for ``seconds`` — every instrumented run followed by the same run uninstrumented,
timed both, so the added latency is measured in the same process under the same load — flushes,
and answers with its counts.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


class CountingSink:
    """A trajectory sink (write/flush/close) that counts the rows: one per run the profiler saw."""

    def __init__(self) -> None:
        self.rows = 0

    def write(self, trajectories) -> None:
        self.rows += len(trajectories)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def serve(commands, results, endpoint: str) -> None:
    """The process body: ``commands`` / ``results`` are multiprocessing queues; None stops it."""
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)  # refusals are counted, not logged per batch
    from opentelemetry.sdk.trace import SpanProcessor

    import agenttrace
    from agent_shapes import react_agent

    class Created(SpanProcessor):
        def __init__(self) -> None:
            self.recorded = self.exported = 0

        def on_end(self, span) -> None:
            self.recorded += 1
            self.exported += span.context.trace_flags.sampled

    agent, question = react_agent()
    agent.invoke(question)  # warm up
    while True:
        command = commands.get()
        if command is None:
            return
        rate, seconds, sample_rate, project = command
        os.environ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
        os.environ["OTEL_TRACES_SAMPLER_ARG"] = str(sample_rate)
        sink, created = CountingSink(), Created()
        at = agenttrace.configure(project=project, endpoint=endpoint, protocol="grpc", set_global=False,
                                  profile_store=sink, handle_sigterm=False)
        at.tracer_provider.add_span_processor(created)
        config = {"callbacks": [at.callback_handler]}
        pause = 1.0 / rate if rate > 0 else 0.0
        instrumented, plain = [], []
        began = time.monotonic()
        due = began
        while time.monotonic() - began < seconds:
            t0 = time.perf_counter()
            agent.invoke(question, config=config)
            t1 = time.perf_counter()
            agent.invoke(question)
            t2 = time.perf_counter()
            instrumented.append(t1 - t0)
            plain.append(t2 - t1)
            due += pause
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                due = time.monotonic()  # behind: run flat out, do not build a backlog of runs
        elapsed = time.monotonic() - began
        flushed = bool(at.flush(timeout=15))
        at.retry_monitor.force_flush()
        calls = at.retry_monitor.snapshot()["totals"].get("calls", 0)
        at.shutdown(timeout=5)
        drops = at.drops
        results.put({"runs": len(instrumented), "elapsed": elapsed, "instrumented": instrumented, "plain": plain,
                     "recorded": created.recorded, "exported": created.exported, "profile_rows": sink.rows,
                     "model_calls": calls, "queue_full": drops.queue_full, "refused": drops.export_failed,
                     "abandoned": drops.abandoned, "flushed": flushed})
