"""The demo's four agents, each on a real model or on the simulated provider's models."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Mapping, Optional

from langchain_core.language_models import BaseChatModel

from . import ad_copy, email, router, support
from .jobs import Job, Outcome, Progress
from .provider import Provider


@dataclass(frozen=True)
class Agent:
    name: str
    description: str
    default_runs: int  # workload items at scale 1 (conversations for the support bot)
    module: ModuleType
    aliases: tuple[str, ...] = ("gpt-4o-mini",)  # the simulated models its build() takes, in order
    min_chunk: int = 1  # with simulated days: the smallest share of its workload run at one time (batch jobs)

    def build(self, llm: Optional[BaseChatModel] = None, provider: Optional[Provider] = None):
        """The agent's compiled graph on ``llm``, else on ``provider``'s models for :attr:`aliases`."""
        if llm is not None:
            return self.module.build(llm)
        if provider is None:
            raise ValueError("pass a chat model (llm=) or a simulated Provider (provider=)")
        return self.module.build(*(provider.chat_model(alias, self.module.writer) for alias in self.aliases))

    def workload(self, count: int, seed: int = 0) -> list[Job]:
        return self.module.workload(count, seed)

    def run(self, graph: Any, jobs: list[Job], config: Optional[Mapping[str, Any]] = None,
            progress: Optional[Progress] = None) -> Outcome:
        return self.module.run(graph, jobs, config, progress)


AGENTS = (
    Agent("email", "e-mail personalisation: segment → subject line → opening copy, labelled by segment and "
          "prompt-template version", 120, email),
    Agent("ad-copy", "ad-copy batch: hundreds of variants written concurrently, 429s retried with backoff and "
          "jitter", 240, ad_copy, min_chunk=40),
    Agent("support", "support chatbot: multi-turn conversations (thread ids) with order-status and return tools",
          40, support),
    Agent("router", "model router: a complexity score picks gpt-4o-mini or gpt-4.1 through a conditional edge",
          120, router, ("gpt-4o-mini", "gpt-4.1")),
)


def agent(name: str) -> Agent:
    """The agent called ``name`` (ValueError listing the known ones otherwise)."""
    for a in AGENTS:
        if a.name == name:
            return a
    raise ValueError(f"unknown agent {name!r}; choose from {', '.join(a.name for a in AGENTS)}")
