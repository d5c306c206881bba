"""The demo's judge model: a deterministic rule judge for the ``hedging`` and ``urgency_kept`` judges.

``[judges.hedging]`` and ``[judges.urgency_kept]`` in ``profiles.toml`` use
``model = "agenttrace_examples.marketing.judge:model"``: a real LangChain chat model
(:class:`agenttrace.testing.RuleJudgeModel`) that answers the built-in judge prompts by rule, so the
demo runs offline and its judge scores are reproducible. It reads only the judged copy
(:func:`agenttrace.testing.judged_output`) and labels:

- hedging: ``hedged`` when the copy qualifies itself the way the simulated provider's hedging
  release does ("may work", "might be", "possibly", "results can vary", "you may want to check"),
  else ``confident``;
- urgency kept: ``softened`` when the copy has a softener where a deadline belongs ("whenever
  you're ready", "no rush", "take your time", "any time that suits you"), ``kept`` when it states a
  deadline ("last chance", "ends tonight", "48 hours only", "expires at midnight", "only until
  Sunday"), else ``not_applicable``.
"""

from __future__ import annotations

import re

from agenttrace.testing import RuleJudgeModel, judged_output

from .catalog import URGENCY
from .provider import SOFTENERS

HEDGES = re.compile(r"\b(may work|might be|might|possibly|results can vary|you may want|you may wish|may change)\b",
                    re.IGNORECASE)
SOFT = re.compile("|".join(re.escape(s) for s in SOFTENERS), re.IGNORECASE)
DEADLINE = re.compile("|".join(re.escape(u) for u in URGENCY) + r"|last chance|ends tonight|expires", re.IGNORECASE)


def hedging(copy: str) -> tuple[str, str]:
    found = HEDGES.search(copy)
    if found:
        return "hedged", f"the copy qualifies itself ({found.group(0)!r})"
    return "confident", "the copy states the offer without qualifying it"


def urgency_kept(copy: str) -> tuple[str, str]:
    soft = SOFT.search(copy)
    if soft:
        return "softened", f"the deadline is replaced by {soft.group(0)!r}"
    deadline = DEADLINE.search(copy)
    if deadline:
        return "kept", f"the copy keeps the deadline ({deadline.group(0)!r})"
    return "not_applicable", "the copy names no deadline"


def decide(prompt: str) -> tuple[str, str]:
    """The label and explanation for one rendered judge prompt: the urgency judge's prompt offers the
    label ``softened``, the hedging judge's ``hedged``."""
    copy = judged_output(prompt)
    return urgency_kept(copy) if "softened" in prompt else hedging(copy)


def model() -> RuleJudgeModel:
    """The judge model of ``[judges.hedging]`` and ``[judges.urgency_kept]``."""
    return RuleJudgeModel(decide=decide)
