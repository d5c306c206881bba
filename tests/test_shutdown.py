"""flush(), shutdown, exit and SIGTERM keep their time with a dead or hung backend, and every span
the exporter gives up on is counted (real OTLP receivers on loopback, real subprocesses, signals)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agenttrace
from conftest import ask, build_agent, run_python
from otlp_receivers import GrpcReceiver, HangingReceiver, HttpReceiver, closed_port_endpoint

TESTS = str(Path(__file__).resolve().parent)
MARGIN = 1.5  # seconds a flush/shutdown may overrun its deadline (thread wake-ups on a loaded machine)


def _configure(endpoint: str, protocol: str, **options):
    """agenttrace's own pipeline to ``endpoint``, plus an in-memory copy of every span that ended."""
    t = agenttrace.configure(project="p", endpoint=endpoint, protocol=protocol, set_global=False, **options)
    sent = InMemorySpanExporter()
    t.tracer_provider.add_span_processor(SimpleSpanProcessor(sent))
    return t, sent


def _run(t, n: int = 1) -> None:
    graph = build_agent()
    for _ in range(n):
        graph.invoke(ask(), config={"callbacks": [t.callback_handler]})


def _endpoint(backend, protocol: str) -> str:
    if backend is None:
        url = closed_port_endpoint()
        return url.removesuffix("/v1/traces") if protocol == "grpc" else url
    return backend.grpc_endpoint if protocol == "grpc" else backend.endpoint


@pytest.fixture
def hanging():
    r = HangingReceiver()
    yield r
    r.close()


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
@pytest.mark.parametrize("backend", ["dead", "hanging"])
def test_flush_returns_within_its_timeout_and_reports_what_it_did_not_deliver(backend, protocol, hanging):
    t, sent = _configure(_endpoint(hanging if backend == "hanging" else None, protocol), protocol)
    _run(t)
    t0 = time.monotonic()
    result = t.flush(timeout=2)
    took = time.monotonic() - t0
    assert took < 2 + MARGIN
    assert not result and result.undelivered_spans == len(sent.get_finished_spans()) > 0
    t.shutdown(timeout=0.5)
    assert t.dropped_spans == len(sent.get_finished_spans())  # nothing delivered, all of it counted


def test_shutdown_gives_up_at_its_deadline_and_counts_what_it_abandons(hanging):
    t, sent = _configure(hanging.endpoint, "http/protobuf", exit_timeout=1)
    _run(t, 3)
    t0 = time.monotonic()
    t.tracer_provider.shutdown()  # what the SDK's own exit hook would call: bounded by exit_timeout
    assert time.monotonic() - t0 < 1 + MARGIN
    assert t.drops.abandoned == t.dropped_spans == len(sent.get_finished_spans()) > 0


def test_a_raising_exporter_costs_the_batch_and_it_is_counted():
    class Broken(SpanExporter):  # an application's own exporter with a bug
        def export(self, spans):
            raise RuntimeError("boom")

    t = agenttrace.configure(project="p", span_exporter=Broken(), tracer_provider=agenttrace.telemetry.TracerProvider())
    _run(t)
    result = t.flush(5)
    assert not result and result.failed_spans == t.drops.export_failed == t.dropped_spans > 0
    t.shutdown()


def test_flush_deadline_includes_metric_scoring_and_profile_writing(tmp_path):
    release = threading.Event()

    class SlowScorer:  # a scorer stuck on a model call
        metrics = ("refusal_similarity",)

        def score(self, pairs, metrics):
            release.wait(30)
            return [{m: 0.0 for m in metrics} for _ in pairs]

    class SlowSink:  # a profile store on a stalled disk
        def __init__(self):
            self.rows = []

        def write(self, trajectories):
            self.rows.extend(trajectories)

        def flush(self):
            release.wait(30)

        def close(self):
            pass

    profiles = {"profiles": {"p": {"metrics": ["refusal_similarity"]}},
                "rules": [{"match": {"operation": "chat"}, "profile": "p"}]}
    exporter = InMemorySpanExporter()
    t = agenttrace.configure(project="p", span_exporter=exporter, set_global=False, profiles=profiles,
                             scorer=SlowScorer(), profile_store=SlowSink(), exit_timeout=1)
    try:
        _run(t)
        t0 = time.monotonic()
        result = t.flush(timeout=1)
        assert time.monotonic() - t0 < 1 + MARGIN
        assert not result and result.metrics_pending and result.profiles_pending
        t0 = time.monotonic()
        t.shutdown(timeout=t.exit_timeout)  # what process exit and SIGTERM do
        assert time.monotonic() - t0 < 1 + MARGIN
    finally:
        release.set()


def test_steps_not_scored_by_the_shutdown_deadline_are_exported_unscored():
    release = threading.Event()

    class StuckScorer:  # a scorer that never finishes its first batch in time
        metrics = ("refusal_similarity",)

        def score(self, pairs, metrics):
            release.wait(30)
            return [{m: 0.0 for m in metrics} for _ in pairs]

    profiles = {"profiles": {"p": {"metrics": ["refusal_similarity"]}},
                "rules": [{"match": {"operation": "chat"}, "profile": "p"}]}
    exporter = InMemorySpanExporter()
    t = agenttrace.configure(project="p", span_exporter=exporter, set_global=False, profiles=profiles,
                             scorer=StuckScorer())
    engine = t.callback_handler.metrics
    engine.batch_size = 1  # the first step is in flight, the others wait in the queue
    try:
        for _ in range(4):
            _run(t)
        t0 = time.monotonic()
        t.shutdown(timeout=1)
        assert time.monotonic() - t0 < 1 + MARGIN
        chats = [s for s in exporter.get_finished_spans() if s.attributes.get("gen_ai.operation.name") == "chat"]
        unscored = [s for s in chats if s.attributes.get("agenttrace.metric.skipped") is True]
        assert engine.unscored == len(unscored) >= 2  # ended and exported, not lost
        reference = InMemorySpanExporter()  # the same runs without metrics: how many chat spans they make
        plain = agenttrace.configure(project="p", span_exporter=reference, set_global=False)
        for _ in range(4):
            _run(plain)
        plain.shutdown()
        expected = [s for s in reference.get_finished_spans() if s.attributes.get("gen_ai.operation.name") == "chat"]
        assert len(chats) == len(expected) - 1  # all but the one still in the stuck scorer's hands
    finally:
        release.set()


# ------------------------------------------------------------------------------------ exit

EXIT_CHILD = """
import sys, time
sys.path.insert(0, {tests!r})
import agenttrace
from conftest import ask, build_agent
t = agenttrace.configure(project="p", endpoint={endpoint!r}, protocol={protocol!r}, exit_timeout=2)
build_agent().invoke(ask(), config={{"callbacks": [t.callback_handler]}})
print(time.time(), flush=True)
"""


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_process_exit_waits_at_most_exit_timeout_for_a_hung_backend(protocol, hanging):
    code = EXIT_CHILD.format(tests=TESTS, endpoint=_endpoint(hanging, protocol), protocol=protocol)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last_line = float(proc.stdout.readline())
    _, err = proc.communicate(timeout=60)
    assert time.time() - last_line < 8  # 2 s of exit_timeout + interpreter teardown; 10 s and more before
    assert proc.returncode == 0 and "still pending at a flush/exit deadline" in err


# ------------------------------------------------------------------------------------ SIGTERM

SIGTERM_CHILD = """
import json, signal, sys, threading
sys.path.insert(0, {tests!r})
import agenttrace
from conftest import ask, build_agent

class FileSink:  # a profile store: one JSON line per trajectory row
    def __init__(self, path):
        self.f = open(path, "a")
    def write(self, trajectories):
        for tr in trajectories:
            self.f.write(json.dumps({{"row": "trajectory"}}) + "\\n")
    def flush(self):
        self.f.flush()
    def close(self):
        self.f.write("closed\\n")
        self.f.close()

if {app_handler!r}:
    def app_handler(signum, frame):
        print("app handler ran", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, app_handler)
t = agenttrace.configure(project="p", endpoint={endpoint!r}, protocol={protocol!r}, profile_store=FileSink({rows!r}),
                         schedule_delay_millis=60_000, max_queue_size=100_000, exit_timeout=5)
graph = build_agent()
graph.invoke(ask(), config={{"callbacks": [t.callback_handler]}})
print("ready", flush=True)
while True:  # steady traffic until the container is stopped
    graph.invoke(ask(), config={{"callbacks": [t.callback_handler]}})
"""


def _sigterm_child(protocol: str, receiver, rows: Path, app_handler: bool = False):
    endpoint = receiver.endpoint
    code = SIGTERM_CHILD.format(tests=TESTS, endpoint=endpoint, protocol=protocol, rows=str(rows),
                                app_handler=app_handler)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    time.sleep(0.3)  # mid-traffic: the queue holds spans (60 s schedule) and rows not yet written
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_sigterm_delivers_spans_and_profiles_then_dies_of_sigterm(protocol, tmp_path):
    receiver = GrpcReceiver() if protocol == "grpc" else HttpReceiver()
    rows = tmp_path / "rows.jsonl"
    try:
        code, _, err = _sigterm_child(protocol, receiver, rows)
    finally:
        receiver.close()
    assert code == -signal.SIGTERM, err  # the parent sees a death by SIGTERM (143 in a shell)
    runs = receiver.names.count("invoke_agent support-bot")
    lines = rows.read_text().splitlines()
    assert runs >= 2 and lines[-1] == "closed"
    assert abs(len(lines[:-1]) - runs) <= 1  # one row per run (a run cut by the signal may lack one)


def test_sigterm_chains_to_the_applications_handler(tmp_path):
    receiver = HttpReceiver()
    rows = tmp_path / "rows.jsonl"
    try:
        code, out, err = _sigterm_child("http/protobuf", receiver, rows, app_handler=True)
    finally:
        receiver.close()
    assert code == 0 and "app handler ran" in out, err  # the application decided how to end
    assert receiver.names.count("invoke_agent support-bot") >= 2 and rows.read_text().count("trajectory") >= 2


def test_sigterm_handler_is_opt_out_and_never_installed_from_another_thread():
    code = (
        "import signal, threading\n"
        "import agenttrace\n"
        "th = threading.Thread(target=lambda: agenttrace.configure(project='p', endpoint='http://127.0.0.1:9/v1/traces'))\n"
        "th.start(); th.join()\n"
        "assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, 'installed from a thread'\n"
        "agenttrace.configure(project='p', endpoint='http://127.0.0.1:9/v1/traces', handle_sigterm=False)\n"
        "assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, 'installed despite handle_sigterm=False'\n"
        "agenttrace.configure(project='p', endpoint='http://127.0.0.1:9/v1/traces', exit_timeout=0.1)\n"
        "assert callable(signal.getsignal(signal.SIGTERM)), 'not installed'\n"
        "print('ok')\n"
    )
    out = run_python(code)
    assert out.stdout.strip() == "ok", out.stderr


# ------------------------------------------------------------------------------------ restarts

@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_backend_restart_every_span_is_received_or_counted_as_dropped(protocol):
    make = (lambda port=0: GrpcReceiver(port)) if protocol == "grpc" else (lambda port=0: HttpReceiver(port=port))
    first = make()
    port = first.port
    t, sent = _configure(first.endpoint, protocol, schedule_delay_millis=20, export_timeout=0.5)
    _run(t, 3)
    assert t.flush(5)
    first.close()  # the backend goes down mid-run ...
    _run(t, 3)
    time.sleep(1.0)
    second = make(port)  # ... and comes back on the same port
    try:
        _run(t, 3)
        time.sleep(0.5)
        _run(t, 3)
        t.flush(10)
        received = len(first.names) + len(second.names)
        assert len(sent.get_finished_spans()) == received + t.dropped_spans
        assert t.dropped_spans > 0 and len(second.names) > 0
        _run(t, 1)  # and what ends at exit while it is down again is counted too
        second.close()
        t.shutdown(timeout=0.5)
        received = len(first.names) + len(second.names)
        assert len(sent.get_finished_spans()) == received + t.dropped_spans
    finally:
        second.close()
