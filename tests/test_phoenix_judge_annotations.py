"""Judge scores reach the real Phoenix of the test session as span annotations of annotator kind
LLM, with the judge's label and explanation (content capture on)."""

from __future__ import annotations

import time
import uuid

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytest.importorskip("phoenix.evals")

import agenttrace  # noqa: E402
from agenttrace import semconv as sc  # noqa: E402
from agenttrace.testing import ScriptedChatModel  # noqa: E402
from conftest import ask, build_agent  # noqa: E402

pytestmark = pytest.mark.phoenix

PROFILES = {
    "judges": {"hedging": {"builtin": "hedging", "model": "judge_models:hedging_judge"}},
    "profiles": {"replies": {"metrics": ["judge:hedging"]}},
    "rules": [{"match": {"operation": "chat"}, "profile": "replies"}],
}


def test_judge_scores_become_llm_annotations_in_phoenix(phoenix_server, phoenix_store):
    project = f"judges-{uuid.uuid4().hex[:8]}"
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({sc.OI_PROJECT_NAME: project}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    at = agenttrace.configure(project=project, tracer_provider=provider, profiles=PROFILES, capture_content=True,
                              endpoint=phoenix_server.otlp_http_endpoint, handle_sigterm=False)
    graph = build_agent(ScriptedChatModel(replies=["It might possibly ship on Monday."]), tools=())
    graph.invoke(ask(), config={"callbacks": [at.callback_handler]})
    result = at.flush(60)
    assert result.ok and result.scores_pending == 0, result
    (llm,) = [s for s in memory.get_finished_spans() if s.attributes.get(sc.OPERATION) == "chat"]
    assert llm.attributes["agenttrace.metric.judge.hedging.label"] == "hedged"
    phoenix_store.wait_for_spans(project, len(memory.get_finished_spans()))
    span_id = format(llm.context.span_id, "016x")
    deadline, found = time.monotonic() + 30, []
    while not found and time.monotonic() < deadline:
        found = [a for a in phoenix_store.span_annotations(project, [span_id]) if a["name"] == "judge.hedging"]
        time.sleep(0.2)
    (annotation,) = found
    assert annotation["annotator_kind"] == "LLM"
    assert annotation["result"]["label"] == "hedged" and annotation["result"]["score"] == 0.0
    assert annotation["result"]["explanation"] == "the reply hedges its claim"
    at.shutdown()
