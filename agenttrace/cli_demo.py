"""``agenttrace demo``: run the offline marketing agents under agenttrace and send their spans to Phoenix.

The agents and the demo logic live in ``agenttrace_examples.marketing`` (``run_demo``); this module
only turns options into arguments and the summary into output.
"""

from __future__ import annotations

from typing import Any, Optional

import click


def _scale(value: str) -> float:
    from agenttrace_examples.marketing import SCALES

    if value in SCALES:
        return SCALES[value]
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number <= 0:
        raise click.BadParameter(f"use {', '.join(SCALES)} or a positive number, got {value!r}", param_hint="--scale")
    return number


def _counts(items: tuple[str, ...]) -> dict[str, int]:
    from agenttrace_examples.marketing import agent

    counts = {}
    for item in items:
        name, _, number = (part.strip() for part in item.partition("="))
        try:
            agent(name)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--runs") from None
        if not number.isdigit() or int(number) < 1:
            raise click.BadParameter(f"use AGENT=N with N at least 1, got {item!r}", param_hint="--runs")
        counts[name] = int(number)
    return counts


def _real_model(spec: str) -> Any:
    provider, sep, name = spec.partition(":")
    if not (sep and provider and name):
        raise click.BadParameter(f"use PROVIDER:NAME, e.g. openai:gpt-4o-mini, got {spec!r}", param_hint="--model")
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:
        raise click.UsageError("--model needs the `langchain` package and the provider's integration, "
                               "e.g. pip install langchain langchain-openai") from None
    try:
        return init_chat_model(name, model_provider=provider)
    except Exception as err:  # noqa: BLE001 - a missing integration package or credentials
        raise click.ClickException(f"could not create the model {spec!r}: {err}") from None


@click.command()
@click.option("--agents", default="all", show_default=True,
              help="Comma-separated agents to run: email, ad-copy, support, router.")
@click.option("--scale", default="default", show_default=True,
              help="Workload size: small (0.1x), default, large (5x), or a multiplier.")
@click.option("--runs", multiple=True, metavar="AGENT=N", help="Workload size of one agent, e.g. ad-copy=400 (repeatable).")
@click.option("--days", type=click.FloatRange(0, 3650), default=37, show_default=True,
              help="Spread the runs over this many simulated days ending now (span and profile times follow a "
                   "simulated clock), so `agenttrace drift` has a 30-day baseline and a 7-day current window. "
                   "0 = real time.")
@click.option("--switch-at", type=click.FloatRange(0, 1),
              help="Share of the simulated period (with --days 0: of each agent's workload) after which the provider "
                   "moves its model aliases to a new release. Default: 5 days before the end, or 0.5 with --days 0.")
@click.option("--no-switch", is_flag=True, help="Never update the aliases (no model-version drift).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the workloads and the simulated provider.")
@click.option("--project", default="agenttrace-demo", show_default=True, help="Phoenix project of the spans.")
@click.option("--endpoint", help="OTLP endpoint (default: OTEL_EXPORTER_OTLP_* / PHOENIX_COLLECTOR_ENDPOINT, else a "
                                 "Phoenix started by `agenttrace phoenix start`, else http://localhost:6006).")
@click.option("--protocol", type=click.Choice(["http/protobuf", "grpc"]), help="OTLP protocol.")
@click.option("--model", metavar="PROVIDER:NAME",
              help="Use a real chat model (langchain's init_chat_model, e.g. openai:gpt-4o-mini) instead of the "
                   "simulated provider.")
@click.option("--profiles", type=click.Path(exists=True, dir_okay=False),
              help="Metric profile file (default: the demo's profiles.toml, LangKit refusal + relevance).")
@click.option("--light-metrics", is_flag=True, help="Light metrics only, even when agenttrace-langkit is installed.")
@click.option("--no-capture-content", is_flag=True,
              help="Do not export prompts and responses. The demo's data is synthetic, so content capture is ON by "
                   "default here (unlike agenttrace.configure()).")
@click.option("--profile-store", type=click.Path(file_okay=False), envvar="AGENTTRACE_PROFILE_STORE",
              default=".agenttrace/profiles", show_default=True,
              help="Directory of the whylogs trajectory profiles `agenttrace drift` reads (env AGENTTRACE_PROFILE_STORE).")
@click.option("--no-profiles", is_flag=True, help="Do not write trajectory profiles.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--overnight", is_flag=True,
              help="Instead: the overnight-batch scenario. --briefs ad briefs sent at once against the provider's "
                   "rate limit, with flat 2-second retries and with exponential backoff and jitter (time compressed "
                   "2x); the summary compares completion rates. Project agenttrace-overnight unless --project is "
                   "given.")
@click.option("--briefs", type=click.IntRange(1, 2000), default=60, show_default=True,
              help="With --overnight: the batch size.")
@click.pass_context
def demo(ctx: click.Context, agents: str, scale: str, runs: tuple[str, ...], days: float, switch_at: Optional[float],
         no_switch: bool, seed: int, project: str,
         endpoint: Optional[str], protocol: Optional[str], model: Optional[str], profiles: Optional[str],
         light_metrics: bool, no_capture_content: bool, profile_store: str, no_profiles: bool, no_progress: bool,
         overnight: bool, briefs: int) -> None:
    """Run four offline marketing agents traced by agenttrace and send their spans to Phoenix.

    E-mail personalisation, an ad-copy batch (concurrent, rate-limited, retried), a support chatbot
    with tools and a model router run on a simulated LLM provider, spread over --days simulated days
    (37) ending now. At --switch-at (5 days before the end) the provider silently moves its model
    aliases to a new release that refuses and hedges more often: the summary shows the
    response-model versions and the refusals flagged before and after, and `agenttrace drift`
    finds the change in the trajectory profiles written to --profile-store.

    With --overnight: the overnight-batch scenario instead (see --overnight).
    """
    given = {name for name in ctx.params if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT}
    if overnight:
        _overnight(given, briefs=briefs, seed=seed, project=project, endpoint=endpoint, protocol=protocol,
                   capture_content=not no_capture_content)
        return
    if "briefs" in given:
        raise click.UsageError("--briefs only applies with --overnight")
    try:
        from agenttrace_examples.marketing import DEFAULT_PROFILES, run_demo
    except ImportError as err:
        raise click.ClickException(f"the demo needs its extras: pip install 'agenttrace[demo]' ({err})") from None
    names = None if agents.strip() == "all" else [a.strip() for a in agents.split(",") if a.strip()]
    if switch_at is None:
        switch_at = max(0.0, (days - 5) / days) if days > 0 else 0.5
    kwargs = dict(agents=names, counts=_counts(runs), scale=_scale(scale), switch_at=None if no_switch else switch_at,
                  days=days, profile_store=None if no_profiles else profile_store,
                  seed=seed, project=project, endpoint=endpoint, protocol=protocol, profiles=profiles or DEFAULT_PROFILES,
                  heavy_metrics=not light_metrics, capture_content=not no_capture_content,
                  progress=not no_progress, announce=click.echo)
    if model:
        kwargs["llm"] = _real_model(model)
    try:
        summary = run_demo(**kwargs)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    except RuntimeError as err:
        raise click.ClickException(str(err)) from None
    click.echo(summary.format())
    if summary.runs == summary.failed:
        raise click.ClickException("no run succeeded")
    if summary.spans and not summary.spans_sent:
        raise click.ClickException(f"no span reached {summary.destination}: is it running? "
                                   "(`agenttrace phoenix start`, or pass --endpoint)")


# options of the default demo that the overnight scenario has no use for
_NOT_OVERNIGHT = ("agents", "scale", "runs", "days", "switch_at", "no_switch", "model", "profiles", "light_metrics",
                  "profile_store", "no_profiles")


def _overnight(given: set[str], *, briefs: int, seed: int, project: str, endpoint: Optional[str],
               protocol: Optional[str], capture_content: bool) -> None:
    """``agenttrace demo --overnight``: run the batch under both retry policies and print the summary."""
    unused = [f"--{name.replace('_', '-')}" for name in _NOT_OVERNIGHT if name in given]
    if unused:
        raise click.UsageError(f"not used with --overnight: {', '.join(unused)}")
    try:
        from agenttrace_examples.marketing.overnight import run_overnight
        from agenttrace_examples.marketing.overnight_hooks import sections
    except ImportError as err:
        raise click.ClickException(f"the demo needs its extras: pip install 'agenttrace[demo]' ({err})") from None
    summary = run_overnight(briefs, seed=seed, project=project if "project" in given else "agenttrace-overnight",
                            endpoint=endpoint, protocol=protocol, capture_content=capture_content, announce=click.echo,
                            **sections())
    click.echo(summary.format())
