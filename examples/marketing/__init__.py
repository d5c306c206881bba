"""Offline marketing agents on a simulated LLM provider, and the ``agenttrace demo`` that runs them.

Four LangGraph agents (``email``, ``ad_copy``, ``support``, ``router``) share one simulated
provider (``provider.Provider``) that resolves model aliases to dated versions, rate-limits
concurrent requests and, midway through the demo, silently moves its aliases to a new release that
refuses and hedges more often. ``run_demo`` runs them under agenttrace and returns a summary.
``run_overnight`` (``overnight``) runs an ad-copy batch against the provider's rate limit under a
flat-wait and a backoff-with-jitter retry policy and compares their completion rates.
"""

from .agents import AGENTS, Agent, agent
from .demo import DEFAULT_PROFILES, SCALES, run_demo
from .overnight import run_overnight
from .provider import ContentPolicyError, Provider, ProviderChatModel, RateLimitError
from .summary import DemoSummary

__all__ = ["AGENTS", "Agent", "agent", "DEFAULT_PROFILES", "SCALES", "run_demo", "Provider", "ProviderChatModel",
           "RateLimitError", "ContentPolicyError", "DemoSummary", "run_overnight"]
