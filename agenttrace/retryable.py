"""Which errors are worth retrying, and the recommended retry policy built on LangChain's own ``with_retry``.

An error is *retryable* when a provider would likely answer the same request later: HTTP 408, 409,
429 and 5xx, timeouts and connection failures. It is read duck-typed, so no provider SDK is
imported: the ``status_code`` of the error or of its ``response`` (OpenAI, Anthropic, httpx), and
otherwise the names of its classes (``RateLimitError``, ``APITimeoutError``, ``ConnectError``, ...).
A 400, a 401 or a content-policy refusal is not retryable: retrying it only burns quota.

:class:`RetryableError` is a class whose ``isinstance`` check *is* that predicate, so LangChain's
``with_retry(retry_if_exception_type=(RetryableError,))`` — tenacity underneath — retries exactly
the retryable errors, with no retry loop of our own.
"""

from __future__ import annotations

from typing import Any

from . import errors

RETRYABLE_STATUS = frozenset({408, 409, 429})
# class names (anywhere in the error's MRO) of timeouts, dropped connections and overloads in the
# provider SDKs and HTTP clients LangChain models use (openai, anthropic, httpx, requests, aiohttp)
RETRYABLE_NAMES = frozenset({
    "TimeoutError", "Timeout", "TimeoutException", "ReadTimeout", "ConnectTimeout", "WriteTimeout", "PoolTimeout",
    "APITimeoutError", "APIConnectionError", "ConnectionError", "ConnectError", "RemoteProtocolError",
    "ServerDisconnectedError", "ClientConnectionError", "RateLimitError", "InternalServerError",
    "ServiceUnavailableError", "OverloadedError", "ResourceExhausted", "ServiceUnavailable",
})


def retryable(error: BaseException) -> bool:
    """True for errors a later attempt may not hit: 408/409/429/5xx, timeouts, connection errors."""
    code = errors.status_code(error)
    if code is not None:
        return code in RETRYABLE_STATUS or code >= 500
    try:
        return any(cls.__name__ in RETRYABLE_NAMES for cls in type(error).__mro__)
    except Exception:  # noqa: BLE001 - an odd exception class: not ours to retry
        return False


class _RetryableMeta(type):
    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, BaseException) and retryable(instance)


class RetryableError(Exception, metaclass=_RetryableMeta):
    """``isinstance(err, RetryableError)`` is :func:`retryable` (``except RetryableError`` works too)."""


def with_recommended_retry(runnable: Any, *, attempts: int = 3, retry_on: tuple = (RetryableError,)) -> Any:
    """The recommended policy in one line: LangChain's ``runnable.with_retry`` with exponential
    backoff and jitter (tenacity's ``wait_exponential_jitter``: about 1, 2, 4 s plus up to 1 s of
    jitter), ``attempts`` attempts in all (default 3), retrying only retryable errors. A root run
    that still fails this way is written to the dead-letter queue when ``configure(dead_letter=...)``
    is on (it records the attempts), instead of being lost."""
    if not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"agenttrace: attempts={attempts!r} is not valid (an int >= 1)")
    return runnable.with_retry(retry_if_exception_type=tuple(retry_on), wait_exponential_jitter=True,
                               stop_after_attempt=attempts)
