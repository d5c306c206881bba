"""Spans across a Phoenix restart: created, accepted by Phoenix, stored, counted as dropped, unaccounted.

    python benchmarks/phoenix_restart.py [--seconds 30] [--restart-at 12] [--threads 2]
                                         [--protocol http/protobuf|grpc] [--rate RUNS_PER_S]

Starts a local Phoenix with ``agenttrace_phoenix.LocalPhoenix`` (the venv under
.agenttrace/phoenix is reused), runs traffic through ``agenttrace.configure()`` (a
prompt | chat-model chain: 3 spans per run, from ``--threads`` threads, as fast as they go or at
``--rate`` runs per second), and at ``--restart-at`` seconds stops Phoenix with
``LocalPhoenix.stop()`` (what ``agenttrace phoenix stop`` does) and starts it again on the same
ports and database. After the traffic ends it flushes, waits until Phoenix's span count stops
growing and prints:

- created: spans the SDK ended (a span processor counts them);
- accepted: spans in OTLP exports Phoenix answered with success;
- refused: spans in exports that failed (Phoenix down or restarting; counted by agenttrace);
- dropped: ``Telemetry.dropped_spans`` (export queue full + refused);
- stored: spans of the project Phoenix returns after the restart;
- accepted, not stored: lost inside Phoenix (its ingestion queue at shutdown);
- unaccounted: created - stored - dropped (lost and never counted anywhere).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from langchain_core.prompts import ChatPromptTemplate  # noqa: E402
from opentelemetry.sdk.trace import SpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult  # noqa: E402

import agenttrace  # noqa: E402
from agenttrace.export import otlp_exporter  # noqa: E402
from agenttrace.testing import ScriptedChatModel  # noqa: E402
from agenttrace_phoenix import LocalPhoenix, PhoenixStore  # noqa: E402
from phoenix_fixtures import free_port, shared_venv  # noqa: E402


class Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, int] = {}

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.values[name] = self.values.get(name, 0) + n

    def __getitem__(self, name: str) -> int:
        return self.values.get(name, 0)


class CountingExporter(SpanExporter):
    """Counts spans by what the backend answered (success: accepted)."""

    def __init__(self, inner: SpanExporter, counts: Counter) -> None:
        self.inner, self.counts = inner, counts

    def export(self, spans):
        try:
            result = self.inner.export(spans)
        except Exception:  # noqa: BLE001
            result = SpanExportResult.FAILURE
        self.counts.add("accepted" if result is SpanExportResult.SUCCESS else "refused", len(spans))
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class CreatedCounter(SpanProcessor):
    def __init__(self, counts: Counter) -> None:
        self.counts = counts

    def on_end(self, span) -> None:
        self.counts.add("created")


def stored_count(store: PhoenixStore, project: str, settle: float = 6.0, limit: float = 300.0) -> int:
    """Phoenix's span count of ``project`` once it has not grown for ``settle`` seconds."""
    last, since, deadline = -1, time.monotonic(), time.monotonic() + limit
    while time.monotonic() < deadline:
        n = sum(1 for _ in store.iter_spans(project))
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= settle:
            return n
        time.sleep(1.0)
    return last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="traffic duration (default 30)")
    parser.add_argument("--restart-at", type=float, default=12.0, help="when to restart Phoenix (default 12)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rate", type=float, default=0.0, help="runs per second over all threads (0: flat out)")
    parser.add_argument("--protocol", default="http/protobuf", choices=["http/protobuf", "grpc"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    base = Path(tempfile.mkdtemp(prefix="phoenix-restart-"))
    venv = shared_venv()
    phoenix = LocalPhoenix(base, venv_dir=venv if venv.exists() else None)
    info = phoenix.start(port=free_port(), grpc_port=free_port(), log=lambda line: None)
    endpoint = info.otlp_http_endpoint if args.protocol == "http/protobuf" else info.otlp_grpc_endpoint
    project = f"restart-{uuid.uuid4().hex[:8]}"
    counts = Counter()
    telemetry = agenttrace.configure(project=project, set_global=False,
                                     span_exporter=CountingExporter(otlp_exporter(endpoint, args.protocol, None, None), counts))
    telemetry.tracer_provider.add_span_processor(CreatedCounter(counts))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | ScriptedChatModel(replies=["It shipped."])

    stop = threading.Event()
    pause = args.threads / args.rate if args.rate > 0 else 0.0

    def traffic() -> None:
        while not stop.is_set():
            began = time.monotonic()
            chain.invoke({"q": "Where is my order?"}, config={"callbacks": [telemetry.callback_handler]})
            if pause:
                time.sleep(max(0.0, pause - (time.monotonic() - began)))

    threads = [threading.Thread(target=traffic, daemon=True) for _ in range(args.threads)]
    began = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(args.restart_at)
    created_at_stop = counts["created"]
    t0 = time.monotonic()
    phoenix.stop()
    stopped = time.monotonic() - t0
    lost_at_stop = getattr(phoenix, "lost_at_stop", "n/a")
    queued_at_stop = getattr(phoenix, "queued_at_stop", "n/a")
    phoenix.start(port=info.port, grpc_port=info.grpc_port, log=lambda line: None)
    down = time.monotonic() - t0
    time.sleep(max(0.0, args.seconds - (time.monotonic() - began)))
    stop.set()
    for t in threads:
        t.join()
    flushed = telemetry.flush(timeout=120)
    telemetry.shutdown()
    stored = stored_count(PhoenixStore(info.url), project)
    phoenix.stop()

    created, dropped = counts["created"], telemetry.dropped_spans
    print(f"Phoenix restart mid-run ({args.protocol}, {args.threads} thread(s), {args.seconds:.0f} s of traffic, "
          f"restart at {args.restart_at:.0f} s)")
    print(f"  stop took {stopped:.1f} s, Phoenix down for {down:.1f} s; spans created before the stop: {created_at_stop:,}")
    print(f"  Phoenix at stop: {queued_at_stop} accepted span(s) queued, {lost_at_stop} not stored when it exited; "
          f"flush {'ok' if flushed else 'timed out'}")
    rows = [("created", created), ("accepted by Phoenix", counts["accepted"]), ("refused (export failed)", counts["refused"]),
            ("counted as dropped by agenttrace", dropped), ("stored in Phoenix", stored),
            ("accepted, not stored", counts["accepted"] - stored), ("unaccounted (created - stored - dropped)", created - stored - dropped)]
    for name, value in rows:
        print(f"  {name:<42} {value:>9,}")


if __name__ == "__main__":
    main()
