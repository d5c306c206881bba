"""``agenttrace drift``: compare a baseline window with a current window of trajectory profiles.

Reads the whylogs profile store (written by ``agenttrace.configure(profile_store=...)``) or, when
there is none, profiles a Phoenix project's spans; runs the drift rules
(``rules``); prints a ranked table; writes JSON and HTML reports; annotates the
affected traces in Phoenix; and exits 1 when an alert fires (for cron and CI).

Exit status: 0 no finding at or above ``--fail-on``; 1 one (or more) did; 2 bad input (a missing
or empty store, a window without data, an unknown segment key, Phoenix unreachable) — reported on
one line starting with ``error:``.

Plugged into the ``agenttrace`` command through the ``agenttrace.commands`` entry-point group; the
Phoenix parts need the Phoenix integration (``agenttrace_phoenix``), imported only when used.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Optional

import click

from .cli_common import (DEFAULT_STORE, MAX_DAYS, SEVERITY_RANK, STORE_ENV, BadInput, Finite, OneLineCommand, fail,
                         has_profiles, open_phoenix, open_store, parse_range, parse_time, phoenix_url, rule_options,
                         warn)


def phoenix_window(times: list[Optional[datetime]], days: list[float]) -> timedelta:
    """Profile window for profiles built from Phoenix: a day (few profiles: quick to build and
    read), or an hour when a window boundary asked for is not at midnight UTC."""
    fine = any(t is not None and (t.hour, t.minute, t.second, t.microsecond) != (0, 0, 0, 0) for t in times)
    return timedelta(hours=1) if fine or any(not float(d).is_integer() for d in days) else timedelta(days=1)


def store_from_phoenix(phoenix: Any, project: str, url: str, root: Path, segment_keys: tuple[str, ...],
                       progress: bool, window: timedelta = timedelta(hours=1)) -> Any:
    from agenttrace_phoenix import PhoenixError

    from .from_phoenix import build_store_from_phoenix

    try:
        store = build_store_from_phoenix(phoenix, project, root, window=window, segment_keys=segment_keys,
                                         progress=progress)
    except PhoenixError as err:
        raise BadInput(f"{err} (is Phoenix running there? `agenttrace phoenix start`, or pass --phoenix-url)") from None
    if store.time_range() is None:
        raise BadInput(f"Phoenix project {project!r} at {url} has no agent runs traced by agenttrace "
                       "(check the project name in the Phoenix UI)")
    return store


_HINTS = (("unknown segment key", "pass one of those to --segment-key, or leave it out to compare every key"),
          ("no data in the", "move the windows onto that data with --end, or --baseline/--current START..END"),
          ("unknown feature", ""))


def _with_hint(message: str) -> str:
    """A rules error, plus what to do about it on the command line."""
    for start, hint in _HINTS:
        if start in message and hint:
            return f"{message} — {hint}"
    return message


def exit_status(findings: list[Any], fail_on: str) -> int:
    if fail_on == "never":
        return 0
    worst = max((SEVERITY_RANK.get(f.severity, 0) for f in findings), default=-1)
    return 1 if worst >= SEVERITY_RANK[fail_on] else 0


# --- the command ------------------------------------------------------------------------------


@click.command(cls=OneLineCommand)
@click.option("--store", "store_path", type=click.Path(path_type=Path), envvar=STORE_ENV, show_envvar=True,
              default=str(DEFAULT_STORE), show_default=True,
              help="Profile store directory, as written by agenttrace.configure(profile_store=...).")
@click.option("--phoenix-project", metavar="NAME",
              help="Phoenix project of the traced runs. When the store is missing or empty (or with "
                   "--from-phoenix) profiles are built from its spans for this run; findings are written back to "
                   "its traces as annotations (see --annotate).")
@click.option("--phoenix-url", metavar="URL",
              help="Phoenix base URL (default: PHOENIX_COLLECTOR_ENDPOINT, else the Phoenix started by "
                   "`agenttrace phoenix start`, else http://localhost:6006).")
@click.option("--from-phoenix", is_flag=True,
              help="Build the profiles from the Phoenix project's spans even if the store has profiles "
                   "(the store is not modified).")
@click.option("--end", "end_text", metavar="TIME",
              help="End of the current window, ISO date or date-time, UTC unless it has an offset (default: the "
                   "end of the latest profiled window).")
@click.option("--baseline-days", type=Finite(0, MAX_DAYS, min_open=True), metavar="DAYS", default=30, show_default=True,
              help="Length of the baseline window, which ends where the current window starts.")
@click.option("--current-days", type=Finite(0, MAX_DAYS, min_open=True), metavar="DAYS", default=7, show_default=True,
              help="Length of the current window, which ends at --end.")
@click.option("--baseline", "baseline_text", metavar="START..END",
              help="Explicit baseline window (ISO dates or date-times), instead of --baseline-days.")
@click.option("--current", "current_text", metavar="START..END",
              help="Explicit current window (ISO dates or date-times), instead of --current-days and --end.")
@rule_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True,
              help="What to print on stdout: the table (incidents, then findings, to the terminal's width or COLUMNS), "
                   "the JSON report or Markdown. With json or markdown, status lines go to stderr.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Write the JSON report here, '-' for stdout (as --format json) (default: "
                   ".agenttrace/reports/drift-<UTC time>.json).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the self-contained HTML report here (default: .agenttrace/reports/drift-<UTC time>.html).")
@click.option("--no-reports", is_flag=True, help="Write neither report file (unless --json/--html name one).")
@click.option("--annotate/--no-annotate", default=None,
              help="Write each finding to Phoenix as an annotation on the root spans of the affected runs "
                   "(default: on when --phoenix-project is given).")
@click.option("--fail-on", type=click.Choice(["alert", "warning", "never"]), default="alert", show_default=True,
              help="Exit with status 1 when a finding of this severity (or worse) is found; 'never' always exits 0 "
                   "on good input. Bad input exits 2.")
@click.option("--top", type=click.IntRange(min=0), default=30, show_default=True, metavar="N",
              help="Show the N highest-ranked findings in the terminal (0: all); the reports always have all.")
@click.option("--no-progress", is_flag=True,
              help="Show no progress bars (profiling a Phoenix project's spans, drawing the HTML report).")
@click.option("--profiles", "profiles_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="FILE", help="The metric profile file the runs were scored with: its thresholds and floors "
                                   "are drawn on the HTML report's score plots.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar="AGENTTRACE_CONFIG",
              show_envvar=True, help="TOML config file whose [golden.suites.<name>] tables name the golden suites a "
                                     "model version change's action runs (default: agenttrace.toml when it exists; "
                                     "docs/golden.md).")
@click.option("--run-golden", is_flag=True,
              help="For each model version change, run the matching golden suites on the old and the new version "
                   "and compare them (the commands its action names); a failing command or gate makes the exit "
                   "status 1.")
def drift(store_path: Path, phoenix_project: Optional[str], phoenix_url: Optional[str], from_phoenix: bool,
          end_text: Optional[str], baseline_days: float, current_days: float, baseline_text: Optional[str],
          current_text: Optional[str], segment_keys: tuple[str, ...], score_shift: float, refusal_abs: float,
          refusal_audit: float, refusal_provider: float, min_rows: int, json_path: Optional[Path],
          html_path: Optional[Path], no_reports: bool, annotate: Optional[bool], fail_on: str, top: int,
          no_progress: bool, fmt: str, profiles_path: Optional[Path], config_path: Optional[Path],
          run_golden: bool) -> None:
    """Find drift in your agents' runs: a current window (default: the last 7
    days) against a baseline (the 30 days before it), overall and per segment,
    from whylogs profiles of every run.

    Rules: distribution drift of numeric features (whylogs KS / Hellinger),
    mean shift of evaluation scores, refusal rate (absolute and relative),
    trajectory shape (tool sequences, route paths, step counts) and model
    version changes behind one requested model (the alias problem).

    Exit status: 0 when nothing at or above --fail-on was found, 1 when it was,
    2 on bad input (one line on stderr says what is wrong and what to do).

    \b
    Examples:
      agenttrace drift
      agenttrace drift --phoenix-project support-bot
      agenttrace drift --current 2026-11-18..2026-11-25 \\
                       --baseline 2026-10-01..2026-11-01
    """
    try:
        code = run(store_path=store_path, phoenix_project=phoenix_project, phoenix_url_option=phoenix_url,
                   from_phoenix=from_phoenix, end_text=end_text, baseline_days=baseline_days,
                   current_days=current_days, baseline_text=baseline_text, current_text=current_text,
                   segment_keys=segment_keys, score_shift=score_shift, refusal_abs=refusal_abs,
                   refusal_audit=refusal_audit, refusal_provider=refusal_provider, min_rows=min_rows,
                   json_path=json_path, html_path=html_path, no_reports=no_reports, annotate=annotate,
                   fail_on=fail_on, top=top, progress=not no_progress, fmt=fmt, profiles_path=profiles_path,
                   fmt_given=click.get_current_context().get_parameter_source("fmt").name != "DEFAULT",
                   config_path=config_path, run_golden=run_golden)
    except BadInput as err:
        fail(str(err))
    click.get_current_context().exit(code)


def run(*, store_path: Path, phoenix_project: Optional[str], phoenix_url_option: Optional[str], from_phoenix: bool,
        end_text: Optional[str], baseline_days: float, current_days: float, baseline_text: Optional[str],
        current_text: Optional[str], segment_keys: tuple[str, ...], score_shift: float, refusal_abs: float,
        refusal_audit: float, refusal_provider: float, min_rows: int, json_path: Optional[Path],
        html_path: Optional[Path], no_reports: bool, annotate: Optional[bool], fail_on: str, top: int = 30,
        progress: bool = True, fmt: str = "table", fmt_given: bool = False,
        profiles_path: Optional[Path] = None, config_path: Optional[Path] = None, run_golden: bool = False) -> int:
    from .golden_action import read_suites
    from .outputs import DASH, output_format, status_printer

    try:
        fmt = output_format(fmt, fmt_given, json_path, html_path)
    except ValueError as err:
        raise BadInput(str(err)) from None
    if fmt != "table":
        json_path = None if json_path == DASH else json_path
    say = status_printer(fmt)
    end = parse_time(end_text, "--end") if end_text else None
    baseline = parse_range(baseline_text, "--baseline")
    current = parse_range(current_text, "--current")
    if from_phoenix and not phoenix_project:
        raise BadInput("--from-phoenix needs --phoenix-project NAME")
    if annotate and not phoenix_project:
        raise BadInput("--annotate needs --phoenix-project NAME (the project whose traces get the annotations)")
    annotate = bool(phoenix_project) if annotate is None else annotate
    suites = read_suites(config_path, explicit=config_path is not None)
    from . import report, rules  # whylogs, matplotlib: imported when the command runs, not for --help
    from .outputs import write_outputs

    phoenix = url = None
    if phoenix_project:
        url = phoenix_url(phoenix_url_option)
        phoenix = open_phoenix(phoenix_project, url)

    with tempfile.TemporaryDirectory(prefix="agenttrace-drift-") as scratch:
        if phoenix_project and (from_phoenix or not has_profiles(store_path)):
            from agenttrace.trajectory import DEFAULT_SEGMENT_KEYS

            keys = tuple(dict.fromkeys([*DEFAULT_SEGMENT_KEYS, *segment_keys]))
            why = "" if from_phoenix else f" (no profiles at {store_path})"
            say(f"profiling the runs of Phoenix project {phoenix_project!r} at {url}{why}")
            window = phoenix_window([end, *(baseline or ()), *(current or ())], [baseline_days, current_days])
            store = store_from_phoenix(phoenix, phoenix_project, url, Path(scratch) / "profiles", keys, progress,
                                       window)
        else:
            store = open_store(store_path)

        config = rules.DriftConfig(baseline=timedelta(days=baseline_days), current=timedelta(days=current_days),
                                   score_shift_sd=score_shift, refusal_abs=refusal_abs, refusal_audit_rel=refusal_audit,
                                   refusal_provider_rel=refusal_provider, min_rows=min_rows,
                                   segment_keys=list(segment_keys) or None, golden_suites=suites)
        try:
            result = rules.detect(store, end=end, config=config, baseline=baseline, current=current)
        except rules.DriftError as err:
            raise BadInput(_with_hint(str(err))) from None

        reported = len(store.problems)
        for problem in store.problems:  # odd or damaged files: skipped, the rest was read
            warn(f"profile store {store.root}: {problem}")
        try:
            write_outputs(result, store, fmt=fmt, json_path=json_path, html_path=html_path, no_reports=no_reports,
                          top=top, progress=progress, say=say,
                          html_options={"config": config, "profiles": profiles_path, "phoenix_url": url,
                                        "phoenix_project": phoenix_project})
        except OSError as err:
            raise BadInput(f"cannot write the report: {err}") from None

        if annotate and result.findings:
            import httpx
            from agenttrace_phoenix import PhoenixError
            from agenttrace_phoenix.annotations import annotate_findings

            bar = report.progress_bar(progress, desc="annotating the affected runs in Phoenix", unit=" spans")
            try:
                count = annotate_findings(phoenix, phoenix_project, result.findings, incidents=result.incidents,
                                          segment_keys=tuple(store.segments()),
                                          on_span=(lambda _: bar.update()) if bar is not None else None)
            except (PhoenixError, httpx.HTTPError) as err:
                raise BadInput(f"writing the findings to Phoenix at {url} failed: {err}") from None
            finally:
                if bar is not None:
                    bar.close()
            names = list(dict.fromkeys(f.annotation for f in result.findings))
            say(f"Phoenix: {count} annotation(s) on the runs that show the findings in {phoenix_project!r} (on their root "
                "spans and traces); filter them in the UI with " + " or ".join(f"annotations['{n}']" for n in names))
        for problem in store.problems[reported:]:  # found while drawing the report
            warn(f"profile store {store.root}: {problem}")
    from .golden_cli import golden_step

    golden = golden_step(result.findings, suites, run_golden, say)
    return max(exit_status(result.findings, fail_on), golden)
