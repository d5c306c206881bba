"""``agenttrace phoenix start|stop|status|url``: a local Arize Phoenix, run from its own venv.

Plugged into the ``agenttrace`` command through the ``agenttrace.commands`` entry-point group."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Optional

import click

from . import server as px
from .server import ServerInfo

_dir_option = click.option("--dir", "base_dir", type=click.Path(file_okay=False, path_type=Path),
                           help="Where venv, data, state and log live (default ./.agenttrace/phoenix, "
                                "env AGENTTRACE_PHOENIX_DIR; status, url and stop also find a server "
                                "started from another directory).")



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
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address the UI/OTLP-HTTP and OTLP-gRPC receivers listen on. Anything but loopback exposes "
                   "them to the network: set PHOENIX_ENABLE_AUTH=true and PHOENIX_SECRET first (docs/phoenix.md).")
@click.option("--database", metavar="URL",
              help="Store Phoenix's data in PostgreSQL: postgresql://user:password@host:port/database (default: "
                   "env PHOENIX_SQL_DATABASE_URL, else SQLite in the data directory). PHOENIX_SQL_DATABASE_SCHEMA "
                   "picks a schema. The driver (asyncpg) is installed into Phoenix's venv on first use.")
def start(port: Optional[int], grpc_port: Optional[int], base_dir: Optional[Path], phoenix_version: Optional[str],
          timeout: float, local: bool, host: str, database: Optional[str]) -> None:
    """Install (first time, ~1 min) and start Phoenix in the background."""
    if not _loopback(host) and os.environ.get("PHOENIX_ENABLE_AUTH", "").strip().lower() != "true":
        click.echo(f"warning: --host {host} exposes Phoenix's receivers to the network without authentication "
                   "(set PHOENIX_ENABLE_AUTH=true and PHOENIX_SECRET; see docs/phoenix.md)", err=True)
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
                                       log=lambda line: click.echo(line, err=True), host=host, database=database)
    except px.PhoenixError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Phoenix {info.version} {'is already running' if running else 'is running'} (pid {info.pid})")
    _describe(info)
    click.echo(f"stop it with:  agenttrace phoenix stop{f' --dir {base_dir}' if base_dir else ''}")


@phoenix.command()
@_dir_option
@click.option("--timeout", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Seconds before SIGKILL (default: long enough for Phoenix to write every span it accepted; "
                   "a SIGKILL loses its queue).")
def stop(base_dir: Optional[Path], timeout: Optional[float]) -> None:
    """Stop the local Phoenix (its data is kept). Phoenix first writes the spans it has
    accepted but not stored yet."""
    server = px.locate(base_dir)  # without --dir: also a server started from another directory
    try:
        stopped = server.stop(timeout=timeout, log=lambda line: click.echo(line, err=True))
    except px.PhoenixError as err:
        raise click.ClickException(str(err)) from None
    queued = f"; it wrote the {server.queued_at_stop} span(s) it had queued" if server.queued_at_stop and server.lost_at_stop == 0 else ""
    click.echo(f"Phoenix stopped{queued}" if stopped else "no local Phoenix is running")
    if server.lost_at_stop is None:
        click.echo("warning: Phoenix had to be killed: spans it had accepted but not yet stored are lost", err=True)
    elif server.lost_at_stop:
        click.echo(f"warning: Phoenix exited with {server.lost_at_stop} accepted span(s) not stored (its drain "
                   f"time ran out; AGENTTRACE_PHOENIX_DRAIN_SECONDS at start sets it) "
                   f"(see {server.log_file})", err=True)


@phoenix.command()
@_dir_option
def status(base_dir: Optional[Path]) -> None:
    """Show the local Phoenix; exit status 1 if none is running."""
    info = px.find_running(base_dir)
    if info is None:
        click.echo("no local Phoenix is running")
        click.get_current_context().exit(1)
    click.echo(f"Phoenix {info.version} is running (pid {info.pid}, since {info.started_at})")
    _describe(info)


@phoenix.command()
@_dir_option
def url(base_dir: Optional[Path]) -> None:
    """Print just the UI URL of the running local Phoenix (exit status 1 if none)."""
    info = px.find_running(base_dir)
    if info is None:
        raise click.ClickException("no local Phoenix is running (agenttrace phoenix start)")
    click.echo(info.url)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # start() refuses it with a clear message


def _describe(info: ServerInfo) -> None:
    click.echo(f"  UI:          {info.url}")
    click.echo(f"  OTLP HTTP:   {info.otlp_http_endpoint}")
    click.echo(f"  OTLP gRPC:   {info.otlp_grpc_endpoint}")
    click.echo(f"  data:        {info.working_dir}")
    click.echo(f"  database:    {info.database or f'SQLite in {info.working_dir}'}")
    click.echo(f"  log:         {info.log_file}")
    click.echo(f"  send spans here with:  export PHOENIX_COLLECTOR_ENDPOINT={info.url}")
