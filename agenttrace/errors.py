"""What an error exports: its type always; its message and stack trace only with content capture.

Exception messages carry inputs (a pydantic ``ValidationError`` quotes the tool argument verbatim,
``input_value='…'``; provider errors quote prompts), so with capture off a span gets the exception
type as ``error.type`` and status description, and a stack trace of code locations only (file,
line, function — no message). With capture on the message and the full trace are added; like every
exported string they pass the redaction hook (``ContentPolicy.finalize``).
"""

from __future__ import annotations

import time
import traceback
from email.utils import parsedate_to_datetime
from typing import Any, Optional

from opentelemetry.trace import Status, StatusCode

from . import semconv as sc
from .content import ContentPolicy


def error_type(error: BaseException) -> str:
    return type_name(type(error))


def type_name(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _message(error: BaseException) -> Optional[str]:
    try:
        return str(error)
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises
        return None


def _stack(error: BaseException, with_message: bool) -> Optional[str]:
    try:
        if with_message:
            return "".join(traceback.format_exception(type(error), error, error.__traceback__))
        frames = "".join(traceback.format_tb(error.__traceback__)) if error.__traceback__ is not None else ""
        return f"Traceback (most recent call last):\n{frames}{error_type(error)}" if frames else None
    except Exception:  # noqa: BLE001
        return None


def status_code(error: BaseException) -> Optional[int]:
    """The HTTP status an error carries (``status_code``, or ``response.status_code`` as httpx, OpenAI
    and Anthropic errors have): a number, never content, so it is exported whatever the policy."""
    for value in (getattr(error, "status_code", None), getattr(getattr(error, "response", None), "status_code", None)):
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
            return value
    return None


def _headers(error: BaseException) -> Any:
    for holder in (getattr(error, "response", None), error):
        headers = getattr(holder, "headers", None)
        if headers is not None and hasattr(headers, "get"):
            return headers
    return None


def _number(value: Any) -> Optional[float]:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < float("inf") else None


def retry_after_ms(error: BaseException) -> Optional[float]:
    """How long the server asked the client to wait, in ms, when the error carries it: the
    ``retry-after-ms`` / ``retry-after`` response headers (seconds or an HTTP date) as OpenAI,
    Anthropic and httpx errors have them on ``response.headers``, or a ``retry_after`` attribute in
    seconds. Read duck-typed: no provider SDK is imported."""
    try:
        headers = _headers(error)
        if headers is not None:
            ms = _number(headers.get("retry-after-ms"))
            if ms is not None:
                return ms
            value = headers.get("retry-after")
            seconds = _number(value)
            if seconds is None and isinstance(value, str) and value.strip():
                when = parsedate_to_datetime(value)  # an HTTP date
                seconds = max(0.0, when.timestamp() - time.time())
            if seconds is not None:
                return seconds * 1000.0
        seconds = _number(getattr(error, "retry_after", None))
        return None if seconds is None else seconds * 1000.0
    except Exception:  # noqa: BLE001 - a malformed header is simply not recorded
        return None


def describe(error: BaseException, policy: ContentPolicy) -> tuple[str, dict]:
    """``(status description, exception event attributes)`` for a failed run, per the content policy."""
    kind = error_type(error)
    event = {sc.EXCEPTION_TYPE: kind}
    description = kind
    if policy.capture:
        message = _message(error)
        if message:
            event[sc.EXCEPTION_MESSAGE] = message
            description = f"{kind}: {message}"
    stack = _stack(error, with_message=policy.capture)
    if stack:
        event[sc.EXCEPTION_STACKTRACE] = stack
    return description, event


def record(span: Any, error: BaseException, policy: ContentPolicy, timestamp: Optional[int] = None) -> None:
    """ERROR status and an ``exception`` event on ``span``, exporting what the content policy allows."""
    description, event = describe(error, policy)
    span.add_event("exception", policy.finalize(event), timestamp=timestamp)
    span.set_status(Status(StatusCode.ERROR, policy.text("exception.message", description) or error_type(error)))
