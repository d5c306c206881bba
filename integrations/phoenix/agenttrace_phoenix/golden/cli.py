"""``agenttrace golden create|run`` (and ``compare``): golden regression suites as Phoenix
datasets and experiments. See docs/golden.md."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from typing import Optional

import click

from ..server import PhoenixError, base_url
from .agent import AgentError
from .examples import ExampleError
from .results import DEFAULT_RESULTS_DIR, ResultsError, save_run


class _Fail(click.ClickException):
    """Bad input or an unreachable Phoenix: one ``error:`` line, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


_url_option = click.option("--phoenix-url", metavar="URL",
                           help="Phoenix base URL (default: PHOENIX_COLLECTOR_ENDPOINT, else the Phoenix started by "
                                "`agenttrace phoenix start`, else http://localhost:6006).")


def _time(text: Optional[str], option: str) -> Optional[datetime]:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _Fail(f"{option}: not an ISO date or date-time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@click.group()
def golden() -> None:
    """Golden regression suites: representative runs as a Phoenix dataset, an agent run over
    them as a Phoenix experiment with evaluators, and comparisons of two runs."""


@golden.command()
@click.argument("name")
@click.option("--from-phoenix", "project", metavar="PROJECT", help="Pick the runs from this Phoenix project.")
@click.option("--from-file", "path", type=click.Path(dir_okay=False), help="Examples from a JSONL or YAML file.")
@click.option("--size", type=click.IntRange(min=1), default=24, show_default=True,
              help="Examples to pick (more when needed to cover every route path and tool sequence).")
@click.option("--since", metavar="ISO", help="Only runs that ended at or after this time.")
@click.option("--until", metavar="ISO", help="Only runs that ended before this time.")
@click.option("--agent", "agent_name", metavar="NAME", help="Only runs of this agent (root span name).")
@_url_option
def create(name: str, project: Optional[str], path: Optional[str], size: int, since: Optional[str],
           until: Optional[str], agent_name: Optional[str], phoenix_url: Optional[str]) -> None:
    """Create the golden suite NAME as a Phoenix dataset."""
    from phoenix.client import Client

    from .dataset import create_dataset, from_phoenix, summary
    from .examples import load_file

    if bool(project) == bool(path):
        raise _Fail("give exactly one of --from-phoenix PROJECT and --from-file PATH")
    url = base_url(phoenix_url)
    try:
        if path:
            examples = load_file(path)
        else:
            from ..store import PhoenixStore

            examples, _ = from_phoenix(PhoenixStore(url), project, size=size, since=_time(since, "--since"),
                                       until=_time(until, "--until"), agent=agent_name)
        dataset = create_dataset(Client(base_url=url), name, examples,
                                 description=f"agenttrace golden suite from {project or path}")
    except (ExampleError, PhoenixError) as err:
        raise _Fail(str(err)) from None
    for line in summary(examples):
        click.echo(line)
    click.echo(f"dataset {name}: {url}/datasets/{dataset.id}")


def _overrides(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        alias, sep, version = value.partition("=")
        if not sep or not alias.strip() or not version.strip():
            raise _Fail(f"--model-override must be alias=version, got {value!r}")
        out[alias.strip()] = version.strip()
    return out


@golden.command()
@click.argument("name")
@click.option("--agent", "agent_spec", required=True, metavar="MODULE:FACTORY",
              help="The agent factory: called as factory(), or factory(model_overrides={...}) with overrides.")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True, help="Runs per example (k).")
@click.option("--model-override", "overrides", multiple=True, metavar="ALIAS=VERSION",
              help="Pass a model version (or another provider's model) for an alias to the factory; repeatable.")
@click.option("--profiles", type=click.Path(exists=True, dir_okay=False), help="Profile file whose [judges.*] score the replies.")
@click.option("--run-name", help="Name of this run (default <suite>-<UTC time>).")
@click.option("--project", help="Phoenix project the runs are traced into (default golden-<suite>).")
@click.option("--trajectory-mode", type=click.Choice(["strict", "unordered", "subset", "superset"]), default="strict",
              show_default=True, help="How tool calls must match the reference (agentevals).")
@click.option("--tool-args", type=click.Choice(["exact", "ignore", "subset", "superset"]), default="exact",
              show_default=True, help="How tool arguments must match (agentevals).")
@click.option("--results-dir", type=click.Path(file_okay=False), default=str(DEFAULT_RESULTS_DIR), show_default=True,
              help="Where the run results file is written (<dir>/<suite>/<run>.json).")
@_url_option
def run(name: str, agent_spec: str, repeat: int, overrides: tuple[str, ...], profiles: Optional[str],
        run_name: Optional[str], project: Optional[str], trajectory_mode: str, tool_args: str, results_dir: str,
        phoenix_url: Optional[str]) -> None:
    """Run an agent on every example of the suite NAME (k times) as a Phoenix experiment."""
    from phoenix.client import Client

    from .runner import RunOptions, run_suite, summary_lines

    options = RunOptions(suite=name, agent=agent_spec, repeats=repeat, model_overrides=_overrides(overrides),
                         profiles=profiles, run_name=run_name, project=project, trajectory_mode=trajectory_mode,
                         tool_args=tool_args)
    url = base_url(phoenix_url)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # --agent modules next to the caller, like python -m
    try:
        outcome = run_suite(Client(base_url=url), url, options)
        path = save_run(outcome.result, results_dir)
    except (ExampleError, PhoenixError, AgentError, ResultsError, ValueError) as err:
        raise _Fail(str(err)) from None
    for note in outcome.notes:
        click.echo(f"note: {note}", err=True)
    for line in summary_lines(outcome.result):
        click.echo(line)
    click.echo(f"results: {path}")
    click.echo(f"experiment: {outcome.experiment_url}")


try:  # `golden compare` comes with compare_cli.py
    from .compare_cli import compare  # noqa: E402
except ImportError:
    pass
else:
    golden.add_command(compare)
