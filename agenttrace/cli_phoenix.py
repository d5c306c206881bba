"""``agenttrace phoenix start|stop|status|url``: a local Arize Phoenix, run from its own venv."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Optional

import click

if TYPE_CHECKING:
    from agenttrace_phoenix import ServerInfo

_dir_option = click.option("--dir", "base_dir", type=click.Path(file_okay=False, path_type=Path),
                           help="Where venv, data, state and log live (default ./.agenttrace/phoenix, "
                                "env AGENTTRACE_PHOENIX_DIR).")


def _integration() -> ModuleType:
    try:
        import agenttrace_phoenix
    except ModuleNotFoundError as err:
        if err.name != "agenttrace_phoenix":
            raise
        raise click.ClickException("the Phoenix integration is not installed: "
                                   "pip install -e integrations/phoenix") from None
    return agenttrace_phoenix


@click.group()
def phoenix() -> None:
    """Run a local Arize Phoenix (UI + OTLP receiver) in its own virtual environment."""


@phoenix.command()
@click.option("--port", type=int, help="UI/REST/OTLP-HTTP port (default 6006 if free, else any free port).")
@click.option("--grpc-port", type=int, help="OTLP/gRPC port (default 4317 if free, else any free port).")
@_dir_option
@click.option("--phoenix-version", help="arize-phoenix version to install and run.")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for the server to answer.")
@click.option("--local", is_flag=True, help="Start a local Phoenix even if an OTLP/Phoenix endpoint is configured.")
def start(port: Optional[int], grpc_port: Optional[int], base_dir: Optional[Path], phoenix_version: Optional[str],
          timeout: float, local: bool) -> None:
    """Install (first time, ~1 min) and start Phoenix in the background."""
    px = _integration()
    configured = px.configured_endpoint()
    if configured and not local:
        name, value = configured
        click.echo(f"using the Phoenix/OTLP server configured by {name}={value}; not starting a local one "
                   "(--local starts one anyway)")
        return
    server = px.LocalPhoenix(base_dir, version=phoenix_version or px.DEFAULT_VERSION)
    try:
        running = server.status()
        info = running or server.start(port=port, grpc_port=grpc_port, timeout=timeout,
                                       log=lambda line: click.echo(line, err=True))
    except px.PhoenixError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Phoenix {info.version} {'is already running' if running else 'is running'} (pid {info.pid})")
    _describe(info)
    click.echo(f"stop it with:  agenttrace phoenix stop{f' --dir {base_dir}' if base_dir else ''}")


@phoenix.command()
@_dir_option
@click.option("--timeout", type=float, default=20.0, show_default=True, help="Seconds before SIGKILL.")
def stop(base_dir: Optional[Path], timeout: float) -> None:
    """Stop the local Phoenix (its data is kept)."""
    px = _integration()
    try:
        stopped = px.LocalPhoenix(base_dir).stop(timeout=timeout)
    except px.PhoenixError as err:
        raise click.ClickException(str(err)) from None
    click.echo("Phoenix stopped" if stopped else "no local Phoenix is running")


@phoenix.command()
@_dir_option
def status(base_dir: Optional[Path]) -> None:
    """Show the local Phoenix; exit status 1 if none is running."""
    info = _integration().find_running(base_dir)
    if info is None:
        click.echo("no local Phoenix is running")
        click.get_current_context().exit(1)
    click.echo(f"Phoenix {info.version} is running (pid {info.pid}, since {info.started_at})")
    _describe(info)


@phoenix.command()
@_dir_option
def url(base_dir: Optional[Path]) -> None:
    """Print just the UI URL of the running local Phoenix (exit status 1 if none)."""
    info = _integration().find_running(base_dir)
    if info is None:
        raise click.ClickException("no local Phoenix is running (agenttrace phoenix start)")
    click.echo(info.url)


def _describe(info: "ServerInfo") -> None:
    click.echo(f"  UI:          {info.url}")
    click.echo(f"  OTLP HTTP:   {info.otlp_http_endpoint}")
    click.echo(f"  OTLP gRPC:   {info.otlp_grpc_endpoint}")
    click.echo(f"  data:        {info.working_dir}")
    click.echo(f"  log:         {info.log_file}")
    click.echo(f"  send spans here with:  export PHOENIX_COLLECTOR_ENDPOINT={info.url}")
