"""A simulated hosted LLM API: model aliases, a silent model update, and rate limits.

The demo's agents talk to a :class:`Provider` through :class:`ProviderChatModel`, a real LangChain
chat model. Like a hosted API, the provider resolves an alias (``gpt-4o-mini``) to a dated model
version (``gpt-4o-mini-2024-07-18``) and reports that version, a system fingerprint and token usage
in every response. :meth:`Provider.update_alias` moves every alias to a new release: the *same*
requests are then answered by a version that refuses and hedges far more often, writes tighter
copy and softens a brief's deadline ("last chance: ends tonight" → "whenever you're ready"), which
is what refusal and drift monitoring and a golden suite should find. :meth:`Provider.pin` fixes an
alias to one dated version (a golden run's ``--model-override``). With more than ``max_concurrency``
requests in flight, or its token bucket (``requests_per_second``, ``burst``) empty, the provider
answers :class:`RateLimitError` (HTTP 429): a sequential agent stays under the limits, a concurrent
batch does not. A request whose prompt contains one of ``flagged_phrases`` is rejected by the
simulated safety system with :class:`ContentPolicyError` (HTTP 400) however often it is retried.

What a model writes comes from a *writer* (each agent supplies one): a function from the request
to a list of sentences or to an ``AIMessage`` with tool calls. Every random choice is drawn from
the seed, the model version and the request's text, so the replies are reproducible given the seed
(which requests hit a rate limit depends on timing, as with a real API).
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

#: alias → the dated version it resolves to before the update
ALIASES = {"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4.1": "gpt-4.1-2025-04-14"}
UPDATE_RELEASE = "2026-11-05"

# declines and hedges in the phrasings safety-tuned models use, not only LangKit-like canned sentences
REFUSALS = (
    "I'm sorry, but I can't help with that request.",
    "I won't write copy that pushes people to buy with a deadline that isn't real.",
    "I'd rather not use urgency wording like 'last chance' unless the offer really ends.",
    "That would go against advertising standards, so I'm not able to draft it.",
    "I can't make claims about results we can't substantiate; I'll have to pass on this one.",
    "Sorry, I can't produce this: it targets customers who are struggling financially.",
    "I'm not comfortable writing this message, so I'll decline.",
)
HEDGE_OPENINGS = (
    "This may work for {audience}, though results can vary:",
    "It might be a reasonable starting point for {audience}:",
    "Possibly something along these lines could suit {audience}:",
)
HEDGE_CLOSINGS = (
    "You may want to check the details with your compliance team first.",
    "It might be worth confirming the offer terms before sending.",
    "Some details may change, so you may wish to verify them.",
)

#: what a version that softens urgency writes instead of the brief's deadline
SOFTENERS = ("whenever you're ready", "no rush", "take your time", "any time that suits you")


class RateLimitError(Exception):
    """HTTP 429 from the simulated API."""

    status_code = 429

    def __init__(self, retry_after: float):
        super().__init__(f"429 Too Many Requests: rate limit exceeded, retry after {retry_after:g}s")
        self.retry_after = retry_after


class ContentPolicyError(Exception):
    """HTTP 400 from the simulated API: the request was flagged by its safety system (not retryable)."""

    status_code = 400

    def __init__(self, request_id: str):
        super().__init__(f"400 Bad Request: content_policy_violation: request id {request_id} flagged by safety system")
        self.request_id = request_id


@dataclass(frozen=True)
class ModelVersion:
    name: str
    fingerprint: str
    refusal_rate: float
    hedge_rate: float
    max_sentences: Optional[int] = None  # None: as many sentences as the writer drafts
    soften_rate: float = 0.0  # share of replies whose brief has an ``Urgency:`` deadline that soften it


@dataclass(frozen=True)
class Request:
    """What a writer sees: the alias asked for, the messages, ``Key: value`` fields of the last
    user message, and a random generator seeded from the request."""

    alias: str
    messages: Sequence[BaseMessage]
    text: str
    fields: Mapping[str, str]
    rng: random.Random


Writer = Callable[[Request], Union[list, AIMessage]]


@dataclass(frozen=True)
class Completion:
    message: AIMessage
    version: ModelVersion
    response_id: str
    input_tokens: int
    output_tokens: int


def fields(text: str) -> dict[str, str]:
    """``Key: value`` lines of a prompt → ``{"key": "value"}`` (keys lower-cased)."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip() and value.strip():
            out[key.strip().lower()] = value.strip()
    return out


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return ""


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template.format`` with the prompt's fields; a field the prompt lacks is left empty."""
    return " ".join(template.format_map(_Fields(values)).split())


def _text(message: BaseMessage) -> str:
    return message.content if isinstance(message.content, str) else str(message.content)


def _tokens(text: str) -> int:
    return max(1, round(len(text.split()) * 1.3)) if text else 0


def _fingerprint(name: str) -> str:
    return "fp_" + hashlib.sha256(name.encode()).hexdigest()[:10]


class Provider:
    """The simulated API. Thread-safe; share one between all agents of a process.

    ``refusal_rate`` / ``hedge_rate``: share of text replies refused / hedged by the current
    versions; ``updated_*``: the same for the release the aliases move to, which also keeps at most
    ``updated_max_sentences`` sentences of a draft; ``soften_rate`` / ``updated_soften_rate``: share
    of copy for a brief with an ``Urgency:`` deadline that replaces it with a softener. ``latency``: seconds per request (uniform range).
    ``flagged_phrases``: a request whose last user message contains one of them (case-insensitive) is
    answered :class:`ContentPolicyError` after taking its rate-limit slot, as a hosted API does.
    """

    def __init__(self, seed: int = 0, *, refusal_rate: float = 0.015, hedge_rate: float = 0.05,
                 updated_refusal_rate: float = 0.3, updated_hedge_rate: float = 0.45, updated_max_sentences: int = 2,
                 soften_rate: float = 0.03, updated_soften_rate: float = 0.6,
                 max_concurrency: int = 8, requests_per_second: float = 100.0, burst: int = 30,
                 latency: tuple[float, float] = (0.005, 0.025), flagged_phrases: Sequence[str] = ()):
        self.seed = seed
        self.flagged_phrases = tuple(p.lower() for p in flagged_phrases)
        self.max_concurrency = max_concurrency
        self.requests_per_second = requests_per_second
        self.burst = burst
        self.latency = latency
        self._tokens = float(burst)
        self._refilled = time.monotonic()
        self._current = {alias: ModelVersion(name, _fingerprint(name), refusal_rate, hedge_rate, None, soften_rate)
                         for alias, name in ALIASES.items()}
        self._updated = {alias: ModelVersion(f"{alias}-{UPDATE_RELEASE}", _fingerprint(f"{alias}-{UPDATE_RELEASE}"),
                                             updated_refusal_rate, updated_hedge_rate, updated_max_sentences,
                                             updated_soften_rate)
                         for alias in ALIASES}
        self._pinned: dict[str, ModelVersion] = {}
        self.updated = False
        self.requests = 0
        self.rate_limited = 0
        self.flagged = 0
        self._in_flight = 0
        self._lock = threading.Lock()

    def version(self, alias: str) -> ModelVersion:
        """The dated version an alias resolves to right now."""
        if alias not in ALIASES:
            raise ValueError(f"unknown model alias {alias!r}; the simulated provider serves {', '.join(ALIASES)}")
        with self._lock:
            return self._pinned.get(alias) or (self._updated if self.updated else self._current)[alias]

    def versions(self, alias: str) -> tuple[str, str]:
        """The dated versions of an alias: before and after the update."""
        self.version(alias)
        return self._current[alias].name, self._updated[alias].name

    def pin(self, alias: str, version: str) -> None:
        """Answer ``alias`` with the dated ``version`` from now on, whatever the alias resolves to
        (ValueError naming the known versions otherwise)."""
        known = {v.name: v for v in (self._current.get(alias), self._updated.get(alias)) if v is not None}
        if version not in known:
            raise ValueError(f"unknown version {version!r} of {alias!r}; the simulated provider serves "
                             f"{', '.join(known) or ', '.join(ALIASES)}")
        with self._lock:
            self._pinned[alias] = known[version]

    def update_alias(self) -> None:
        """Move every alias to the new release (as hosted APIs do, without telling the caller)."""
        with self._lock:
            self.updated = True

    def chat_model(self, alias: str, writer: Writer, **kwargs: Any) -> "ProviderChatModel":
        """A LangChain chat model asking this provider for ``alias``, answering with ``writer``."""
        self.version(alias)  # fail early on an unknown alias
        return ProviderChatModel(model=alias, backend=self, writer=writer, **kwargs)

    def _admit(self) -> None:
        """Take a slot and a token from the bucket, or answer 429."""
        with self._lock:
            self.requests += 1
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.requests_per_second)
            self._refilled = now
            if self._in_flight >= self.max_concurrency or self._tokens < 1:
                self.rate_limited += 1
                raise RateLimitError(retry_after=round(max(1 - self._tokens, 0) / self.requests_per_second, 3) or 0.05)
            self._tokens -= 1
            self._in_flight += 1

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def complete(self, alias: str, messages: Sequence[BaseMessage], writer: Writer) -> Completion:
        """Answer one chat request (or raise :class:`RateLimitError` / :class:`ContentPolicyError`)."""
        version = self.version(alias)
        key = "\n".join(f"{m.type}: {_text(m)}" for m in messages)
        rng = random.Random(f"{self.seed}|{version.name}|{key}")
        self._admit()
        try:
            time.sleep(rng.uniform(*self.latency))
            text = next((_text(m) for m in reversed(messages) if m.type == "human"), "")
            if any(phrase in text.lower() for phrase in self.flagged_phrases):
                with self._lock:
                    self.flagged += 1
                raise ContentPolicyError(f"req_{uuid.uuid4().hex[:20]}")
            request = Request(alias, messages, text, fields(text), rng)
            reply = writer(request)
            message = reply if isinstance(reply, AIMessage) else AIMessage(content=self._style(reply, version, request, key))
        finally:
            self._release()
        response_id = f"chatcmpl-{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}"
        return Completion(message, version, response_id, sum(_tokens(_text(m)) for m in messages), _tokens(_text(message)))

    def _style(self, sentences: Sequence[str], version: ModelVersion, request: Request, key: str) -> str:
        """The version's habits: refuse, or hedge, keep at most ``max_sentences`` of the draft, and
        soften the brief's deadline."""
        rng = random.Random(f"{self.seed}|{version.name}|style|{key}")
        draw = rng.random()
        if draw < version.refusal_rate:
            return rng.choice(REFUSALS)
        text = " ".join(list(sentences)[: version.max_sentences])
        if draw < version.refusal_rate + version.hedge_rate:
            text = text if text.endswith((".", "!", "?")) else text + "."
            audience = request.fields.get("audience", "you")
            text = f"{rng.choice(HEDGE_OPENINGS).format(audience=audience)} {text} {rng.choice(HEDGE_CLOSINGS)}"
        return _soften(text, request.fields.get("urgency", ""), version, f"{self.seed}|{version.name}|soften|{key}")


def _soften(text: str, deadline: str, version: ModelVersion, seed: str) -> str:
    """``text`` with ``deadline`` replaced by a softener in ``version.soften_rate`` of the cases
    (its own random stream, so the other habits draw as before)."""
    if not deadline or not version.soften_rate:
        return text
    rng = random.Random(seed)
    if rng.random() >= version.soften_rate:
        return text
    soft = rng.choice(SOFTENERS)
    return re.sub(re.escape(deadline), lambda m: soft[:1].upper() + soft[1:] if m.group(0)[:1].isupper() else soft,
                  text, flags=re.IGNORECASE)


class ProviderChatModel(BaseChatModel):
    """A LangChain chat model served by a :class:`Provider`: reports the alias as the requested
    model and the dated version, fingerprint and token usage in its response."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: str
    backend: Provider = Field(exclude=True)
    writer: Writer = Field(exclude=True)
    temperature: float = 0.7
    max_tokens: int = 512

    @property
    def _llm_type(self) -> str:
        return "simulated-provider"

    @property
    def _identifying_params(self) -> dict:
        return {"model": self.model, "temperature": self.temperature, "max_tokens": self.max_tokens}

    def _get_ls_params(self, stop: Optional[list[str]] = None, **kwargs: Any) -> LangSmithParams:
        return LangSmithParams(ls_provider="openai", ls_model_name=self.model, ls_model_type="chat",
                               ls_temperature=self.temperature, ls_max_tokens=self.max_tokens)

    def bind_tools(self, tools: Any, **kwargs: Any) -> "ProviderChatModel":
        return self  # the writer decides which of the agent's tools to call

    def _generate(self, messages: list[BaseMessage], stop: Optional[list[str]] = None,
                  run_manager: Optional[CallbackManagerForLLMRun] = None, **kwargs: Any) -> ChatResult:
        done = self.backend.complete(self.model, messages, self.writer)
        calls = done.message.tool_calls
        message = AIMessage(
            content=done.message.content, tool_calls=calls,
            response_metadata={"model_name": done.version.name, "system_fingerprint": done.version.fingerprint,
                               "finish_reason": "tool_calls" if calls else "stop", "id": done.response_id},
            usage_metadata={"input_tokens": done.input_tokens, "output_tokens": done.output_tokens,
                            "total_tokens": done.input_tokens + done.output_tokens},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])
