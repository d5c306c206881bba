"""What content may leave the process, and how odd payloads become safe attribute values.

Prompt and response content is exported only when the user opts in (``capture_content=True`` or
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``). Every string that does leave passes the
user's redaction hook first and is cut to ``max_length`` characters. Nothing here may raise: any
value, however strange (bytes that are not UTF-8, objects whose ``repr`` fails, cycles), becomes a
string.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import semconv as sc

logger = logging.getLogger("agenttrace")

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_TRUTHY = {"1", "true", "yes", "on", "span_only", "span_and_event", "event_only"}

#: ``redact(attribute_name, text) -> text``: called on every content string before export.
Redactor = Callable[[str, str], str]


def capture_from_env() -> bool:
    return os.environ.get(CAPTURE_ENV, "").strip().lower() in _TRUTHY


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
    """Strip lone surrogates, which protobuf refuses to encode."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="replace").decode("utf-8")


@dataclass
class ContentPolicy:
    capture: bool = False
    redact: Optional[Redactor] = None
    max_length: int = 32_000

    @classmethod
    def resolve(cls, capture: Optional[bool], redact: Optional[Redactor], max_length: Optional[int]) -> "ContentPolicy":
        return cls(
            capture=capture_from_env() if capture is None else bool(capture),
            redact=redact,
            max_length=max_length or cls.max_length,
        )

    def put(self, attrs: dict, key: str, value: Any, *, as_json: bool = True) -> None:
        """Add a content attribute if capture is on: serialised, redacted, truncated."""
        if not self.capture or value is None:
            return
        text = to_json(value) if as_json and not isinstance(value, str) else to_text(value)
        if self.redact is not None:
            try:
                text = self.redact(key, text)
            except Exception:  # noqa: BLE001 - privacy first: a failing redactor drops the value
                attrs[sc.REDACTION_FAILED] = True
                logger.debug("agenttrace: redaction hook failed for %s; value dropped", key, exc_info=True)
                return
            if text is None:
                return
            text = to_text(text)
        if len(text) > self.max_length:
            text = text[: self.max_length]
            attrs[sc.CONTENT_TRUNCATED] = True
        attrs[key] = clean_str(text)
