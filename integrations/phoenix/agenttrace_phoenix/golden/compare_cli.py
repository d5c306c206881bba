"""``agenttrace golden compare BASE CANDIDATE``: what changed between two golden runs.

Exit status: 0 when every gate passed (and, with ``--fail-on regression``, nothing regressed);
1 when a gate failed (or something regressed, with ``--fail-on regression``); 2 bad input (a run
that cannot be read, a gate that cannot be parsed or names an unknown evaluator).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from . import compare as cmp
from .compare_gates import GateError, evaluate_gates, parse_gate
from .results import DEFAULT_RESULTS_DIR, ResultsError, load_run


def _bad_input(message: str) -> None:
    """One line on stderr, exit 2."""
    click.echo(f"agenttrace golden compare: {message}", err=True)
    click.get_current_context().exit(2)


@click.command("compare")
@click.argument("base")
@click.argument("candidate")
@click.option("--suite", default=None, help="The suite, to name runs by name under --results-dir (else give file paths).")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS_DIR,
              show_default=True, help="Where golden run writes its results.")
@click.option("--gate", "gates", multiple=True, metavar="NAME OP NUMBER",
              help="A gate, e.g. trajectory_match>=0.9 or refusal_rate<=0.01; names: the evaluators (their mean on "
                   "the candidate), refusal_rate, pass_k, regressions. Repeatable.")
@click.option("--max-score-shift", type=click.FloatRange(min=0), default=None, metavar="SD",
              help="Fail when a score evaluator's mean moved the bad way by this many baseline SD or more "
                   "(and the move is significant), e.g. 0.15.")
@click.option("--shift-exclude", multiple=True, metavar="EVALUATOR",
              help="A score evaluator --max-score-shift leaves out (e.g. latency_ms, which follows the machine's "
                   "load). Repeatable.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=cmp.ALPHA,
              show_default=True, help="False discovery rate of the regression tests (Benjamini–Hochberg).")
@click.option("--min-effect", type=click.FloatRange(min=0), default=cmp.MIN_EFFECT_SD, show_default=True,
              metavar="SD", help="Smallest change of a score evaluator, in baseline SD, called a regression.")
@click.option("--fail-on", type=click.Choice(["gate", "regression", "never"]), default="gate", show_default=True,
              help="Exit 1 when a gate fails (gate), also when anything regressed (regression), or never.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the markdown report here.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the self-contained HTML report here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the comparison as JSON here.")
def compare(base: str, candidate: str, suite: Optional[str], results_dir: Path, gates: tuple,
            max_score_shift: Optional[float], shift_exclude: tuple, alpha: float, min_effect: float, fail_on: str,
            markdown_path: Optional[Path], html_path: Optional[Path], json_path: Optional[Path]) -> None:
    """Compare the golden run CANDIDATE with the baseline run BASE (file paths, or run names with
    --suite): per evaluator and per example improved / regressed / unchanged, tested across the
    repeats so noise between two runs of one model is not called a regression; then the gates.

    Exit status: 0 gates passed, 1 a gate failed (see --fail-on), 2 bad input."""
    from .report import phoenix_compare_url, terminal_text, write_markdown

    try:
        parsed = [parse_gate(g) for g in gates]
        runs = [load_run(r, suite=suite, results_dir=results_dir) for r in (base, candidate)]
        result = cmp.compare(*runs, alpha=alpha, min_effect_sd=min_effect)
        gate_results = evaluate_gates(result, parsed, max_score_shift, shift_exclude)
    except (GateError, ResultsError) as err:
        return _bad_input(str(err))
    url = phoenix_compare_url(result)
    click.echo(terminal_text(result, gate_results, url), nl=False)
    if markdown_path:
        click.echo(f"markdown report: {write_markdown(result, markdown_path, gate_results, url)}")
    if html_path:
        from .report_html import to_html

        click.echo(f"HTML report: {to_html(result, html_path, gate_results, url)}")
    if json_path:
        from .compare_json import write_json

        click.echo(f"JSON: {write_json(result, json_path, gate_results, url)}")
    failed = any(not g.passed for g in gate_results)
    if fail_on == "never":
        return
    if failed or (fail_on == "regression" and result.regressions):
        raise SystemExit(1)
