"""Small attribute extractors: LangChain callback payloads → span attributes.

Each function reads one kind of payload and fills a dict. They are called inside the handler's
safety net, and each is written so that a missing or odd field just yields fewer attributes.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping, Optional, Sequence

from . import semconv as sc
from .content import ContentPolicy, to_json, to_text

# LangChain/LangGraph bookkeeping that is structure, not user labels.
_INTERNAL_TAG = re.compile(r"^(graph:step:\d+|seq:step:\d+|retry:attempt:\d+|condition:\d+|branch:(\d+|default)|map:key:.*|langsmith:.*)$")
_INTERNAL_META_PREFIXES = ("langgraph_", "ls_", "lc_", "checkpoint_", "__")
_INTERNAL_META_KEYS = {"checkpoint_ns", "checkpoint_id"}
_SESSION_KEYS = ("session_id", "conversation_id", "thread_id")  # OpenInference's order: an explicit session wins
_TAG_NUMBER = re.compile(r"^(graph:step|seq:step|retry:attempt|condition):(\d+)$")
_LC_GENERATED_ID = ("run-", "lc_run-", "lc_")


def tag_number(tags: Optional[Sequence[str]], prefix: str) -> Optional[int]:
    for tag in tags or ():
        m = _TAG_NUMBER.match(tag)
        if m and m.group(1) == prefix:
            return int(m.group(2))
    return None


def branch_tag(tags: Optional[Sequence[str]]) -> Optional[str]:
    for tag in tags or ():
        if tag.startswith("branch:"):
            return tag.split(":", 1)[1]
    return None


def user_tags(tags: Optional[Sequence[str]]) -> list[str]:
    return [str(t) for t in tags or () if not _INTERNAL_TAG.match(str(t))]


def user_metadata(metadata: Optional[Mapping[str, Any]]) -> dict:
    if not metadata:
        return {}
    return {
        str(k): v
        for k, v in metadata.items()
        if not str(k).startswith(_INTERNAL_META_PREFIXES) and k not in _INTERNAL_META_KEYS
    }


def session_id(metadata: Optional[Mapping[str, Any]]) -> Optional[str]:
    if not metadata:
        return None
    for key in _SESSION_KEYS:
        value = metadata.get(key)
        if value is not None and value != "":
            return to_text(value)
    configurable = metadata.get("configurable")
    if isinstance(configurable, Mapping) and configurable.get("thread_id") is not None:
        return to_text(configurable["thread_id"])
    return None


def run_name(serialized: Optional[Mapping[str, Any]], kwargs: Mapping[str, Any], default: str) -> str:
    name = kwargs.get("name")
    if name:
        return str(name)
    if isinstance(serialized, Mapping):
        if serialized.get("name"):
            return str(serialized["name"])
        ident = serialized.get("id")
        if isinstance(ident, (list, tuple)) and ident:
            return str(ident[-1])
    return default


# --- LLM calls -------------------------------------------------------------------------------

_MODEL_KEYS = ("model", "model_name", "model_id", "deployment_name", "azure_deployment", "repo_id")
_PARAMS = (
    (sc.REQUEST_TEMPERATURE, ("temperature",), float),
    (sc.REQUEST_MAX_TOKENS, ("max_tokens", "max_output_tokens", "max_tokens_to_sample", "max_new_tokens", "num_predict"), int),
    (sc.REQUEST_TOP_P, ("top_p",), float),
    (sc.REQUEST_TOP_K, ("top_k",), float),
    (sc.REQUEST_FREQUENCY_PENALTY, ("frequency_penalty",), float),
    (sc.REQUEST_PRESENCE_PENALTY, ("presence_penalty",), float),
    (sc.REQUEST_SEED, ("seed",), int),
    (sc.REQUEST_CHOICE_COUNT, ("n",), int),
)


def requested_model(invocation: Mapping[str, Any], metadata: Mapping[str, Any]) -> Optional[str]:
    if metadata.get("ls_model_name"):
        return str(metadata["ls_model_name"])
    for key in _MODEL_KEYS:
        if invocation.get(key):
            return str(invocation[key])
    return None


def provider(invocation: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
    raw = metadata.get("ls_provider") or invocation.get("_type") or "langchain"
    raw = str(raw)
    return sc.PROVIDER_BY_LS.get(raw.lower(), raw)


def request_params(attrs: dict, invocation: Mapping[str, Any], metadata: Mapping[str, Any]) -> None:
    merged = dict(invocation)
    for key in ("temperature", "max_tokens"):
        if merged.get(key) is None and metadata.get(f"ls_{key}") is not None:
            merged[key] = metadata[f"ls_{key}"]
    for attr, keys, cast in _PARAMS:
        for key in keys:
            value = merged.get(key)
            if value is not None and not isinstance(value, bool):
                try:
                    attrs[attr] = cast(value)
                except (TypeError, ValueError):
                    pass
                break
    stop = merged.get("stop") or metadata.get("ls_stop")
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, (list, tuple)) and stop:
        attrs[sc.REQUEST_STOP_SEQUENCES] = [to_text(s) for s in stop]
    if merged.get("stream") or merged.get("streaming"):
        attrs[sc.REQUEST_STREAM] = True


def _role(message: Any) -> str:
    mtype = getattr(message, "type", None) or (message.get("role") if isinstance(message, Mapping) else None)
    return {"human": "user", "ai": "assistant", "AIMessageChunk": "assistant", "system": "system", "tool": "tool", "function": "tool"}.get(
        str(mtype), str(mtype or "user")
    )


def _parts(content: Any) -> list[dict]:
    """Message content (str, list of blocks, anything) → GenAI semconv message parts."""
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, (bytes, bytearray)):
        return [{"type": "text", "content": to_text(content)}]
    parts: list[dict] = []
    items = content if isinstance(content, (list, tuple)) else [content]
    for block in items:
        if isinstance(block, str):
            parts.append({"type": "text", "content": block})
        elif isinstance(block, Mapping):
            btype = str(block.get("type", "unknown"))
            if btype == "text":
                parts.append({"type": "text", "content": to_text(block.get("text", ""))})
            elif btype in ("image", "image_url", "audio", "file", "input_audio", "video"):
                # binary payloads are never copied into spans; keep only what kind of part it was
                part = {"type": "blob" if "data" in block or "base64" in block else "uri", "modality": btype.split("_")[0]}
                image_url = block.get("image_url")
                url = image_url.get("url") if isinstance(image_url, Mapping) else image_url or block.get("url")
                if isinstance(url, str) and not url.startswith("data:"):
                    part["uri"] = url
                if block.get("mime_type"):
                    part["mime_type"] = str(block["mime_type"])
                parts.append(part)
            elif btype in ("reasoning", "thinking"):
                parts.append({"type": "reasoning", "content": to_text(block.get("reasoning") or block.get("thinking") or "")})
            else:
                parts.append({"type": btype, "content": to_json(block)})
        else:
            parts.append({"type": "text", "content": to_text(block)})
    return parts


def message_to_semconv(message: Any) -> dict:
    role = _role(message)
    content = getattr(message, "content", message.get("content") if isinstance(message, Mapping) else message)
    parts = _parts(content)
    for call in getattr(message, "tool_calls", None) or ():
        parts.append({"type": "tool_call", "id": call.get("id"), "name": call.get("name"), "arguments": call.get("args")})
    if role == "tool":
        parts = [{"type": "tool_call_response", "id": getattr(message, "tool_call_id", None), "response": to_text(content)}]
    return {"role": role, "parts": parts}


def input_messages(attrs: dict, policy: ContentPolicy, batches: Sequence[Sequence[Any]]) -> None:
    if not policy.capture or not batches:
        return
    messages = [message_to_semconv(m) for m in batches[0]]
    system = [p for m in messages if m["role"] == "system" for p in m["parts"]]
    chat = [m for m in messages if m["role"] != "system"]
    if system:
        policy.put(attrs, sc.SYSTEM_INSTRUCTIONS, system)
    policy.put(attrs, sc.INPUT_MESSAGES, chat)


def _first(*values: Any) -> Any:
    for v in values:
        if v is not None and v != "":
            return v
    return None


def is_count(value: Any) -> bool:
    """A token count worth exporting: a finite, non-negative number (NaN / inf / bool are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def output_type(attrs: dict, invocation: Mapping[str, Any], options: Optional[Mapping[str, Any]]) -> None:
    """``gen_ai.output.type = json`` when the request asks for JSON or structured output
    (``response_format``, ``with_structured_output``)."""
    fmt = invocation.get("response_format")
    structured = (options or {}).get("ls_structured_output_format") if isinstance(options, Mapping) else None
    if structured or invocation.get("ls_structured_output_format") or (fmt is not None and fmt != {"type": "text"}):
        attrs[sc.OUTPUT_TYPE] = sc.OUTPUT_TYPE_JSON


def llm_response(attrs: dict, policy: ContentPolicy, response: Any, provider_name: Optional[str] = None) -> None:
    """``LLMResult`` → response model/id/fingerprint, finish reasons, token usage, output content."""
    llm_output = getattr(response, "llm_output", None) or {}
    generations = [g for batch in (getattr(response, "generations", None) or []) for g in batch]
    first = generations[0] if generations else None
    message = getattr(first, "message", None)
    meta = dict(getattr(message, "response_metadata", None) or {})
    info = dict(getattr(first, "generation_info", None) or {})

    model = _first(meta.get("model_name"), meta.get("model"), meta.get("model_id"), llm_output.get("model_name"), llm_output.get("model"))
    if model is not None:
        attrs[sc.RESPONSE_MODEL] = to_text(model)
        attrs[sc.OI_LLM_MODEL] = to_text(model)
    response_id = _first(meta.get("id"), llm_output.get("id"))
    if response_id is None:
        mid = getattr(message, "id", None)
        if isinstance(mid, str) and not mid.startswith(_LC_GENERATED_ID):
            response_id = mid
    if response_id is not None:
        attrs[sc.RESPONSE_ID] = to_text(response_id)
    fingerprint = _first(meta.get("system_fingerprint"), llm_output.get("system_fingerprint"))
    if fingerprint is not None:
        attrs[sc.SYSTEM_FINGERPRINT] = to_text(fingerprint)
        if provider_name == "openai":
            attrs[sc.OPENAI_SYSTEM_FINGERPRINT] = to_text(fingerprint)

    reasons = []
    for g in generations:
        gmeta = getattr(getattr(g, "message", None), "response_metadata", None) or {}
        ginfo = getattr(g, "generation_info", None) or {}
        reason = _first(gmeta.get("finish_reason"), gmeta.get("stop_reason"), ginfo.get("finish_reason"), ginfo.get("stop_reason"))
        if reason is not None:
            reasons.append(to_text(reason))
    if reasons:
        attrs[sc.RESPONSE_FINISH_REASONS] = reasons

    usage = getattr(message, "usage_metadata", None) or {}
    input_tokens = usage.get("input_tokens")
    output_tokens = usage.get("output_tokens")
    if input_tokens is None and output_tokens is None:
        legacy = llm_output.get("token_usage") or llm_output.get("usage") or info.get("usage") or {}
        if isinstance(legacy, Mapping):
            input_tokens = _first(legacy.get("prompt_tokens"), legacy.get("input_tokens"))
            output_tokens = _first(legacy.get("completion_tokens"), legacy.get("output_tokens"))
    for attr, value in ((sc.USAGE_INPUT_TOKENS, input_tokens), (sc.USAGE_OUTPUT_TOKENS, output_tokens)):
        if is_count(value):
            attrs[attr] = int(value)
    details_in = usage.get("input_token_details") or {}
    details_out = usage.get("output_token_details") or {}
    for attr, value in (
        (sc.USAGE_CACHE_READ_INPUT_TOKENS, details_in.get("cache_read")),
        (sc.USAGE_CACHE_CREATION_INPUT_TOKENS, details_in.get("cache_creation")),
        (sc.USAGE_REASONING_OUTPUT_TOKENS, details_out.get("reasoning")),
    ):
        if is_count(value):
            attrs[attr] = int(value)

    if policy.capture:
        outputs = []
        for g, reason in zip(generations, reasons + [None] * len(generations)):
            msg = getattr(g, "message", None)
            out = message_to_semconv(msg) if msg is not None else {"role": "assistant", "parts": _parts(getattr(g, "text", None))}
            out["role"] = "assistant"
            if reason is not None:
                out["finish_reason"] = reason
            outputs.append(out)
        policy.put(attrs, sc.OUTPUT_MESSAGES, outputs)


# --- tools and retrievers --------------------------------------------------------------------


def tool_output(attrs: dict, policy: ContentPolicy, output: Any) -> Optional[str]:
    """Tool result → call id (from a ToolMessage), result content; returns an error label if the
    tool reported failure through its message (``status="error"``) rather than raising."""
    call_id = getattr(output, "tool_call_id", None)
    if call_id and sc.TOOL_CALL_ID not in attrs:
        attrs[sc.TOOL_CALL_ID] = to_text(call_id)
        attrs[sc.OI_TOOL_CALL_ID] = to_text(call_id)
    content = getattr(output, "content", output)
    policy.put(attrs, sc.TOOL_CALL_RESULT, content)
    if getattr(output, "status", None) == "error":
        return "tool_error"
    return None


def documents(attrs: dict, policy: ContentPolicy, docs: Iterable[Any]) -> None:
    docs = list(docs or [])
    attrs[sc.RETRIEVAL_DOCUMENT_COUNT] = len(docs)
    if not policy.capture:
        return
    items = []
    for doc in docs[:100]:
        item = {"content": to_text(getattr(doc, "page_content", doc))}
        if getattr(doc, "id", None) is not None:
            item["id"] = to_text(doc.id)
        meta = getattr(doc, "metadata", None)
        if meta:
            item["metadata"] = meta
        items.append(item)
    policy.put(attrs, sc.RETRIEVAL_DOCUMENTS, items)


# --- texts for metrics -------------------------------------------------------------------------


def plain_text(content: Any) -> str:
    return "".join(p.get("content", "") for p in _parts(content) if p.get("type") == "text")


def prompt_text(messages: Optional[Sequence[Sequence[Any]]], prompts: Optional[Sequence[str]]) -> str:
    """The text a response should be relevant to: the last user message (or the prompt)."""
    if messages:
        for message in reversed(list(messages[0])):
            if _role(message) == "user":
                return plain_text(getattr(message, "content", message))
        return plain_text(getattr(messages[0][-1], "content", "")) if messages[0] else ""
    return to_text(prompts[0]) if prompts else ""


def response_text(response: Any) -> str:
    generations = [g for batch in (getattr(response, "generations", None) or []) for g in batch]
    if not generations:
        return ""
    message = getattr(generations[0], "message", None)
    return plain_text(message.content) if message is not None else to_text(getattr(generations[0], "text", ""))
