"""The comparison of two golden runs as one self-contained HTML page (inline CSS, the plot as a
base64 PNG, no JavaScript): the evaluators' base vs candidate means with 95% intervals, the
evaluator table, the regressed examples with their evidence, the gates, the Phoenix link."""

from __future__ import annotations

import base64
import html
import io
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

from .compare import Comparison
from .report import label, num, pval, run_line, shift

COLOURS = {"regressed": "#c62828", "improved": "#2e7d32", "unchanged": "#555555"}
_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 24px auto;
       max-width: 1100px; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } td.num { text-align: right; white-space: nowrap; }
.regressed { color: #c62828; font-weight: 600; } .improved { color: #2e7d32; } .fail { color: #c62828; font-weight: 600; }
.meta { color: #555; } img { max-width: 100%; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def evaluators_plot(comparison: Comparison) -> Optional[str]:
    """Small multiples, one per evaluator: base and candidate means with their 95% intervals (over
    the per-example means), coloured by verdict. A base64 PNG, or None when nothing can be drawn."""
    rows = [e for e in comparison.evaluators if e.base_mean is not None and e.candidate_mean is not None]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(4, len(rows))
    nrows = math.ceil(len(rows) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.3 * nrows), squeeze=False)
    for ax in axes.flat[len(rows):]:
        ax.set_visible(False)
    for ax, e in zip(axes.flat, rows):
        colour = COLOURS[e.verdict]
        for x, mean, ci, c in ((0, e.base_mean, e.base_interval, "#607d8b"), (1, e.candidate_mean, e.candidate_interval, colour)):
            lo, hi = ci
            err = [[mean - lo], [hi - mean]] if all(map(math.isfinite, (lo, hi))) else None
            ax.errorbar([x], [mean], yerr=err, fmt="o", color=c, capsize=4)
        if e.kind == "pass":
            ax.set_ylim(-0.05, 1.05)
        ax.set_xticks([0, 1], ["base", "candidate"])
        ax.set_xlim(-0.6, 1.6)
        ax.set_title(f"{label(e.name)}\n{e.verdict}, shift {shift(e.shift_sd)} SD", fontsize=9, color=colour)
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _table(comparison: Comparison) -> str:
    rows = []
    for e in comparison.evaluators:
        ci = lambda m, i: f"{num(m)} <span class=meta>({num(i[0])}–{num(i[1])})</span>"  # noqa: E731
        rows.append(f"<tr><td>{_e(label(e.name))}</td><td>{_e(e.kind)}</td><td class=num>{ci(e.base_mean, e.base_interval)}</td>"
                    f"<td class=num>{ci(e.candidate_mean, e.candidate_interval)}</td><td class=num>{_e(shift(e.shift_sd))}</td>"
                    f"<td class=num>{pval(e.p_value)}</td><td class=num>{e.q_value:.3g}</td>"
                    f"<td class={_e(e.verdict)}>{_e(e.verdict)}</td></tr>")
    return ("<table><thead><tr><th>evaluator</th><th>kind</th><th>base (95% CI)</th><th>candidate (95% CI)</th>"
            "<th>shift (baseline SD)</th><th>p</th><th>q (BH)</th><th>verdict</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _regressions(comparison: Comparison) -> str:
    found = comparison.regressed_examples
    if not found:
        return "<p>None.</p>"
    rows = "".join(f"<tr><td>{_e(x.example_id)}</td><td>{_e(x.evaluator)}</td><td class=num>{num(x.base_mean)} → "
                   f"{num(x.candidate_mean)}</td><td>{_e(x.basis)}</td><td>{_e(x.evidence)}</td></tr>" for x in found)
    return ("<table><thead><tr><th>example</th><th>evaluator</th><th>base → candidate</th><th>basis</th>"
            f"<th>evidence</th></tr></thead><tbody>{rows}</tbody></table>")


def _gates(gates: Sequence) -> str:
    rows = "".join(f"<tr><td><code>{_e(g.gate)}</code></td><td class=num>{num(g.value)}</td>"
                   f"<td class={'improved' if g.passed else 'fail'}>{'pass' if g.passed else 'FAIL'}</td>"
                   f"<td>{_e(g.detail)}</td></tr>" for g in gates)
    return ("<h2>Gates</h2><table><thead><tr><th>gate</th><th>value</th><th>result</th><th>detail</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>") if gates else ""


def to_html(comparison: Comparison, path: Path, gates: Sequence = (), url: Optional[str] = None) -> Path:
    c = comparison
    png = evaluators_plot(c)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>Golden comparison: {_e(c.base.suite)}</title><style>{_CSS}</style></head><body>",
             f"<h1>Golden comparison: {_e(c.base.suite)}</h1>",
             f'<p class=meta>{_e(run_line("base", c.base))}<br>{_e(run_line("candidate", c.candidate))}<br>'
             f'generated {_e(datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))}</p>',
             f"<p>Regressions: <b class={'regressed' if c.regressions else 'improved'}>{c.regressions}</b> "
             f"(false discovery rate {c.alpha:g}, minimum effect {c.min_effect_sd:g} baseline SD)"
             + (f' · <a href="{_e(url)}">the two experiments compared in Phoenix</a>' if url else "") + "</p>"]
    if png:
        parts.append(f'<figure><img src="data:image/png;base64,{png}" alt="base vs candidate per evaluator">'
                     "<figcaption class=meta>Mean per evaluator, base (grey) and candidate (coloured by verdict), "
                     "with 95% intervals over the per-example means.</figcaption></figure>")
    parts += ["<h2>Evaluators</h2>", _table(c), "<h2>Regressed examples</h2>", _regressions(c), _gates(gates)]
    if c.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in c.notes) + "</ul>")
    parts.append("</body></html>")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(p for p in parts if p) + "\n", encoding="utf-8")
    return path
