"""What content may leave the process, and how odd payloads become safe attribute values.

Prompt and response content is exported only when the user opts in (``capture_content=True`` or
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``). Every string that does leave passes the
user's redaction hook first and is cut to ``max_length`` characters. ``content_format`` picks the
attribute family content is written in (``openinference``, ``genai`` or ``both``), so a model call's
messages leave the process once, not three times. Nothing here may raise: any
value, however strange (bytes that are not UTF-8, objects whose ``repr`` fails, cycles), becomes a
string.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import semconv as sc
from .otlp_config import EnvProblem, warn_once

logger = logging.getLogger("agenttrace")

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
CONTENT_FORMAT_ENV = "AGENTTRACE_CONTENT_FORMAT"
#: ``openinference``: content in the attributes Phoenix renders (``llm.input_messages``, ``input.value``, ...);
#: ``genai``: in the GenAI conventions' attributes (``gen_ai.input.messages``, ...) where they have one;
#: ``both``: in both families (each model call's messages then leave three times).
CONTENT_FORMATS = ("openinference", "genai", "both")
DEFAULT_CONTENT_FORMAT = "openinference"  # configure()'s default backend is Phoenix: see docs/phoenix.md
_TRUTHY = {"1", "true", "yes", "on", "span_only", "span_and_event", "event_only"}

#: ``redact(attribute_name, text) -> text``: called on every content string before export.
Redactor = Callable[[str, str], str]


def capture_from_env() -> bool:
    return os.environ.get(CAPTURE_ENV, "").strip().lower() in _TRUTHY


def content_format(value: Optional[str]) -> str:
    """``content_format=`` (strict: a bad value raises ValueError), else ``AGENTTRACE_CONTENT_FORMAT``
    (lenient: a bad value is logged once and the default used), else ``openinference``."""
    if value is not None:
        if value not in CONTENT_FORMATS:
            raise ValueError(f"agenttrace: content_format={value!r} is not valid (one of {', '.join(CONTENT_FORMATS)})")
        return value
    raw = os.environ.get(CONTENT_FORMAT_ENV, "").strip()
    if raw.lower() in CONTENT_FORMATS:
        return raw.lower()
    if raw:
        warn_once([EnvProblem(CONTENT_FORMAT_ENV, repr(raw), f"is not one of {', '.join(CONTENT_FORMATS)}",
                              DEFAULT_CONTENT_FORMAT)])
    return DEFAULT_CONTENT_FORMAT


def _fallback(obj: Any) -> Any:
    """``json.dumps`` default: make anything serialisable, never raise."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).decode("utf-8", errors="replace")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    for attr in ("model_dump", "dict", "to_json"):
        fn = getattr(obj, attr, None)
        if callable(fn):
            try:
                out = fn()
                if isinstance(out, (dict, list, str, int, float, bool)) or out is None:
                    return out
            except Exception:  # noqa: BLE001 - a broken serialiser must not break tracing
                pass
    try:
        return repr(obj)
    except Exception:  # noqa: BLE001
        return f"<unserialisable {type(obj).__name__}>"


def to_json(obj: Any) -> str:
    """JSON for any value; non-serialisable parts become strings; never raises."""
    try:
        return json.dumps(obj, default=_fallback, ensure_ascii=False, check_circular=True)
    except Exception:  # noqa: BLE001 - cycles, broken __repr__ inside containers, ...
        try:
            return json.dumps(_fallback(obj), ensure_ascii=False)
        except Exception:  # noqa: BLE001
            return json.dumps(f"<unserialisable {type(obj).__name__}>")


def to_text(obj: Any) -> str:
    """A plain string for any value (strings pass through, bytes are decoded leniently)."""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).decode("utf-8", errors="replace")
    return to_json(obj)


def clean_str(text: str) -> str:
    """Replace lone surrogates, which protobuf refuses to encode (one would drop a whole batch)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="replace").decode("utf-8")


#: Attributes whose values agenttrace itself chooses from a closed set: never user data, never redacted.
STRUCTURAL = frozenset({
    sc.OPERATION, sc.OI_SPAN_KIND, sc.PROVIDER, sc.OI_LLM_PROVIDER, sc.OI_LLM_SYSTEM, sc.OI_INPUT_MIME, sc.OI_OUTPUT_MIME,
    sc.TOOL_TYPE, sc.RUN_ID, sc.ERROR_TYPE, "exception.type",
})


@dataclass
class ContentPolicy:
    """Content capture on/off, the user's redaction hook, and the length cap.

    ``put`` adds a content value (only when capture is on); ``finalize`` is applied to every
    attribute dict before it reaches a span — span start, span end, events — so that *every*
    exported string, content or not (tool descriptions, metadata, tags, thread ids, names, error
    text), passes the redaction hook, is cut to ``max_length`` and is valid UTF-8.
    """

    capture: bool = False
    redact: Optional[Redactor] = None
    max_length: int = 32_000
    format: str = DEFAULT_CONTENT_FORMAT

    @classmethod
    def resolve(cls, capture: Optional[bool], redact: Optional[Redactor], max_length: Optional[int],
                fmt: Optional[str] = None) -> "ContentPolicy":
        return cls(
            capture=capture_from_env() if capture is None else bool(capture),
            redact=redact,
            max_length=max_length or cls.max_length,
            format=content_format(fmt),
        )

    def family(self, name: str) -> "ContentPolicy":
        """The policy for one attribute family (``genai`` / ``openinference``): this one when the
        content format includes it, else one that captures nothing. Content that only one family
        can hold (a chain's input and output) is written with the policy itself."""
        return self if self.format in (name, "both") else dataclasses.replace(self, capture=False)

    def put(self, attrs: dict, key: str, value: Any, *, as_json: bool = True) -> None:
        """Add a content attribute if capture is on (serialised; ``finalize`` redacts and cuts it)."""
        if not self.capture or value is None:
            return
        attrs[key] = to_json(value) if as_json and not isinstance(value, str) else to_text(value)

    def text(self, key: str, text: str, flags: Optional[dict] = None) -> Optional[str]:
        """One exported string: redacted, cut, valid UTF-8; None when the redactor failed or dropped it."""
        if self.redact is not None and key not in STRUCTURAL:
            try:
                text = self.redact(key, text)
            except Exception:  # noqa: BLE001 - privacy first: a failing redactor drops the value
                if flags is not None:
                    flags[sc.REDACTION_FAILED] = True
                logger.debug("agenttrace: redaction hook failed for %s; value dropped", key, exc_info=True)
                return None
            if text is None:
                return None
            text = to_text(text)
        if len(text) > self.max_length:
            text = text[: self.max_length]
            if flags is not None:
                flags[sc.CONTENT_TRUNCATED] = True
        return clean_str(text)

    def finalize(self, attrs: dict) -> dict:
        """Pass every string value (and every string in a list value) of ``attrs`` through :meth:`text`."""
        if self.redact is None:  # the common case, on the agent's thread: only odd values need work
            limit = self.max_length
            keys = [k for k, v in attrs.items()
                    if (type(v) is str and (len(v) > limit or not v.isascii())) or type(v) in (list, tuple)]
        else:
            keys = list(attrs)
        flags: dict = {}
        for key in keys:
            value = attrs[key]
            if isinstance(value, str):
                out = self.text(key, value, flags)
                if out is None:
                    del attrs[key]
                else:
                    attrs[key] = out
            elif isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
                cleaned = [self.text(key, v, flags) if isinstance(v, str) else v for v in value]
                attrs[key] = [v for v in cleaned if v is not None]
        attrs.update(flags)
        return attrs

    def name(self, span_name: str, fallback: str) -> str:
        """A span name: redacted like any value (key ``span.name``); the operation alone if dropped."""
        if self.redact is None and len(span_name) <= self.max_length and span_name.isascii():
            return span_name
        out = self.text("span.name", span_name)
        return out if out is not None else fallback
