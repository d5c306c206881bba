"""Content once, not three times: ``content_format`` picks the attribute family content is written in."""

from __future__ import annotations

import json
import logging

import pytest

import agent_shapes as shapes
from agenttrace import CallbackHandler, configure
from agenttrace import semconv as sc

GENAI = (sc.INPUT_MESSAGES, sc.OUTPUT_MESSAGES, sc.SYSTEM_INSTRUCTIONS, sc.TOOL_CALL_ARGUMENTS, sc.TOOL_CALL_RESULT,
         sc.RETRIEVAL_QUERY_TEXT, sc.RETRIEVAL_DOCUMENTS)
OI_PREFIXES = ("llm.input_messages.", "llm.output_messages.", "retrieval.documents.")


def _run(provider, exporter, fmt, agent=shapes.agent_executor):
    exporter.clear()
    handler = CallbackHandler(provider, capture_content=True, content_format=fmt)
    runnable, inputs = agent()
    runnable.invoke(inputs, {"callbacks": [handler]})
    return exporter.get_finished_spans()


def _families(span) -> set:
    keys = set(span.attributes)
    found = set()
    if keys & set(GENAI):
        found.add("genai")
    if any(k.startswith(OI_PREFIXES) for k in keys) or (keys & {sc.OI_INPUT_VALUE, sc.OI_OUTPUT_VALUE}):
        found.add("openinference")
    return found


@pytest.mark.parametrize("fmt,expected", [("openinference", {"openinference"}), ("genai", {"genai"}),
                                          ("both", {"openinference", "genai"})])
def test_model_tool_and_retriever_spans_carry_content_in_the_chosen_family(provider, exporter, fmt, expected):
    spans = _run(provider, exporter, fmt) + _run(provider, exporter, fmt, lambda: (shapes.retriever(), "returns ship"))
    kinds = {s.attributes[sc.OI_SPAN_KIND]: s for s in spans}
    for kind in ("LLM", "TOOL", "RETRIEVER"):
        assert _families(kinds[kind]) == expected, (kind, fmt, sorted(kinds[kind].attributes))


def test_genai_format_keeps_chain_content_the_conventions_have_no_attribute_for(provider, exporter):
    spans = _run(provider, exporter, "genai")
    root = next(s for s in spans if s.parent is None)
    assert root.attributes[sc.OI_INPUT_VALUE] == shapes.QUESTION  # an agent's input: only OpenInference has a place for it
    llm = next(s for s in spans if s.attributes[sc.OI_SPAN_KIND] == "LLM")
    assert json.loads(llm.attributes[sc.SYSTEM_INSTRUCTIONS])[0]["content"] == "You are a support assistant."
    # what is not content stays in both families whatever the format
    assert llm.attributes[sc.OI_TOKENS_TOTAL] >= 0 and sc.USAGE_INPUT_TOKENS in llm.attributes
    assert llm.attributes[sc.OI_LLM_MODEL] and llm.attributes[sc.REQUEST_MODEL]


def test_default_is_openinference_and_the_environment_can_choose(provider, exporter, monkeypatch):
    assert CallbackHandler(provider).content.format == "openinference"
    monkeypatch.setenv("AGENTTRACE_CONTENT_FORMAT", "genai")
    assert CallbackHandler(provider).content.format == "genai"
    assert CallbackHandler(provider, content_format="both").content.format == "both"  # the argument wins


def test_a_bad_format_argument_raises_a_bad_environment_value_warns(provider, monkeypatch, caplog):
    with pytest.raises(ValueError, match="content_format='xml' is not valid"):
        CallbackHandler(provider, content_format="xml")
    monkeypatch.setenv("AGENTTRACE_CONTENT_FORMAT", "opentelemetry")
    with caplog.at_level(logging.WARNING, logger="agenttrace"):
        assert CallbackHandler(provider).content.format == "openinference"
    assert "AGENTTRACE_CONTENT_FORMAT='opentelemetry' is not one of openinference, genai, both" in caplog.text


def test_configure_passes_the_format_to_the_handler(exporter):
    from opentelemetry.sdk.trace import TracerProvider

    telemetry = configure(span_exporter=exporter, tracer_provider=TracerProvider(), content_format="genai",
                          capture_content=True, handle_sigterm=False)
    try:
        assert telemetry.callback_handler.content.format == "genai"
    finally:
        telemetry.shutdown()


@pytest.mark.phoenix
@pytest.mark.parametrize("fmt", ["openinference", "genai"])
def test_what_phoenix_keeps_of_each_format(phoenix_server, phoenix_store, fmt):
    """Phoenix builds llm.input_messages from gen_ai.input.messages on ingestion, but no input.value:
    the documented trade-off of the genai format (docs/phoenix.md)."""
    import uuid

    project = f"fmt-{fmt}-{uuid.uuid4().hex[:6]}"
    at = configure(project=project, endpoint=phoenix_server.otlp_http_endpoint, protocol="http/protobuf",
                   capture_content=True, content_format=fmt, set_global=False, handle_sigterm=False)
    runnable, inputs = shapes.agent_executor()
    runnable.invoke(inputs, {"callbacks": [at.callback_handler]})
    assert at.flush(30)
    at.shutdown()
    stored = phoenix_store.wait_for_spans(project, 16, timeout=60)
    llm = next(s for s in stored if s["span_kind"] == "LLM" and "llm.output_messages.0.message.content" in s["attributes"])
    attrs = llm["attributes"]
    assert attrs["llm.input_messages.0.message.role"] == "system"
    assert attrs["llm.input_messages.1.message.content"] == shapes.QUESTION
    if fmt == "genai":
        assert "input.value" not in attrs and "gen_ai.input.messages" in attrs
    else:
        assert "gen_ai.input.messages" not in attrs and json.loads(attrs["input.value"])["messages"]
