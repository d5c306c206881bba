"""Agent traffic that exercises every GenAI metric: two models of two providers, a retried call,
an exhausted retry, and steps a metric profile flags for review (real runnables, scripted models)."""

from __future__ import annotations

import httpx

from agenttrace.testing import ScriptedChatModel
from conftest import ask, build_agent

# responses longer than 20 characters are flagged for review on chat steps
PROFILES = {"profiles": {"lengths": {"metrics": ["response_length"], "thresholds": {"response_length": 20}}},
            "rules": [{"match": {"operation": "chat"}, "profile": "lengths"}]}


def rate_limited(messages):
    request = httpx.Request("POST", "https://api.anthropic.com/v1/messages")
    raise httpx.HTTPStatusError("429 Too Many Requests", request=request, response=httpx.Response(429, request=request))


def run(handler, runs: int = 2) -> None:
    """``runs`` support-agent runs (gpt-4o, openai), one claude call that succeeds on its second
    attempt, one that fails after its two attempts (error.type recorded)."""
    config = {"callbacks": [handler]}
    agent = build_agent()
    for _ in range(runs):
        agent.invoke(ask(), config=config)
    claude = ScriptedChatModel(replies=[rate_limited, "Sure."], model="claude-sonnet-4", provider="anthropic")
    claude.with_retry(stop_after_attempt=2, wait_exponential_jitter=False).invoke("hi", config=config)
    failing = ScriptedChatModel(replies=[rate_limited], model="claude-sonnet-4", provider="anthropic")
    try:
        failing.with_retry(stop_after_attempt=2, wait_exponential_jitter=False).invoke("hi", config=config)
    except httpx.HTTPStatusError:
        pass
