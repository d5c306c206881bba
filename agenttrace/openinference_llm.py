"""The OpenInference mirror of model calls: messages, tool calls, parameters, provider, usage.

Same keys and value formats as OpenInference's LangChain tracer (see :mod:`agenttrace.openinference`).
Messages are read from the LangChain message objects directly; the message attributes, like all
content, exist only with content capture on, and cost nothing when it is off.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional, Sequence

from langchain_core.load import dumpd

from . import semconv as sc
from .extract import is_count
from .content import ContentPolicy, to_text
from .openinference import dumps, isolated, plain_dumps

#: LangChain ``ls_provider`` → OpenInference ``llm.provider`` (unknown providers: lower-cased as given).
PROVIDERS = {
    "anthropic": "anthropic", "azure": "azure", "azure_ai": "azure", "azure_openai": "azure",
    "bedrock": "aws", "bedrock_converse": "aws", "cohere": "cohere", "deepseek": "deepseek",
    "google": "google", "google_anthropic_vertex": "google", "google_genai": "google", "google_vertexai": "google",
    "vertex": "google", "vertexai": "google", "mistralai": "mistralai", "openai": "openai", "xai": "xai",
}
#: LangChain ``ls_provider`` → OpenInference ``llm.system`` (the model family's API), where one applies.
SYSTEMS = {
    "anthropic": "anthropic", "google_anthropic_vertex": "anthropic", "azure": "openai", "azure_ai": "openai",
    "azure_openai": "openai", "groq": "openai", "ollama": "openai", "openai": "openai", "cohere": "cohere",
    "mistralai": "mistralai", "google": "vertexai", "google_genai": "vertexai", "google_vertexai": "vertexai",
    "vertex": "vertexai", "vertexai": "vertexai",
}
_MESSAGES = {"generations": {"__all__": {"__all__": {"message"}}}}
_ROLES = (("HumanMessage", "user"), ("AIMessage", "assistant"), ("SystemMessage", "system"),
          ("FunctionMessage", "function"), ("ToolMessage", "tool"))


# --- request ------------------------------------------------------------------------------------


@isolated
def llm_request(attrs: dict, invocation: Mapping[str, Any], metadata: Mapping[str, Any]) -> None:
    """``llm.invocation_parameters``, ``llm.tools.{i}.tool.json_schema``, ``llm.provider``, ``llm.system``."""
    if invocation:
        attrs[sc.OI_LLM_INVOCATION_PARAMETERS] = plain_dumps(invocation)
        for i, tool in enumerate(invocation.get("tools") or ()):
            attrs[f"{sc.OI_LLM_TOOLS}.{i}.tool.json_schema"] = plain_dumps(tool)
    raw = metadata.get("ls_provider")
    if isinstance(raw, str) and raw:
        raw = raw.lower()
        attrs[sc.OI_LLM_PROVIDER] = PROVIDERS.get(raw, raw)
        if raw in SYSTEMS:
            attrs[sc.OI_LLM_SYSTEM] = SYSTEMS[raw]


# --- messages -----------------------------------------------------------------------------------


def _role(message: Any) -> Optional[str]:
    cls = type(message).__name__
    for prefix, role in _ROLES:
        if cls.startswith(prefix):
            return role
    if cls.startswith("ChatMessage"):
        return to_text(getattr(message, "role", None)) if getattr(message, "role", None) is not None else None
    if cls.startswith("RemoveMessage"):
        return None
    kind = getattr(message, "type", None)
    return {"human": "user", "ai": "assistant", "system": "system", "function": "function", "tool": "tool"}.get(str(kind))


def _content(out: dict, prefix: str, content: Any) -> None:
    if not content:
        return
    if isinstance(content, str):
        out[f"{prefix}.{sc.OI_MESSAGE_CONTENT}"] = content
        return
    if not isinstance(content, (list, tuple)):
        return
    for j, part in enumerate(content):
        key = f"{prefix}.{sc.OI_MESSAGE_CONTENTS}.{j}.message_content"
        if isinstance(part, str):
            out[f"{key}.text"] = part
        elif isinstance(part, Mapping):
            kind = part.get("type")
            if kind == "text":
                out[f"{key}.type"] = "text"
                if part.get("text"):
                    out[f"{key}.text"] = to_text(part["text"])
            elif kind == "image_url":
                out[f"{key}.type"] = "image"
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, Mapping) else image
                if isinstance(url, str) and url:
                    out[f"{key}.image.image.url"] = url


def _arguments(value: Any) -> Optional[str]:
    if not value:
        return None
    return value if isinstance(value, str) else plain_dumps(value)


def _tool_call(out: dict, key: str, call: Any) -> bool:
    """One tool call (LangChain's ``{name, args, id}`` or a provider's ``{id, function: {...}}``)."""
    if not isinstance(call, Mapping):
        return False
    before = len(out)
    if call.get("id") is not None:
        out[f"{key}.tool_call.id"] = call["id"]
    function = call.get("function")
    source, args_key = (function, "arguments") if function else (call, "args")
    if isinstance(source, Mapping):
        if source.get("name"):
            out[f"{key}.tool_call.function.name"] = to_text(source["name"])
        arguments = _arguments(source.get(args_key))
        if arguments is not None:
            out[f"{key}.tool_call.function.arguments"] = arguments
    return len(out) > before


def _tool_calls(out: dict, prefix: str, message: Any) -> None:
    extra = getattr(message, "additional_kwargs", None) or {}
    # LangChain's parsed calls first; a provider's raw calls (OpenAI format) refine the same slots
    for calls in (getattr(message, "tool_calls", None), extra.get("tool_calls") if isinstance(extra, Mapping) else None):
        j = 0
        for call in calls or ():
            if _tool_call(out, f"{prefix}.{sc.OI_MESSAGE_TOOL_CALLS}.{j}", call):
                j += 1


def message_attributes(out: dict, prefix: str, message: Any) -> None:
    """One LangChain message → ``{prefix}.message.*`` (role, content or contents, name, tool calls)."""
    role = _role(message)
    if role:
        out[f"{prefix}.{sc.OI_MESSAGE_ROLE}"] = role
    _content(out, prefix, getattr(message, "content", None))
    call_id = getattr(message, "tool_call_id", None)
    if isinstance(call_id, str) and call_id:
        out[f"{prefix}.{sc.OI_MESSAGE_TOOL_CALL_ID}"] = call_id
    name = getattr(message, "name", None)
    if isinstance(name, str) and name:
        out[f"{prefix}.{sc.OI_MESSAGE_NAME}"] = name
    extra = getattr(message, "additional_kwargs", None)
    function_call = extra.get("function_call") if isinstance(extra, Mapping) else None
    if isinstance(function_call, Mapping):
        if function_call.get("name"):
            out[f"{prefix}.{sc.OI_MESSAGE_FUNCTION_CALL_NAME}"] = to_text(function_call["name"])
        arguments = _arguments(function_call.get("arguments"))
        if arguments is not None:
            out[f"{prefix}.{sc.OI_MESSAGE_FUNCTION_CALL_ARGUMENTS}"] = arguments
    _tool_calls(out, prefix, message)


def _put_all(attrs: dict, policy: ContentPolicy, values: dict) -> None:
    for key, value in values.items():
        policy.put(attrs, key, value)


@isolated
def _input_value(attrs: dict, policy: ContentPolicy, payload: Any) -> None:
    if callable(payload):
        payload = payload()
    policy.put(attrs, sc.OI_INPUT_VALUE, dumps(payload))
    if sc.OI_INPUT_VALUE in attrs:
        attrs[sc.OI_INPUT_MIME] = sc.JSON_MIME


@isolated
def _input_messages(attrs: dict, policy: ContentPolicy, batch: Sequence[Any]) -> None:
    out: dict = {}
    for i, message in enumerate(list(batch)[:128]):
        message_attributes(out, f"{sc.OI_LLM_INPUT_MESSAGES}.{i}", message)
    _put_all(attrs, policy, out)


@isolated
def _prompts(attrs: dict, policy: ContentPolicy, prompts: Sequence[str]) -> None:
    attrs[sc.OI_LLM_PROMPTS] = [to_text(p) for p in prompts]  # redacted and cut with every exported string


def llm_input(attrs: dict, policy: ContentPolicy, messages: Optional[Sequence[Sequence[Any]]] = None,
              prompts: Optional[Sequence[str]] = None) -> None:
    """The request: ``input.value`` (LangChain's serialised messages or prompts), ``llm.input_messages``
    of the first batch, or ``llm.prompts``."""
    if not policy.capture:
        return
    if messages is not None:
        _input_value(attrs, policy, lambda: {"messages": [[dumpd(m) for m in batch] for batch in messages]})
        if messages:
            _input_messages(attrs, policy, messages[0])
    elif prompts:
        _input_value(attrs, policy, {"prompts": list(prompts)})
        _prompts(attrs, policy, prompts)


# --- response -----------------------------------------------------------------------------------


def _usage(response: Any, first: Any) -> Optional[Mapping[str, Any]]:
    """The usage record OpenInference reads: the provider's ``token_usage`` in ``llm_output``, else
    LangChain's ``usage_metadata`` on the message, else ``usage_metadata`` in ``generation_info``."""
    llm_output = getattr(response, "llm_output", None) or {}
    for key in ("token_usage", "usage"):
        if isinstance(llm_output, Mapping) and llm_output.get(key):
            return llm_output[key]
    usage = getattr(getattr(first, "message", None), "usage_metadata", None)
    if usage:
        return usage
    info = getattr(first, "generation_info", None) or {}
    return info.get("usage_metadata") if isinstance(info, Mapping) else None


def _first_of(mapping: Any, keys: Sequence[str]) -> Any:
    if isinstance(mapping, Mapping):
        for key in keys:
            if mapping.get(key) is not None:
                return mapping[key]
    return None


def _is_int(*values: Any) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)


def token_counts(attrs: dict, usage: Mapping[str, Any]) -> None:
    """``llm.token_count.*`` and their ``prompt_details`` / ``completion_details``."""
    inp, out, total = usage.get("input_tokens"), usage.get("output_tokens"), usage.get("total_tokens")
    if _is_int(inp, out, total) and "prompt_tokens_details" not in usage and "completion_tokens_details" not in usage:
        _lc_token_counts(attrs, usage, inp, out, total)  # LangChain's usage_metadata: the common case, first
        return
    for attr, keys in ((sc.OI_TOKENS_PROMPT, ("prompt_tokens", "input_tokens", "prompt_token_count")),
                       (sc.OI_TOKENS_COMPLETION, ("completion_tokens", "output_tokens", "candidates_token_count")),
                       (sc.OI_TOKENS_TOTAL, ("total_tokens", "total_token_count"))):
        value = _first_of(usage, keys)
        if is_count(value):
            attrs[attr] = value
    for attr, details, key in ((sc.OI_TOKENS_COMPLETION_AUDIO, "completion_tokens_details", "audio_tokens"),
                               (sc.OI_TOKENS_COMPLETION_REASONING, "completion_tokens_details", "reasoning_tokens"),
                               (sc.OI_TOKENS_PROMPT_AUDIO, "prompt_tokens_details", "audio_tokens"),
                               (sc.OI_TOKENS_PROMPT_CACHE_READ, "prompt_tokens_details", "cached_tokens")):
        value = _first_of(usage.get(details), (key,))  # OpenAI's raw usage
        if is_count(value):
            attrs[attr] = value
    if _is_int(inp, out, total):
        _lc_token_counts(attrs, usage, inp, out, total)
    elif _is_int(inp, out) and (usage.get("cache_read_input_tokens") or usage.get("cache_creation_input_tokens")):
        write, read = usage.get("cache_creation_input_tokens") or 0, usage.get("cache_read_input_tokens") or 0
        attrs[sc.OI_TOKENS_PROMPT] = inp + write + read  # Anthropic's raw usage counts the cache apart
        attrs[sc.OI_TOKENS_COMPLETION] = out
        if write:
            attrs[sc.OI_TOKENS_PROMPT_CACHE_WRITE] = write
        if read:
            attrs[sc.OI_TOKENS_PROMPT_CACHE_READ] = read


def _lc_token_counts(attrs: dict, usage: Mapping[str, Any], inp: int, out: int, total: int) -> None:
    """LangChain's ``usage_metadata`` with its input / output token details."""
    details_in = usage.get("input_token_details") or {}
    details_out = usage.get("output_token_details") or {}
    write, read = details_in.get("cache_creation", 0) or 0, details_in.get("cache_read", 0) or 0
    prompt = inp
    cache = write + read
    if cache and total == inp + out + cache:  # providers whose input_tokens leave the cache out
        prompt += cache
    elif cache and inp < cache:
        prompt += cache
        total += cache
    attrs[sc.OI_TOKENS_PROMPT], attrs[sc.OI_TOKENS_COMPLETION], attrs[sc.OI_TOKENS_TOTAL] = prompt, out, total
    if details_in or details_out:
        for attr, value in ((sc.OI_TOKENS_PROMPT_AUDIO, details_in.get("audio")), (sc.OI_TOKENS_PROMPT_CACHE_WRITE, write),
                            (sc.OI_TOKENS_PROMPT_CACHE_READ, read), (sc.OI_TOKENS_COMPLETION_AUDIO, details_out.get("audio")),
                            (sc.OI_TOKENS_COMPLETION_REASONING, details_out.get("reasoning"))):
            if value:
                attrs[attr] = value


def _finish_reason(first: Any) -> Optional[str]:
    keys = ("finish_reason", "stop_reason")
    reason = _first_of(getattr(first, "generation_info", None), keys)
    if not reason:
        reason = _first_of(getattr(getattr(first, "message", None), "response_metadata", None), keys)
    return str(reason) if reason else None


@isolated
def _usage_and_finish(attrs: dict, response: Any, first: Any) -> None:
    usage = _usage(response, first)
    if isinstance(usage, Mapping):
        token_counts(attrs, usage)
    reason = _finish_reason(first)
    if reason:
        attrs[sc.OI_LLM_FINISH_REASON] = reason


@isolated
def _output_value(attrs: dict, policy: ContentPolicy, response: Any, first: Any) -> None:
    out = response.model_dump(exclude=_MESSAGES)  # the messages as LangChain serialises them, not dumped twice
    for i, batch in enumerate(response.generations):
        for j, generation in enumerate(batch):
            if getattr(generation, "message", None) is not None:
                out["generations"][i][j]["message"] = dumpd(generation.message)
    policy.put(attrs, sc.OI_OUTPUT_VALUE, dumps(out))
    if sc.OI_OUTPUT_VALUE in attrs:
        attrs[sc.OI_OUTPUT_MIME] = sc.JSON_MIME
    function_call = (getattr(getattr(first, "message", None), "additional_kwargs", None) or {}).get("function_call")
    if isinstance(function_call, Mapping) and isinstance(function_call.get("arguments"), str):
        try:  # a legacy OpenAI function call, its arguments parsed
            policy.put(attrs, sc.OI_LLM_FUNCTION_CALL, plain_dumps({**function_call, "arguments": json.loads(function_call["arguments"])}))
        except ValueError:
            pass


@isolated
def _output_messages(attrs: dict, policy: ContentPolicy, first_batch: Sequence[Any]) -> None:
    out: dict = {}
    i = 0
    for generation in first_batch:
        message = getattr(generation, "message", None)
        if message is not None:
            message_attributes(out, f"{sc.OI_LLM_OUTPUT_MESSAGES}.{i}", message)
            i += 1
    _put_all(attrs, policy, out)


@isolated
def llm_output(attrs: dict, policy: ContentPolicy, response: Any) -> None:
    """The response: token counts, finish reason, ``output.value``, ``llm.output_messages``."""
    batches = getattr(response, "generations", None) or []
    first_batch = list(batches[0]) if batches else []
    first = first_batch[0] if first_batch else None
    _usage_and_finish(attrs, response, first)
    if policy.capture:
        _output_value(attrs, policy, response, first)
        _output_messages(attrs, policy, first_batch)
