"""Golden-suite agent factories: the demo's agents for ``agenttrace golden run --agent``.

``agenttrace golden run email-suite --agent agenttrace_examples.marketing.golden:email_agent
--model-override gpt-4o-mini=gpt-4o-mini-2024-07-18`` calls :func:`email_agent` with
``model_overrides={"gpt-4o-mini": "gpt-4o-mini-2024-07-18"}`` and runs what it returns on every
example's input (the e-mail graph's input: customer, segment_id, product, benefit, template,
urgency — what ``golden create --from-phoenix`` takes from the traced runs). The simulated provider
answers each overridden alias with the given dated version (:meth:`Provider.pin`), so a suite can be
run on the version before the demo's alias update and on the one after it.
"""

from __future__ import annotations

from typing import Mapping, Optional

from .agents import agent
from .provider import Provider


def provider(model_overrides: Optional[Mapping[str, str]] = None, seed: int = 0) -> Provider:
    """A simulated provider with every alias of ``model_overrides`` pinned to its version."""
    backend = Provider(seed)
    for alias, version in (model_overrides or {}).items():
        backend.pin(alias, version)
    return backend


def email_agent(model_overrides: Optional[Mapping[str, str]] = None):
    """The e-mail agent (``email-personalizer``) on the simulated provider, its aliases pinned by
    ``model_overrides`` (``{alias: dated version}``; ValueError for an unknown alias or version)."""
    return agent("email").build(provider=provider(model_overrides))
