"""The OpenInference mirror is as complete as OpenInference's own LangChain tracer.

The side-by-side comparison runs both tracers on the same real agents; the focused tests pin each
attribute family (tool calls in messages, multi-part content, invocation parameters, provider,
finish reason, token details, MIME types, retrieved documents, prompt templates) and the session /
context rules.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from openinference.instrumentation import using_attributes, using_metadata, using_session, using_tags, using_user

from agenttrace import openinference as oi
from agenttrace import openinference_llm as oi_llm
from agenttrace import semconv as sc
from agenttrace.content import ContentPolicy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import openinference_parity as parity  # noqa: E402
import parity_agents as agents  # noqa: E402


# --- side by side with OpenInference's tracer -----------------------------------------------------


@pytest.mark.parametrize("agent", ["create_react_agent", "AgentExecutor", "prompt | chat model", "retriever",
                                   "multi-part message", "usage details", "prompt | completion model"])
def test_side_by_side_with_openinference_nothing_missing_or_different(agent):
    result = parity.compare([agent])
    missing, different = result.failures()
    problems = [(key, s.examples) for key, s in result.keys.items() if s.missing or s.different]
    assert (missing, different) == (0, 0), problems
    assert result.spans > 0 and sum(s.equal for s in result.keys.values()) > 3


def test_comparison_reports_a_value_that_differs():
    """The comparison can fail: a changed value on one side is reported as different."""
    from opentelemetry.sdk.trace import TracerProvider

    ours, theirs = [], []
    for sink, value in ((ours, "gpt-a"), (theirs, "gpt-b")):
        tp = TracerProvider()
        span = tp.get_tracer("t").start_span("s", attributes={sc.OI_LLM_MODEL: value, sc.OI_SPAN_KIND: "LLM"})
        span.end()
        sink.append(span)
    result = parity.Comparison()
    result.add("x", ours[0], theirs[0])
    assert result.keys[sc.OI_LLM_MODEL].different == 1 and result.keys[sc.OI_SPAN_KIND].equal == 1


# --- attribute families ---------------------------------------------------------------------------


def _chats(s):
    return sorted((x for x in s.all if x.attributes.get(sc.OI_SPAN_KIND) == "LLM"), key=lambda x: x.start_time)


def test_tool_calls_in_input_and_output_messages(content_handler, spans):
    agents.react_agent([content_handler])
    first, second = _chats(spans())
    out = first.attributes
    assert out["llm.output_messages.0.message.role"] == "assistant"
    assert out["llm.output_messages.0.message.tool_calls.0.tool_call.id"] == "call_react_1"
    assert out["llm.output_messages.0.message.tool_calls.0.tool_call.function.name"] == "order_status"
    assert json.loads(out["llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments"]) == {"order_id": "A1"}
    assert "llm.output_messages.0.message.content" not in out  # an empty content is no content
    inp = second.attributes
    assert [inp[f"llm.input_messages.{i}.message.role"] for i in range(3)] == ["user", "assistant", "tool"]
    assert inp["llm.input_messages.1.message.tool_calls.0.tool_call.id"] == "call_react_1"
    assert inp["llm.input_messages.2.message.tool_call_id"] == "call_react_1"
    assert inp["llm.input_messages.2.message.name"] == "order_status"
    assert inp["llm.input_messages.2.message.content"] == "order A1 shipped yesterday"


def test_multipart_content_is_kept_as_parts(content_handler, spans):
    agents.multipart_message([content_handler])
    a = _chats(spans())[0].attributes
    prefix = "llm.input_messages.1.message.contents"
    assert [a[f"{prefix}.{j}.message_content.type"] for j in range(3)] == ["text", "text", "image"]
    assert (a[f"{prefix}.0.message_content.text"], a[f"{prefix}.1.message_content.text"]) == ("part one", "part two")
    assert a[f"{prefix}.2.message_content.image.image.url"] == "https://example.com/cat.png"
    assert not any(isinstance(v, str) and "part onepart two" in v for v in a.values())


def test_invocation_parameters_provider_system_finish_reason_and_token_details(handler, spans):
    agents.usage_details([handler])  # content capture off: none of these is content
    a = _chats(spans())[0].attributes
    assert json.loads(a[sc.OI_LLM_INVOCATION_PARAMETERS])["_type"] == "generic-fake-chat-model"
    assert a[sc.OI_LLM_FINISH_REASON] == "stop"
    assert (a["llm.token_count.prompt"], a["llm.token_count.completion"], a["llm.token_count.total"]) == (120, 40, 160)
    assert a["llm.token_count.prompt_details.cache_read"] == 100
    assert a["llm.token_count.prompt_details.audio"] == 4
    assert a["llm.token_count.completion_details.reasoning"] == 25
    assert a["llm.token_count.completion_details.audio"] == 2
    assert not any(k.startswith(("input.", "output.", "llm.input_messages", "llm.output_messages")) for k in a)

    agents.prompt_chain([handler])
    chat = [s for s in _chats(spans()) if s.attributes.get(sc.REQUEST_MODEL) == "gpt-4o-mini"][0].attributes
    assert (chat[sc.OI_LLM_PROVIDER], chat[sc.OI_LLM_SYSTEM]) == ("openai", "openai")


def test_provider_names_follow_openinference_not_the_genai_registry():
    attrs: dict = {}
    oi_llm.llm_request(attrs, {}, {"ls_provider": "google_vertexai"})
    assert (attrs[sc.OI_LLM_PROVIDER], attrs[sc.OI_LLM_SYSTEM]) == ("google", "vertexai")
    attrs = {}
    oi_llm.llm_request(attrs, {}, {"ls_provider": "bedrock"})
    assert attrs == {sc.OI_LLM_PROVIDER: "aws"}  # no llm.system for Bedrock (several model families)


def test_mime_types_on_agent_chain_tool_and_retriever_spans(content_handler, spans):
    agents.react_agent([content_handler])
    agents.retriever([content_handler])
    s = spans()
    kinds = {}
    for span in s.all:
        if sc.OI_INPUT_VALUE in span.attributes:
            kinds.setdefault(span.attributes[sc.OI_SPAN_KIND], []).append(span)
    assert {"AGENT", "CHAIN", "TOOL", "LLM"} <= set(kinds) and kinds["RETRIEVER"]
    for span in (x for group in kinds.values() for x in group):
        for value, mime in ((sc.OI_INPUT_VALUE, sc.OI_INPUT_MIME), (sc.OI_OUTPUT_VALUE, sc.OI_OUTPUT_MIME)):
            if value in span.attributes:
                expected = sc.JSON_MIME if span.attributes[value].strip()[:1] in "[{" else sc.TEXT_MIME
                assert span.attributes[mime] == expected, (span.name, value)
    tool = s.one("execute_tool order_status").attributes
    assert (tool[sc.OI_INPUT_VALUE], tool[sc.OI_INPUT_MIME]) == ("A1", sc.TEXT_MIME)  # one string argument: itself
    assert (tool[sc.OI_OUTPUT_VALUE], tool[sc.OI_OUTPUT_MIME]) == ("order A1 shipped yesterday", sc.TEXT_MIME)  # what the model reads
    retriever = s.with_attr(sc.OI_SPAN_KIND, "RETRIEVER")[0].attributes
    assert (retriever[sc.OI_INPUT_VALUE], retriever[sc.OI_INPUT_MIME]) == ("returns ship", sc.TEXT_MIME)


def test_retrieved_documents_with_id_content_metadata_and_score(content_handler, spans):
    agents.retriever([content_handler])
    a = spans().with_attr(sc.OI_SPAN_KIND, "RETRIEVER")[0].attributes
    d = "retrieval.documents"
    assert (a[f"{d}.0.document.id"], a[f"{d}.1.document.id"]) == ("doc-returns", "doc-shipping")
    assert a[f"{d}.0.document.content"] == "Returns are free within 30 days."
    assert json.loads(a[f"{d}.1.document.metadata"]) == {"source": "faq", "score": 0.55}
    assert (a[f"{d}.0.document.score"], a[f"{d}.1.document.score"]) == (0.91, 0.55)
    assert json.loads(a[sc.OI_OUTPUT_VALUE])["documents"][0]["page_content"] == "Returns are free within 30 days."


def test_prompt_template_runs_are_prompt_spans_with_template_and_variables(content_handler, spans):
    agents.prompt_chain([content_handler])
    prompt = spans().one("ChatPromptTemplate").attributes
    assert prompt[sc.OI_SPAN_KIND] == "PROMPT"
    assert prompt[sc.OI_PROMPT_TEMPLATE] == "Write copy for {segment}."
    assert json.loads(prompt[sc.OI_PROMPT_TEMPLATE_VARIABLES]) == {"segment": "VIP"}


def test_capture_off_exports_no_template_or_message_content(handler, spans):
    agents.prompt_chain([handler])
    agents.react_agent([handler])
    for span in spans().all:
        for key in span.attributes:
            assert not key.startswith(("llm.prompt_template.template", "llm.prompt_template.variables", "input.", "output.",
                                       "llm.input_messages", "llm.output_messages", "retrieval.documents")), (span.name, key)


# --- session and openinference's context managers -------------------------------------------------


@pytest.mark.parametrize("metadata, expected", [
    ({"thread_id": "t-1", "session_id": "s-1"}, "s-1"),
    ({"thread_id": "t-1", "conversation_id": "c-1"}, "c-1"),
    ({"conversation_id": "c-1", "session_id": "s-1"}, "s-1"),
    ({"thread_id": "t-1"}, "t-1"),
])
def test_explicit_session_id_wins_over_thread_id(handler, spans, metadata, expected):
    model = agents.shapes.model(["hi"])
    model.invoke("hello", config={"callbacks": [handler], "metadata": metadata})
    span = spans().all[0]
    assert span.attributes[sc.OI_SESSION_ID] == expected
    assert span.attributes[sc.CONVERSATION_ID] == expected


def test_openinference_context_managers_are_honoured(content_handler, spans):
    with using_session("sess-ctx"), using_user("user-ctx"), using_metadata({"tier": "gold"}), using_tags(["ctx-tag"]):
        agents.prompt_chain([content_handler])
    for span in spans().all:
        a = span.attributes
        assert a[sc.OI_SESSION_ID] == "sess-ctx" and a[sc.CONVERSATION_ID] == "sess-ctx"
        assert a[sc.OI_USER_ID] == "user-ctx"
        assert json.loads(a[sc.OI_METADATA]) == {"tier": "gold"}
        assert list(a[sc.OI_TAGS]) == ["ctx-tag"]


def test_using_attributes_with_prompt_template_and_run_metadata_precedence(content_handler, spans):
    with using_attributes(session_id="sess-ctx", user_id="u-ctx", metadata={"tier": "gold", "region": "eu"}, tags=["a"],
                          prompt_template="Hi {name}", prompt_template_version="v2", prompt_template_variables={"name": "Ada"}):
        agents.shapes.model(["hi"]).invoke(
            "hello", config={"callbacks": [content_handler], "tags": ["run-tag"],
                             "metadata": {"session_id": "sess-run", "region": "us", "user_id": "u-run"}})
    a = spans().all[0].attributes
    assert a[sc.OI_SESSION_ID] == "sess-run"  # run metadata wins, as in OpenInference
    assert a[sc.OI_USER_ID] == "u-run"
    assert json.loads(a[sc.OI_METADATA]) == {"tier": "gold", "region": "us", "session_id": "sess-run", "user_id": "u-run"}
    assert list(a[sc.OI_TAGS]) == ["a", "run-tag"]
    assert (a[sc.OI_PROMPT_TEMPLATE], a[sc.OI_PROMPT_TEMPLATE_VERSION]) == ("Hi {name}", "v2")
    assert json.loads(a[sc.OI_PROMPT_TEMPLATE_VARIABLES]) == {"name": "Ada"}


def test_without_context_managers_no_context_attributes():
    assert oi.context_attributes() == {}


# --- each extractor fails on its own --------------------------------------------------------------


def test_a_failing_extractor_costs_only_its_own_attributes():
    class Broken:
        @property
        def generations(self):
            raise RuntimeError("odd provider payload")

    attrs = {"kept": 1}
    assert oi_llm.llm_output(attrs, ContentPolicy(capture=True), Broken()) is None
    assert attrs == {"kept": 1}
    class Unserialisable(AIMessage):
        def to_json(self):
            raise RuntimeError("cannot serialise")

    bad = Unserialisable(content="ok", tool_calls=[{"name": "t", "args": {}, "id": "c1"}])
    oi_llm.llm_input(attrs, ContentPolicy(capture=True), messages=[[HumanMessage(content="hi"), bad]])
    assert sc.OI_INPUT_VALUE not in attrs  # LangChain's serialiser failed: that extractor's attribute is lost
    assert attrs["llm.input_messages.0.message.content"] == "hi"
    assert attrs["llm.input_messages.1.message.tool_calls.0.tool_call.id"] == "c1"


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59,  # OpenAI's raw usage in llm_output
     "prompt_tokens_details": {"cached_tokens": 32, "audio_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 4}},
    {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 30, "cache_creation_input_tokens": 7},  # Anthropic's raw usage
    {"input_tokens": 10, "output_tokens": 5, "total_tokens": 55, "input_token_details": {"cache_read": 40}},  # cache outside input
    {"input_tokens": 60, "output_tokens": 5, "total_tokens": 65, "input_token_details": {"cache_read": 40, "cache_creation": 0}},
])
def test_token_counts_of_provider_payloads_match_openinference(usage):
    from openinference.instrumentation.langchain._tracer import _token_counts

    ours: dict = {}
    oi_llm.token_counts(ours, usage)
    assert ours == dict(_token_counts({"llm_output": {"token_usage": usage}}))
