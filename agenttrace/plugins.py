"""Integrations plug into the core through entry points; the core never imports them by name.

Groups (declared in each integration's ``pyproject.toml``):

- ``agenttrace.commands``: click commands added to the ``agenttrace`` CLI (``drift``, ``phoenix``, ...);
- ``agenttrace.scorers``: metric scorers for the heavy metrics of a profile (``langkit``);
- ``agenttrace.profile_stores``: stores for trajectory profiles given as a directory (``whylogs``);
- ``agenttrace.score_sinks``: writers of metric scores beside the spans (``phoenix``: span and
  trace annotations), see :mod:`agenttrace.score_sinks`;
- ``agenttrace.dead_letter_stores``: dead-letter stores for a database URL (``postgresql``), see
  :mod:`agenttrace.dead_letter_store`;
- ``agenttrace.alert_stores``: alert state/history/outbox stores for a database URL (``postgresql``),
  see :mod:`agenttrace.alerts.store`;
- ``agenttrace.judges``: LLM judges for the ``judge:<name>`` metrics of a profile (``phoenix``:
  arize-phoenix-evals over a LangChain chat model), see :mod:`agenttrace.metrics.judges`.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

COMMANDS = "agenttrace.commands"
SCORERS = "agenttrace.scorers"
PROFILE_STORES = "agenttrace.profile_stores"
SCORE_SINKS = "agenttrace.score_sinks"
DEAD_LETTER_STORES = "agenttrace.dead_letter_stores"
ALERT_STORES = "agenttrace.alert_stores"
JUDGES = "agenttrace.judges"

# What to install when a plug-in is missing: (group, name) → the integration that provides it
PROVIDERS = {
    (COMMANDS, "drift"): "the whylogs integration: pip install -e integrations/whylogs",
    (COMMANDS, "watch"): "the whylogs integration: pip install -e integrations/whylogs",
    (COMMANDS, "phoenix"): "the Phoenix integration: pip install -e integrations/phoenix",
    (COMMANDS, "golden"): "the Phoenix integration: pip install -e integrations/phoenix",
    (SCORERS, "langkit"): "the LangKit integration: pip install torch==2.13.0 && pip install -e integrations/langkit",
    (PROFILE_STORES, "whylogs"): "the whylogs integration: pip install -e integrations/whylogs (agenttrace-whylogs)",
    (DEAD_LETTER_STORES, "postgresql"): "the PostgreSQL integration: pip install -e integrations/postgres",
    (ALERT_STORES, "postgresql"): "the PostgreSQL integration: pip install -e integrations/postgres",
    (JUDGES, "phoenix"): "the Phoenix integration (arize-phoenix-evals): pip install -e integrations/phoenix",
}


class PluginMissing(LookupError):
    """No installed integration provides this plug-in; the message says what to install."""


def available(group: str) -> dict[str, EntryPoint]:
    """The installed plug-ins of ``group`` by name (not loaded)."""
    return {ep.name: ep for ep in entry_points(group=group)}


def load(group: str, name: str) -> Any:
    """The object the plug-in ``name`` of ``group`` points at; :class:`PluginMissing` if none is installed."""
    ep = available(group).get(name)
    if ep is None:
        provider = PROVIDERS.get((group, name))
        raise PluginMissing(f"{name!r} ({group}) is not installed" + (f": it comes with {provider}" if provider else ""))
    return ep.load()
