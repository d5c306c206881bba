"""Backoff on the spans: the wait before each retry, what the previous attempt failed with (HTTP
status, retry-after), and the wrapper's retry policy as LangChain's RunnableRetry holds it."""

from __future__ import annotations

import time

import httpx
import pytest
from langchain_core.runnables import RunnableLambda

from agenttrace import errors
from agenttrace import semconv as sc

# LangChain's ExponentialJitterParams names the first wait "initial"; tenacity now calls it "multiplier"
# (LangChain's model drops that key) and warns about "initial"
pytestmark = pytest.mark.filterwarnings("ignore:The 'initial' parameter is deprecated:DeprecationWarning")
from agenttrace.testing import ScriptedChatModel


class RateLimitError(Exception):
    """Shaped like openai.RateLimitError / anthropic.RateLimitError: ``status_code`` and an httpx ``response``."""

    def __init__(self, message: str, *, response: httpx.Response):
        super().__init__(message)
        self.response = response
        self.status_code = response.status_code


def rate_limited(headers: dict) -> RateLimitError:
    request = httpx.Request("POST", "https://api.example.test/v1/chat/completions")
    return RateLimitError("Rate limit reached", response=httpx.Response(429, headers=headers, request=request))


def server_error() -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "https://api.example.test/v1/messages")
    response = httpx.Response(503, headers={"retry-after": "2"}, request=request)
    return httpx.HTTPStatusError("Service Unavailable", request=request, response=response)


def failing(*failures: BaseException, pause: float = 0.0):
    queue = list(failures)

    def call(x):
        if queue:
            error = queue.pop(0)
            time.sleep(pause)
            raise error
        return f"done {x}"

    return RunnableLambda(call, name="provider_call")


def _attempts(s):
    return sorted(s.with_attr(sc.RETRY_ATTEMPT), key=lambda sp: sp.attributes[sc.RETRY_ATTEMPT])


def test_retry_after_and_status_are_read_from_provider_shaped_errors():
    assert errors.retry_after_ms(rate_limited({"retry-after-ms": "750"})) == 750.0
    assert errors.retry_after_ms(rate_limited({"retry-after": "3"})) == 3000.0
    assert errors.status_code(server_error()) == 503 and errors.retry_after_ms(server_error()) == 2000.0
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25_000 < errors.retry_after_ms(rate_limited({"retry-after": date})) <= 30_000
    assert errors.retry_after_ms(rate_limited({"retry-after": "soon"})) is None
    assert errors.retry_after_ms(ValueError("no response")) is None


def test_each_retry_carries_its_wait_and_what_the_previous_attempt_failed_with(handler, spans):
    runnable = failing(rate_limited({"retry-after-ms": "40"}), server_error()).with_retry(
        stop_after_attempt=3, wait_exponential_jitter=False, retry_if_exception_type=(RateLimitError, httpx.HTTPStatusError))
    assert runnable.invoke("x", config={"callbacks": [handler]}) == "done x"
    first, second, third = _attempts(spans())
    assert sc.RETRY_WAIT_MS not in first.attributes and sc.RETRY_PREVIOUS_ERROR_TYPE not in first.attributes
    # the failed attempts carry their own status and retry-after
    assert first.attributes[sc.HTTP_STATUS_CODE] == 429 and first.attributes[sc.RETRY_AFTER_MS] == 40.0
    assert second.attributes[sc.HTTP_STATUS_CODE] == 503 and second.attributes[sc.RETRY_AFTER_MS] == 2000.0
    # each retry: what the previous attempt failed with, and the wait (no backoff: next to nothing)
    assert second.attributes[sc.RETRY_PREVIOUS_ERROR_TYPE].endswith("RateLimitError")
    assert second.attributes[sc.RETRY_PREVIOUS_STATUS_CODE] == 429
    assert third.attributes[sc.RETRY_PREVIOUS_ERROR_TYPE] == "httpx.HTTPStatusError"
    assert third.attributes[sc.RETRY_PREVIOUS_STATUS_CODE] == 503
    for retry in (second, third):
        assert 0 <= retry.attributes[sc.RETRY_WAIT_MS] < 50
        # measured between the previous attempt's end and this start, as the spans show it
        previous = first if retry is second else second
        assert retry.attributes[sc.RETRY_WAIT_MS] == pytest.approx((retry.start_time - previous.end_time) / 1e6, abs=2)


def test_wait_measures_the_backoff_of_exponential_jitter(handler, spans):
    runnable = failing(rate_limited({}), rate_limited({})).with_retry(
        stop_after_attempt=3, wait_exponential_jitter=True,
        exponential_jitter_params={"initial": 0.05, "max": 0.2, "jitter": 0.0})
    runnable.invoke("x", config={"callbacks": [handler]})
    _, second, third = _attempts(spans())
    assert 45 <= second.attributes[sc.RETRY_WAIT_MS] < 150  # initial 50 ms
    assert 95 <= third.attributes[sc.RETRY_WAIT_MS] < 250  # then 100 ms


def test_the_wrapper_carries_the_retry_policy(handler, spans):
    runnable = failing(rate_limited({})).with_retry(
        stop_after_attempt=4, wait_exponential_jitter=False, retry_if_exception_type=(RateLimitError, TimeoutError))
    runnable.invoke("x", config={"callbacks": [handler]})
    s = spans()
    wrapper = s.parent(_attempts(s)[0])
    assert wrapper.attributes[sc.RETRY_POLICY_MAX_ATTEMPTS] == 4
    assert wrapper.attributes[sc.RETRY_POLICY_JITTER] is False
    assert list(wrapper.attributes[sc.RETRY_POLICY_EXCEPTION_TYPES]) == [
        f"{RateLimitError.__module__}.RateLimitError", "TimeoutError"]
    assert wrapper.attributes[sc.RETRY_EXHAUSTED] is False


def test_policy_and_backoff_around_a_chat_model_in_batched_runs(handler, spans):
    state = {"n": 0}

    def reply(messages):
        state["n"] += 1
        if state["n"] <= 2:
            raise rate_limited({"retry-after": "1"})
        return "fresh copy"

    model = ScriptedChatModel(replies=[reply], model="gpt-4o-mini").with_retry(stop_after_attempt=3, wait_exponential_jitter=True,
                                                                              exponential_jitter_params={"initial": 0.01, "jitter": 0.01})
    outer = RunnableLambda(lambda x: model.invoke(x).content, name="write_copy")
    outer.batch(["a", "b"], config={"callbacks": [handler]})
    s = spans()
    attempts = _attempts(s)
    wrappers = {s.parent(a).context.span_id: s.parent(a) for a in attempts}
    assert len(wrappers) == 2
    for wrapper in wrappers.values():
        assert wrapper.attributes[sc.RETRY_POLICY_MAX_ATTEMPTS] == 3
        assert wrapper.attributes[sc.RETRY_POLICY_JITTER] is True
    retries = [a for a in attempts if a.attributes[sc.RETRY_ATTEMPT] == 2]
    assert len(retries) == 2
    assert all(r.attributes[sc.RETRY_PREVIOUS_STATUS_CODE] == 429 and r.attributes[sc.RETRY_WAIT_MS] >= 5 for r in retries)
    assert all(a.attributes[sc.RETRY_AFTER_MS] == 1000.0 for a in attempts if a.attributes[sc.RETRY_ATTEMPT] == 1)
