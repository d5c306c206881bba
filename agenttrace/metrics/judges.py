"""LLM-as-judge metrics: the ``[judges.<name>]`` tables of a profile file, and the Judge protocol.

A judge is a metric like ``refusal_similarity``: a profile uses it as ``"judge:<name>"``, the
engine samples steps for it (``judge_sample_rate``) and hands them to the judge worker
(:mod:`agenttrace.metrics.judge_worker`), never judging on the agent's thread. The judges
themselves (arize-phoenix-evals over a LangChain chat model) come from an integration, found through
the entry-point group ``agenttrace.judges`` (the Phoenix integration's ``phoenix``)::

    [judges.brand_voice]
    builtin = "brand_voice"
    guidelines_file = "brand.md"       # relative to the profile file
    model = "openai:gpt-4o-mini"       # init_chat_model's provider:model, or module:attr
    timeout = 20

    [judges.cta_clarity]
    template = "Is the call to action clear?\\n[BEGIN OUTPUT]\\n{output}\\n[END OUTPUT]"
    choices = { clear = 1.0, unclear = 0.0 }
    model = "mypkg.models:judge_model"

    [judge_limits]
    calls_per_minute = 60
    tokens_per_day = 2000000
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn, Optional, Protocol

BUILTIN_JUDGES = ("brand_voice", "hedging", "urgency_kept", "policy", "helpfulness")
JUDGE_KEYS = {"builtin", "template", "choices", "guidelines", "guidelines_file", "model", "timeout"}
LIMIT_KEYS = {"calls_per_minute", "tokens_per_day"}
JUDGE_PREFIX = "judge:"
TEMPLATE_FIELDS = {"input", "output", "guidelines", "reference"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class JudgeSpec:
    """One ``[judges.<name>]`` table of the profile file."""

    name: str
    builtin: Optional[str]
    template: Optional[str]
    choices: Optional[Mapping[str, float]]
    guidelines: Optional[str]
    model: str
    timeout: float = 30.0


@dataclass(frozen=True)
class JudgeLimits:
    """``[judge_limits]``: judge calls per minute (token bucket) and judge tokens per UTC day; None = no limit."""

    calls_per_minute: Optional[float] = None
    tokens_per_day: Optional[int] = None


@dataclass(frozen=True)
class JudgeResult:
    name: str
    score: Optional[float]
    label: Optional[str]
    explanation: Optional[str]
    tokens: int = 0
    error: Optional[str] = None
    skipped: Optional[str] = None  # "rate_limit" | "cost_cap" | "queue_full" | "timeout"


class Judge(Protocol):
    name: str

    def evaluate(self, input: str, output: str, reference: Optional[str] = None) -> JudgeResult: ...


def judge_names(metrics) -> tuple[str, ...]:
    """The judges a profile's metric list uses (``"judge:brand_voice"`` → ``"brand_voice"``)."""
    return tuple(m[len(JUDGE_PREFIX):] for m in metrics if m.startswith(JUDGE_PREFIX))


def _is_number(value: Any, lo: float = -math.inf, hi: float = math.inf) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and lo <= value <= hi)


def parse_judges(raw: Any, fail: Callable[..., NoReturn], base_dir: Optional[Path] = None) -> dict[str, JudgeSpec]:
    """Validate the ``judges`` table; ``fail(msg, *path)`` raises the ProfileError naming the line."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        fail("must be a table of judges ([judges.<name>])", "judges")
    specs: dict[str, JudgeSpec] = {}
    for name, body in raw.items():
        at = ("judges", name)
        if not _NAME.match(str(name)):
            fail("a judge name is letters, digits and underscores", *at)
        if not isinstance(body, Mapping):
            fail("a judge must be a table", *at)
        for key in body:
            if key not in JUDGE_KEYS:
                fail(f"unknown judge key (expected {', '.join(sorted(JUDGE_KEYS))})", *at, key)
        builtin, template, choices = body.get("builtin"), body.get("template"), body.get("choices")
        if builtin is not None and builtin not in BUILTIN_JUDGES:
            fail(f"unknown built-in judge {builtin!r} (built-in: {', '.join(BUILTIN_JUDGES)})", *at, "builtin")
        if (builtin is None) == (template is None):
            fail("a judge has either 'builtin' or 'template' (with 'choices')", *at)
        if template is not None:
            if not isinstance(template, str) or "{output}" not in template:
                fail("must be a prompt template (a string) with {output}", *at, "template")
            unknown = set(re.findall(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})", template)) - TEMPLATE_FIELDS
            if unknown:
                fail(f"unknown template field(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(TEMPLATE_FIELDS))})",
                     *at, "template")
            if not isinstance(choices, Mapping) or not choices or not all(
                    isinstance(k, str) and _is_number(v) for k, v in choices.items()):
                fail(f"must be a table of label = score (numbers), got {choices!r}", *at, "choices")
        elif choices is not None:
            fail("a built-in judge brings its own labels; 'choices' is for a custom template", *at, "choices")
        guidelines = body.get("guidelines")
        if guidelines is not None and not isinstance(guidelines, str):
            fail(f"must be text, got {guidelines!r}", *at, "guidelines")
        gfile = body.get("guidelines_file")
        if gfile is not None:
            if guidelines is not None:
                fail("give either 'guidelines' or 'guidelines_file'", *at, "guidelines_file")
            if not isinstance(gfile, str):
                fail(f"must be a file path, got {gfile!r}", *at, "guidelines_file")
            path = Path(gfile) if base_dir is None else base_dir / gfile
            try:
                guidelines = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                fail(f"cannot read {path}: {getattr(err, 'strerror', None) or err}", *at, "guidelines_file")
        if builtin == "brand_voice" and not guidelines:
            fail("the brand_voice judge needs 'guidelines' or 'guidelines_file'", *at)
        model = body.get("model")
        if not isinstance(model, str) or ":" not in model:
            fail(f"must be 'provider:model' (init_chat_model) or 'module:attr', got {model!r}", *at, "model")
        timeout = body.get("timeout", 30.0)
        if not _is_number(timeout) or timeout <= 0:
            fail(f"must be a positive number of seconds, got {timeout!r}", *at, "timeout")
        specs[str(name)] = JudgeSpec(str(name), builtin, template,
                                     {k: float(v) for k, v in choices.items()} if template is not None else None,
                                     guidelines, model, float(timeout))
    return specs


def parse_limits(raw: Any, fail: Callable[..., NoReturn]) -> JudgeLimits:
    if raw is None:
        return JudgeLimits()
    if not isinstance(raw, Mapping):
        fail("must be a table with calls_per_minute and tokens_per_day", "judge_limits")
    for key in raw:
        if key not in LIMIT_KEYS:
            fail(f"unknown key (expected {', '.join(sorted(LIMIT_KEYS))})", "judge_limits", key)
    cpm, tpd = raw.get("calls_per_minute"), raw.get("tokens_per_day")
    if cpm is not None and not (_is_number(cpm) and cpm > 0):
        fail(f"must be a positive number, got {cpm!r}", "judge_limits", "calls_per_minute")
    if tpd is not None and (isinstance(tpd, bool) or not isinstance(tpd, int) or tpd <= 0):
        fail(f"must be a positive integer, got {tpd!r}", "judge_limits", "tokens_per_day")
    return JudgeLimits(float(cpm) if cpm is not None else None, tpd)


def build_judges(specs: Mapping[str, JudgeSpec]) -> dict[str, Judge]:
    """The judges of ``specs``, made by the installed ``agenttrace.judges`` plug-in (the Phoenix
    integration's ``phoenix``; the first installed one when another is present)."""
    if not specs:
        return {}
    from .. import plugins

    found = plugins.available(plugins.JUDGES)
    factory = plugins.load(plugins.JUDGES, "phoenix" if "phoenix" in found or not found else next(iter(found)))
    return {name: factory(spec) for name, spec in specs.items()}
