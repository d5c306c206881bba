"""An overnight content batch through real LangChain retries (``.with_retry()`` over a scripted chat
model): provider errors with realistic messages. Between 02:00 and 02:20 the provider's rate limit
is hit (429 with request ids) by every kind of brief; all night, the swimwear creative briefs are
refused by the provider's safety system (400 content policy)."""

from __future__ import annotations

import itertools
import random

from langchain_core.prompts import ChatPromptTemplate

from agenttrace.testing import ScriptedChatModel

TEMPLATES = {"product_copy": "Write product copy for {item}.", "newsletter": "Write a newsletter blurb on {item}.",
             "creative_brief": "Draft a creative brief for {item}."}
CATEGORIES = ("kitchen", "garden", "swimwear", "toys")
_ids = itertools.count(7_000_000)


class ProviderError(Exception):
    """An error as provider SDKs raise them: the HTTP status on ``status_code`` and a message."""

    def __init__(self, message: str, status_code: int):
        super().__init__(message)
        self.status_code = status_code


class RateLimitError(ProviderError):
    pass


class BadRequestError(ProviderError):
    pass


def rate_limited(rng: random.Random) -> RateLimitError:
    used = rng.randint(9_900, 10_000)
    return RateLimitError(
        f"Error code: 429 - {{'error': {{'message': 'Rate limit reached for gpt-4o in organization org-4kq81ZxP on "
        f"tokens per min (TPM): Limit 10000, Used {used}, Requested {rng.randint(200, 900)}. Please try again in "
        f"{rng.randint(100, 2000)}ms.', 'type': 'tokens', 'code': 'rate_limit_exceeded'}}}} "
        f"(request_id: req_{next(_ids):x}{rng.getrandbits(32):08x})", 429)


def content_policy(rng: random.Random) -> BadRequestError:
    return BadRequestError(
        f"Error code: 400 - {{'error': {{'message': 'Your request was rejected as a result of our safety system. "
        f"Your prompt may contain text that is not allowed by our safety system.', 'type': 'invalid_request_error', "
        f"'code': 'content_policy_violation'}}}} (request_id: req_{next(_ids):x}{rng.getrandbits(32):08x})", 400)


def chain(storm: bool, rng: random.Random, template: str):
    """prompt | model.with_retry(3 attempts): the model raises 429 in a storm, 400 on swimwear briefs."""
    def reply(messages):
        text = str(messages[-1].content)
        if "swimwear" in text and template == "creative_brief":
            raise content_policy(rng)
        if storm:
            raise rate_limited(rng)
        return "Fresh copy."

    model = ScriptedChatModel(replies=[reply], model="gpt-4o", provider="openai")
    prompt = ChatPromptTemplate.from_messages([("human", TEMPLATES[template])])
    return prompt | model.with_retry(stop_after_attempt=3, wait_exponential_jitter=False)


def plan(seed: int = 0, runs: int = 96):
    """(minute after midnight, template, category, storm) for each run, in time order: every 5
    minutes from 00:00 to 08:00, the runs between 02:00 and 02:20 in the storm."""
    rng = random.Random(seed)
    out = []
    for i in range(runs):
        minute = i * 5
        out.append((minute, rng.choice(list(TEMPLATES)), CATEGORIES[i % len(CATEGORIES)], 120 <= minute < 140))
    # the storm hits every kind of brief: two more per template in it
    for j, template in enumerate(itertools.islice(itertools.cycle(TEMPLATES), 6)):
        out.append((121 + 3 * j, template, ("kitchen", "garden", "toys")[j % 3], True))
    return sorted(out)


def run_batch(handler, clock_at, seed: int = 0) -> None:
    """Run the batch through ``handler``; ``clock_at(minute)`` sets the simulated time of each run."""
    rng = random.Random(seed + 1)
    for minute, template, category, storm in plan(seed):
        clock_at(minute)
        try:
            chain(storm, rng, template).invoke({"item": f"{category} item {minute}"},
                                                config={"callbacks": [handler], "run_name": "brief_writer",
                                                        "metadata": {"prompt_template": template,
                                                                     "client_category": category,
                                                                     "segment": "overnight"}})
        except ProviderError:
            pass
