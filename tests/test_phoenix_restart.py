"""Stopping the local Phoenix keeps every span it accepted.

Phoenix answers an OTLP export once the spans are in its in-memory queue and writes them to SQLite
afterwards (here at a few hundred spans per second); on SIGTERM, Phoenix 20.26.1 writes that queue
for 5 s and drops the rest, so a restart lost the spans of the seconds before it although the
exporter had been told they were stored. ``LocalPhoenix.stop`` (``agenttrace phoenix stop``) must
leave Phoenix time to write them all, and report what it could not write.
"""

from __future__ import annotations

import sqlite3

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from phoenix_fixtures import free_port, shared_venv

SPANS = 2500


def _spans(n: int):
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"openinference.project.name": "restart"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    for i in range(n):
        with tracer.start_as_current_span(f"span {i}"):
            pass
    return memory.get_finished_spans()


@pytest.fixture
def phoenix(tmp_path, monkeypatch):
    from agenttrace_phoenix import LocalPhoenix

    monkeypatch.setenv("PHOENIX_MAX_SPANS_QUEUE_SIZE", str(SPANS * 10))  # accept the whole burst (no 503)
    server = LocalPhoenix(tmp_path, venv_dir=shared_venv())
    yield server, server.start(port=free_port(), grpc_port=free_port(), log=lambda line: None)
    server.stop(timeout=5)


def test_stop_writes_every_accepted_span_before_phoenix_exits(phoenix):
    server, info = phoenix
    spans = _spans(SPANS)
    exporter = OTLPSpanExporter(endpoint=info.otlp_http_endpoint)
    for i in range(0, len(spans), 500):  # accepted as fast as Phoenix takes them: most are still queued
        assert exporter.export(spans[i:i + 500]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert server.stop()
    with sqlite3.connect(f"file:{info.working_dir / 'phoenix.db'}?mode=ro", uri=True) as db:
        stored = db.execute("SELECT count(*) FROM spans").fetchone()[0]
    assert stored == SPANS, f"{SPANS - stored} accepted span(s) lost at stop"
    assert server.lost_at_stop == 0
    assert server.queued_at_stop and server.queued_at_stop > 0  # there was a queue to write (else proves nothing)
