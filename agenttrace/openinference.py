"""The OpenInference mirror: LangChain callback payloads → the attributes Arize Phoenix renders.

Keys and value formats follow OpenInference's own LangChain tracer
(``openinference-instrumentation-langchain``), so a span looks the same in Phoenix whichever tracer
wrote it; deliberate differences are listed in docs/attributes.md and checked by
``benchmarks/openinference_parity.py``. Model calls are in :mod:`agenttrace.openinference_llm`.

Every extractor fails on its own (:func:`isolated`): an odd payload costs that extractor's
attributes, never the span or the agent. Content (inputs, outputs, documents, template variables)
goes through :meth:`ContentPolicy.put`, and extractors that only produce content return at once
when capture is off. openinference itself is not imported: its context managers (``using_session``,
``using_attributes``, ...) store plain OTel context values under the attribute names, read here.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import logging
import typing
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any, Iterable, Mapping, Optional, Sequence
from uuid import UUID

from langchain_core.messages import BaseMessage
from opentelemetry import context as otel_context

from . import extract as ex
from . import semconv as sc
from .content import ContentPolicy, to_json, to_text

logger = logging.getLogger("agenttrace")

#: What ``using_session`` / ``using_user`` / ``using_metadata`` / ``using_tags`` /
#: ``using_prompt_template`` / ``using_attributes`` put in the OTel context (keys = attribute names).
CONTEXT_KEYS = (sc.OI_SESSION_ID, sc.OI_USER_ID, sc.OI_METADATA, sc.OI_TAGS,
                sc.OI_PROMPT_TEMPLATE, sc.OI_PROMPT_TEMPLATE_VERSION, sc.OI_PROMPT_TEMPLATE_VARIABLES)
_CONTEXT_KEY_SET = frozenset(CONTEXT_KEYS)
#: LangChain ``run_type`` values that are OpenInference span kinds (``prompt`` → PROMPT, ...).
_KINDS = {"llm", "chain", "tool", "retriever", "embedding", "agent", "reranker", "guardrail", "evaluator", "prompt"}
_SCORE_KEYS = ("score", "relevance_score", "similarity_score", "_score")


def isolated(fn):
    """Run an extractor so that its failure only loses its own attributes."""
    @functools.wraps(fn)
    def safe(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - one attribute family must never cost the span
            logger.debug("agenttrace: OpenInference extractor %s failed", fn.__name__, exc_info=True)
            return None

    return safe


# --- values in OpenInference's JSON format --------------------------------------------------------


def _optional_field(field: dataclasses.Field) -> bool:
    return typing.get_origin(field.type) is typing.Union and type(None) in typing.get_args(field.type)


def _default(obj: Any) -> Any:
    """JSON for what ``json`` cannot encode, as OpenInference's encoder writes it."""
    if isinstance(obj, BaseMessage):
        try:
            return {"type": obj.type, "data": obj.model_dump()}
        except Exception:  # noqa: BLE001
            return str(obj)
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        try:
            return dump()
        except Exception:  # noqa: BLE001
            return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)
                if not (getattr(obj, f.name) is None and _optional_field(f))}
    if isinstance(obj, (datetime.date, datetime.datetime, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, datetime.timedelta):
        return obj.total_seconds()
    if isinstance(obj, (UUID, Decimal, PurePath, complex)):
        return str(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    return str(obj)


def dumps(obj: Any) -> str:
    """JSON as OpenInference writes ``input.value`` / ``output.value``; never raises."""
    try:
        if isinstance(obj, dict):
            obj = {str(k): v for k, v in obj.items()}
        return json.dumps(obj, default=_default, ensure_ascii=False)
    except Exception:  # noqa: BLE001 - cycles, odd keys: the lenient serialiser
        return to_json(obj)


def plain_dumps(obj: Any) -> str:
    """JSON of plain values (invocation parameters, metadata, tool arguments): anything else → str."""
    try:
        return json.dumps(obj, default=str, ensure_ascii=False)
    except Exception:  # noqa: BLE001
        return to_json(obj)


def _json_like(text: str) -> bool:
    s = text.strip()
    return (s[:1], s[-1:]) in (("{", "}"), ("[", "]"))


def io_value(attrs: dict, policy: ContentPolicy, key: str, mime_key: str, payload: Mapping[str, Any]) -> None:
    """A run's inputs or outputs (a dict, as LangChain's tracers hold them) → value + MIME type.

    A single string is the value itself; a single ``input``/``output`` value is its JSON; anything
    else is the JSON of the whole dict. JSON gets ``application/json``, the rest ``text/plain``.
    """
    if not payload:
        return
    if len(payload) == 1:
        name, value = next(iter(payload.items()))
        if isinstance(value, str):
            text = value
        else:
            text = dumps(value if name in ("input", "output") else payload)
    else:
        text = dumps(payload)
    policy.put(attrs, key, text)
    if key in attrs:
        attrs[mime_key] = sc.JSON_MIME if _json_like(text) else sc.TEXT_MIME


# --- labels: session, user, metadata, tags (run metadata and openinference's context) ------------


def context_attributes() -> dict:
    """The attributes openinference's ``using_*`` context managers have set, if any."""
    ctx = otel_context.get_current()
    if _CONTEXT_KEY_SET.isdisjoint(ctx):  # the usual case: one set operation on the hot path
        return {}
    return {key: ctx[key] for key in CONTEXT_KEYS if ctx.get(key) is not None}


def _context_metadata(value: Any) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, Mapping) else {}


@isolated
def labels(attrs: dict, policy: ContentPolicy, tags: Optional[Sequence[str]], metadata: Optional[Mapping[str, Any]],
           inherited_session: Optional[str] = None) -> Optional[str]:
    """Session, user, metadata, tags and context prompt template of a span; returns the session id.

    Session: run metadata ``session_id`` > ``conversation_id`` > ``thread_id`` (OpenInference's
    order), then ``using_session``, then the parent's. Metadata: the context's merged with the run's
    user metadata (the run wins). Tags: the context's, then the run's user tags.
    """
    ctx = context_attributes()
    session = ex.session_id(metadata) or (to_text(ctx[sc.OI_SESSION_ID]) if sc.OI_SESSION_ID in ctx else None) or inherited_session
    if session:
        attrs[sc.CONVERSATION_ID] = session
        attrs[sc.OI_SESSION_ID] = session
    tag_list = ex.user_tags(tags)
    if sc.OI_TAGS in ctx:
        tag_list = [to_text(t) for t in ctx[sc.OI_TAGS] or ()] + tag_list
    if tag_list:
        attrs[sc.OI_TAGS] = tag_list
    md = ex.user_metadata(metadata)
    if sc.OI_METADATA in ctx:
        md = {**_context_metadata(ctx[sc.OI_METADATA]), **md}
    if md:
        attrs[sc.OI_METADATA] = to_json(md)
    user = md.get("user_id") if md.get("user_id") is not None else ctx.get(sc.OI_USER_ID)
    if user is not None:
        attrs[sc.OI_USER_ID] = to_text(user)
    if sc.OI_PROMPT_TEMPLATE_VERSION in ctx:
        attrs[sc.OI_PROMPT_TEMPLATE_VERSION] = to_text(ctx[sc.OI_PROMPT_TEMPLATE_VERSION])
    if policy.capture:
        policy.put(attrs, sc.OI_PROMPT_TEMPLATE, ctx.get(sc.OI_PROMPT_TEMPLATE))
        policy.put(attrs, sc.OI_PROMPT_TEMPLATE_VARIABLES, ctx.get(sc.OI_PROMPT_TEMPLATE_VARIABLES))
    return session


# --- chains and prompt templates -----------------------------------------------------------------


def chain_kind(kwargs: Mapping[str, Any]) -> str:
    """Span kind of a non-agent chain run: its LangChain ``run_type`` (``prompt`` → PROMPT), else CHAIN."""
    run_type = kwargs.get("run_type")
    return run_type.upper() if isinstance(run_type, str) and run_type in _KINDS else "CHAIN"


def _class_name(serialized: Any) -> str:
    ident = serialized.get("id") if isinstance(serialized, Mapping) else None
    return ident[-1] if isinstance(ident, list) and ident and isinstance(ident[-1], str) else ""


def _template(attrs: dict, policy: ContentPolicy, inputs: Mapping[str, Any], serialized: Any, depth: int = 0) -> None:
    kwargs = serialized.get("kwargs") if isinstance(serialized, Mapping) else None
    if not isinstance(kwargs, Mapping) or depth > 8:
        return
    prompt = kwargs.get("prompt")
    cls = _class_name(serialized)
    if _class_name(prompt).endswith("PromptTemplate"):
        _template(attrs, policy, inputs, prompt, depth + 1)
    elif cls.endswith("ChatPromptTemplate"):
        messages = kwargs.get("messages")
        if isinstance(messages, Sequence) and messages:  # one template fits: the first message's
            partial = kwargs.get("partial_variables")
            merged = {**partial, **inputs} if isinstance(partial, Mapping) else inputs
            _template(attrs, policy, merged, messages[0], depth + 1)
    elif cls.endswith("PromptTemplate") and isinstance(kwargs.get("template"), str):
        policy.put(attrs, sc.OI_PROMPT_TEMPLATE, kwargs["template"])
        names = kwargs.get("input_variables")
        if isinstance(names, list):
            values = {n: inputs[n] for n in names if isinstance(n, str) and inputs.get(n) is not None}
            if values:
                policy.put(attrs, sc.OI_PROMPT_TEMPLATE_VARIABLES, plain_dumps(values))


@isolated
def chain_input(attrs: dict, policy: ContentPolicy, inputs: Any, serialized: Any = None) -> None:
    """Chain inputs → ``input.value`` / ``input.mime_type``; a prompt template's text and variables."""
    if not policy.capture:
        return
    payload = inputs if isinstance(inputs, dict) else {"input": inputs}
    io_value(attrs, policy, sc.OI_INPUT_VALUE, sc.OI_INPUT_MIME, payload)
    if isinstance(serialized, Mapping) and "kwargs" in serialized:
        _template(attrs, policy, payload, serialized)


@isolated
def chain_output(attrs: dict, policy: ContentPolicy, outputs: Any, final_inputs: Any = None) -> None:
    """Chain outputs → ``output.value`` / ``output.mime_type``; inputs known only at the end (streamed
    runs report them to ``on_chain_end``) replace the start's."""
    if not policy.capture:
        return
    io_value(attrs, policy, sc.OI_OUTPUT_VALUE, sc.OI_OUTPUT_MIME, outputs if isinstance(outputs, dict) else {"output": outputs})
    if final_inputs is not None:
        io_value(attrs, policy, sc.OI_INPUT_VALUE, sc.OI_INPUT_MIME,
                 final_inputs if isinstance(final_inputs, dict) else {"input": final_inputs})


# --- tools and retrievers ------------------------------------------------------------------------


@isolated
def tool_input(attrs: dict, policy: ContentPolicy, input_str: Any, inputs: Any) -> None:
    if policy.capture:
        io_value(attrs, policy, sc.OI_INPUT_VALUE, sc.OI_INPUT_MIME, inputs if isinstance(inputs, dict) else {"input": input_str})


@isolated
def tool_output(attrs: dict, policy: ContentPolicy, output: Any) -> None:
    """A tool's result → ``output.value``: a ``ToolMessage``'s content (what the model reads; its
    call id and status are attributes of their own), anything else as OpenInference writes it."""
    if policy.capture:
        if isinstance(output, BaseMessage) and getattr(output, "tool_call_id", None) is not None:
            output = output.content
        io_value(attrs, policy, sc.OI_OUTPUT_VALUE, sc.OI_OUTPUT_MIME, {"output": output})


@isolated
def retriever_input(attrs: dict, policy: ContentPolicy, query: Any) -> None:
    if policy.capture:
        io_value(attrs, policy, sc.OI_INPUT_VALUE, sc.OI_INPUT_MIME, {"query": query})


def _score(metadata: Any) -> Optional[float]:
    if isinstance(metadata, Mapping):
        for key in _SCORE_KEYS:
            value = metadata.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
    return None


@isolated
def retriever_output(attrs: dict, policy: ContentPolicy, documents: Iterable[Any], limit: int = 100) -> None:
    """Documents → ``output.value`` and ``retrieval.documents.{i}.document.id|content|metadata|score``.

    The score is the document's relevance score where the retriever left one in its metadata
    (``score``, ``relevance_score``, ``similarity_score``).
    """
    if not policy.capture:
        return
    docs = list(documents or [])
    io_value(attrs, policy, sc.OI_OUTPUT_VALUE, sc.OI_OUTPUT_MIME, {"documents": docs})
    for i, doc in enumerate(docs[:limit]):
        prefix = f"{sc.OI_RETRIEVAL_DOCUMENTS}.{i}.{sc.OI_DOCUMENT}"
        doc_id = getattr(doc, "id", None)
        if doc_id is not None:
            attrs[f"{prefix}.id"] = to_text(doc_id)
        content = getattr(doc, "page_content", None)
        if content:
            policy.put(attrs, f"{prefix}.content", to_text(content))
        metadata = getattr(doc, "metadata", None)
        if metadata:
            policy.put(attrs, f"{prefix}.metadata", plain_dumps(metadata))
        score = _score(metadata)
        if score is not None:
            attrs[f"{prefix}.score"] = score
