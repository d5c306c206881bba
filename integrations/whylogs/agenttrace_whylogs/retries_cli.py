"""``agenttrace retries``: retry amplification and exhausted-retry rate over time, and the failed
runs clustered by cause (error template, HTTP status, provider/model; broken down by prompt
template, client category and segment), each classified as content policy or infrastructure with
its next step.

Sources: the over-time figures come from the profile store (``--store``) when it has profiles,
else from the runs read from ``--phoenix-project``. The clusters need error messages, which the
profile store does not keep (it holds sketches): they are read from the Phoenix project's spans.
Exit status: 0; 2 bad input (one ``error:`` line).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Optional

import click

from .cli_common import (DEFAULT_STORE, STORE_ENV, BadInput, OneLineCommand, has_profiles, fail, open_phoenix, parse_range,
                  phoenix_url)


def _phoenix(project: str, url_option: Optional[str]) -> Any:
    return open_phoenix(project, phoenix_url(url_option))


def analyse(*, store: Any = None, phoenix: Any = None, project: Optional[str] = None,
            window: Optional[tuple[datetime, datetime]] = None, bucket: timedelta = timedelta(hours=1)):
    """(clusters — None without Phoenix —, timeline, source, notes) from a profile store and/or a
    Phoenix project."""
    from .retry_clusters import cluster
    from .retry_failures import from_phoenix_spans
    from .retry_timeline import from_runs, from_store

    notes: list[str] = []
    runs, failures, timeline, sources = [], [], [], []
    if phoenix is not None:
        from agenttrace_phoenix import PhoenixError

        start, end = window if window else (None, None)
        try:
            spans = list(phoenix.iter_spans(project, start=start, end=end))
        except PhoenixError as err:
            raise BadInput(f"{err} (is Phoenix running there? `agenttrace phoenix start`, or pass --phoenix-url)") from None
        runs, failures = from_phoenix_spans(spans)
        sources.append(f"Phoenix project {project}")
    if store is not None:
        lo, hi = window if window else store.time_range()
        timeline = from_store(store, lo, hi + timedelta(microseconds=1) if window is None else hi)
        sources.insert(0, f"profile store {store.root}")
    elif runs:
        timeline = from_runs(runs, bucket)
    if phoenix is None:
        notes.append("no failure clusters: error messages are read from spans, pass --phoenix-project NAME")
    return (cluster(failures, runs) if phoenix is not None else None), timeline, " + ".join(sources), notes


@click.command(cls=OneLineCommand)
@click.option("--store", "store_path", type=click.Path(path_type=Path), envvar=STORE_ENV, show_envvar=True,
              default=DEFAULT_STORE, show_default=True, help="Profile store: retries over time per window.")
@click.option("--phoenix-project", metavar="NAME", help="Read failed runs (messages, statuses) from this Phoenix "
              "project's spans, cluster them and annotate their runs.")
@click.option("--phoenix-url", metavar="URL", help="Phoenix base URL (default: PHOENIX_COLLECTOR_ENDPOINT, the "
              "Phoenix of `agenttrace phoenix start`, or http://localhost:6006).")
@click.option("--range", "range_text", metavar="START..END", help="Only runs in this time range (ISO dates or "
              "date-times, UTC). Default: everything.")
@click.option("--bucket-minutes", type=click.IntRange(min=1), default=60, show_default=True, metavar="N",
              help="Time bucket of the over-time figures when they come from Phoenix spans.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Write the clusters and the timeline as JSON ('-': stdout, instead of the table).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write an HTML report with a plot of retries over time.")
@click.option("--annotate/--no-annotate", default=True, show_default=True,
              help="With --phoenix-project: annotate each cluster's runs ('retry_cluster': label = kind).")
@click.option("--top", type=click.IntRange(min=0), default=20, show_default=True, metavar="N",
              help="Clusters shown in the table (all are in the JSON).")
def retries(store_path: Path, phoenix_project: Optional[str], phoenix_url: Optional[str], range_text: Optional[str],
            bucket_minutes: int, json_path: Optional[Path], html_path: Optional[Path], annotate: bool, top: int) -> None:
    """Retries over time and failed runs clustered by cause.

    Shows attempts per logical call and the exhausted-retry rate over time, then the failed runs
    clustered by error template (messages mined with drain3: ids, numbers and timestamps masked),
    HTTP status and provider/model, ranked by exhausted retries, each classified as content_policy
    (4xx, safety or refusal errors; usually concentrated in a prompt template or client category:
    fix the input, do not retry) or infrastructure (429, 5xx, timeouts; usually spread across
    templates and bunched in time: backoff with jitter, less concurrency).

    Exit status: 0; 2 bad input (one error: line).
    """
    from rich.console import Console

    from .retry_report import annotate as write_annotations, html_report, print_table, to_json

    try:
        window = parse_range(range_text, "--range")
        store = None
        if has_profiles(store_path):
            from .store import ProfileStore

            store = ProfileStore(store_path)
        phoenix = _phoenix(phoenix_project, phoenix_url) if phoenix_project else None
        if store is None and phoenix is None:
            raise BadInput(f"no profile store at {store_path} and no --phoenix-project: profile your agents with "
                           "agenttrace.configure(profile_store=...) or pass --phoenix-project NAME")
        clusters, timeline, source, notes = analyse(store=store, phoenix=phoenix, project=phoenix_project,
                                                    window=window, bucket=timedelta(minutes=bucket_minutes))
    except BadInput as err:
        fail(str(err))
    console = Console(highlight=False)
    if json_path is not None:
        text = to_json(clusters or [], timeline, source, notes)
        if str(json_path) == "-":
            click.echo(text)
        else:
            json_path.write_text(text + "\n", encoding="utf-8")
    if json_path is None or str(json_path) != "-":
        print_table(console, clusters, timeline, top)
        for line in notes:
            click.echo(f"note: {line}")
    if html_path is not None:
        html_path.write_text(html_report(clusters or [], timeline, source), encoding="utf-8")
    if phoenix is not None and annotate and clusters:
        from agenttrace_phoenix import PhoenixError

        try:
            count = write_annotations(phoenix, clusters)
        except PhoenixError as err:
            click.echo(f"warning: annotating Phoenix failed: {err}", err=True)
        else:
            if json_path is None or str(json_path) != "-":
                click.echo(f"annotated {count} run(s) in Phoenix project {phoenix_project} ('retry_cluster')")


