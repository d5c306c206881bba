"""The ``agenttrace`` command line."""

from __future__ import annotations

import click

from . import plugins
from ._version import __version__
from .cli_demo import demo
from .cli_dlq import dlq


class PluginGroup(click.Group):
    """The core's commands plus those the installed integrations plug in (``agenttrace.commands``
    entry points): ``agenttrace --help`` lists what is installed, and a command whose integration
    is missing says what to install."""

    def _plugins(self) -> dict:
        return plugins.available(plugins.COMMANDS)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        ep = self._plugins().get(cmd_name)
        provider = plugins.PROVIDERS.get((plugins.COMMANDS, cmd_name))
        if ep is None:
            return _unavailable(cmd_name, f"`agenttrace {cmd_name}` comes with {provider}") if provider else None
        try:
            command = ep.load()
        except Exception as err:  # a broken integration must not take the other commands down
            why = f"`agenttrace {cmd_name}` cannot be loaded from {ep.value} ({err!r})"
            click.echo(f"warning: {why}", err=True)
            return _unavailable(cmd_name, why + (f"; it comes with {provider}" if provider else ""))
        if not isinstance(command, click.Command):
            return _unavailable(cmd_name, f"{ep.value} is not a click command")
        return command


def _unavailable(name: str, why: str) -> click.Command:
    """Stands in for a plug-in command that cannot run: listed as unavailable, running it says why (exit 2)."""

    def explain() -> None:
        raise click.UsageError(why)

    return click.Command(name, callback=explain, help=f"(unavailable) {why}", add_help_option=False,
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="agenttrace")
def main() -> None:
    """agenttrace: trace, score and watch LangChain/LangGraph agents with OpenTelemetry.

    Add `agenttrace.configure().callback_handler` to your agent's callbacks (or call
    `agenttrace.instrument()` once) and spans go to any OTLP backend, a local Arize Phoenix
    by default.
    """


@main.command()
@click.option("--endpoint", help="OTLP endpoint (default: OTEL_EXPORTER_OTLP_* variables, else local Phoenix).")
@click.option("--protocol", type=click.Choice(["http/protobuf", "grpc"]), help="OTLP protocol.")
@click.pass_context
def config(ctx: click.Context, endpoint: str | None, protocol: str | None) -> None:
    """Show where spans would go and whether content is captured, as resolved from options and env.

    Exits 2 with one line on stderr when an option or an environment variable is unusable
    (configure() would warn and fall back to the default instead).
    """
    from .content import CAPTURE_ENV, capture_from_env
    from .otlp_config import (compression_problems, env_headers_problems, resolve_endpoint, resolve_protocol,
                              resolve_timeout)

    problems: list = []
    try:
        proto = resolve_protocol(protocol, problems)
        resolved = resolve_endpoint(endpoint, proto, problems)
    except ValueError as err:
        problems.append(str(err).removeprefix("agenttrace: "))
    else:
        timeout = resolve_timeout(None, problems)
        env_headers_problems(problems)
        compression_problems(problems)
    if problems:
        click.echo("agenttrace config: " + "; ".join(map(str, problems)), err=True)
        ctx.exit(2)
    click.echo(f"protocol:         {proto}")
    click.echo(f"endpoint:         {resolved}")
    click.echo(f"export timeout:   {timeout:g} s")
    click.echo(f"capture content:  {capture_from_env()}  ({CAPTURE_ENV})")


main.add_command(demo)
main.add_command(dlq)

if __name__ == "__main__":  # pragma: no cover
    main()
