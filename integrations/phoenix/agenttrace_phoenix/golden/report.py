"""The comparison of two golden runs as text: the terminal table (80 columns) and markdown.

Both lead with the per-evaluator table (base, candidate, shift in baseline SD, verdict), then the
regressed examples with one line of evidence each, then the gates, then the link to Phoenix's
comparison of the two experiments.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Optional, Sequence
from urllib.parse import quote, urlencode

from .compare import PASS_K, REGRESSED, Comparison

MAX_EXAMPLES = 10
VERDICT_MARK = {"regressed": "REGRESSED", "improved": "improved", "unchanged": "·"}


def num(value: Optional[float]) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    a = abs(value)
    return f"{value:.0f}" if a >= 100 else f"{value:.1f}" if a >= 10 else f"{value:.3f}"


def shift(value: Optional[float]) -> str:
    if value is None:
        return "–"
    return ("+inf" if value > 0 else "-inf") if math.isinf(value) else f"{value:+.2f}"


def pval(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.3g}"


def label(name: str) -> str:
    return "pass^k" if name == PASS_K else name


def phoenix_compare_url(comparison: Comparison) -> Optional[str]:
    """Phoenix's page comparing the two experiments (the base first, as Phoenix's base experiment):
    ``<url>/datasets/<dataset_id>/compare?experimentId=<base>&experimentId=<candidate>``; None when
    the runs were not recorded as experiments of one dataset on one Phoenix."""
    b, c = comparison.base.phoenix, comparison.candidate.phoenix
    if not (b.url and b.dataset_id and b.experiment_id and c.experiment_id) or b.dataset_id != c.dataset_id:
        return None
    if (c.url or b.url).rstrip("/") != b.url.rstrip("/"):
        return None
    query = urlencode([("experimentId", b.experiment_id), ("experimentId", c.experiment_id)])
    return f"{b.url.rstrip('/')}/datasets/{quote(str(b.dataset_id), safe='')}/compare?{query}"


def improved_line(comparison: Comparison) -> str:
    evaluators = [e.name for e in comparison.evaluators if e.verdict == "improved"]
    examples = sum(1 for x in comparison.examples if x.verdict == "improved")
    return f"{examples} example(s), {len(evaluators)} evaluator(s){' (' + ', '.join(evaluators) + ')' if evaluators else ''}"


def run_line(role: str, run) -> str:
    overrides = ", ".join(f"{k}={v}" for k, v in (run.model_overrides or {}).items())
    return (f"{role}: {run.suite}/{run.run} ({run.created or 'no date'}, k={run.repeats}, {len(run.examples)} examples"
            + (f", {overrides}" if overrides else "") + ")")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def terminal_text(comparison: Comparison, gates: Sequence = (), url: Optional[str] = None,
                  max_examples: int = MAX_EXAMPLES) -> str:
    """The terminal report (80 columns); the ``max_examples`` largest regressed examples (by their
    change in baseline SD) — the markdown and HTML reports list them all."""
    c = comparison
    lines = [*textwrap.wrap(run_line("base", c.base), 80, subsequent_indent="    "),
             *textwrap.wrap(run_line("candidate", c.candidate), 80, subsequent_indent="    "), ""]
    lines.append(f"{'evaluator':<24} {'base':>8} {'candidate':>9} {'shift SD':>8} {'q':>6}  verdict")
    for e in c.evaluators:
        lines.append(f"{_clip(label(e.name), 24):<24} {num(e.base_mean):>8} {num(e.candidate_mean):>9} "
                     f"{shift(e.shift_sd):>8} {e.q_value:>6.3f}  {VERDICT_MARK[e.verdict]}")
    if c.refusal_rate[0] is not None:
        lines.append(f"{'refusal_rate':<24} {num(c.refusal_rate[0]):>8} {num(c.refusal_rate[1]):>9}")
    regressed = c.regressed_examples
    lines += ["", f"regressed examples: {len(regressed)}" + (" (none)" if not regressed else "")
              + (f", the {max_examples} largest:" if len(regressed) > max_examples else "")]
    for x in sorted(regressed, key=lambda x: -abs(x.candidate_mean - x.base_mean) / (c.base_sd.get(x.evaluator) or 1))[:max_examples]:
        lines.append(_clip(f"  {x.example_id}  {x.evaluator}  {num(x.base_mean)}→{num(x.candidate_mean)}  "
                           f"[{x.basis} test]", 80))
        if x.evidence:
            lines.append("    " + _clip(x.evidence, 76))
    if gates:
        lines += ["", "gates:"]
        for g in gates:
            lines.append(_clip(f"  {'PASS' if g.passed else 'FAIL'}  {g.gate}  (value {num(g.value)})", 80))
            if g.detail and not g.passed:
                lines.append("    " + _clip(g.detail, 76))
    for note in c.notes:
        lines.append(_clip(f"note: {note}", 80))
    lines += ["", f"regressions: {c.regressions} (alpha {c.alpha:g}, min effect {c.min_effect_sd:g} SD)",
              _clip(f"improved: {improved_line(c)}", 80)]
    lines.append(f"Phoenix comparison: {url}" if url else "Phoenix comparison: none (not experiments of one dataset)")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(comparison: Comparison, gates: Sequence = (), url: Optional[str] = None) -> str:
    c = comparison
    out = [f"# Golden comparison: {c.base.suite}", "", f"- {run_line('base', c.base)}",
           f"- {run_line('candidate', c.candidate)}",
           f"- regressions: **{c.regressions}** (false discovery rate {c.alpha:g}, minimum effect "
           f"{c.min_effect_sd:g} baseline SD)", f"- improved: {improved_line(c)}"]
    if url:
        out.append(f"- [Phoenix: the two experiments compared]({url})")
    out += ["", "## Evaluators", "",
            "| evaluator | kind | base (95% CI) | candidate (95% CI) | shift (baseline SD) | p | q (BH) | verdict |",
            "|---|---|---|---|---|---|---|---|"]
    for e in c.evaluators:
        ci = lambda m, i: f"{num(m)} ({num(i[0])}–{num(i[1])})"  # noqa: E731
        out.append(f"| {label(e.name)} | {e.kind} | {ci(e.base_mean, e.base_interval)} | "
                   f"{ci(e.candidate_mean, e.candidate_interval)} | {shift(e.shift_sd)} | {pval(e.p_value)} | "
                   f"{e.q_value:.3g} | {'**regressed**' if e.verdict == REGRESSED else e.verdict} |")
    if c.refusal_rate[0] is not None:
        out += ["", f"Refusal rate: {num(c.refusal_rate[0])} → {num(c.refusal_rate[1])}"]
    out += ["", "## Regressed examples", ""]
    if c.regressed_examples:
        out += ["| example | evaluator | base → candidate | basis | evidence |", "|---|---|---|---|---|"]
        out += [f"| {_md(x.example_id)} | {x.evaluator} | {num(x.base_mean)} → {num(x.candidate_mean)} | {x.basis} | "
                f"{_md(x.evidence)} |" for x in c.regressed_examples]
    else:
        out.append("None.")
    if gates:
        out += ["", "## Gates", "", "| gate | value | result | detail |", "|---|---|---|---|"]
        out += [f"| `{g.gate}` | {num(g.value)} | {'pass' if g.passed else '**FAIL**'} | {_md(g.detail)} |" for g in gates]
    if c.notes:
        out += ["", "## Notes", ""] + [f"- {_md(n)}" for n in c.notes]
    return "\n".join(out) + "\n"


def write_markdown(comparison: Comparison, path: Path, gates: Sequence = (), url: Optional[str] = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(comparison, gates, url), encoding="utf-8")
    return path
