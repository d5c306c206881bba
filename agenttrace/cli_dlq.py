"""``agenttrace dlq``: list, show, replay, resolve and purge dead-letter entries."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from typing import Any

import click

from .dead_letter_store import DEFAULT_PATH, STORE_ENV

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _when(ts: Any) -> str:
    return datetime.fromtimestamp(float(ts), timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _store(ctx: click.Context) -> Any:
    from .dead_letter_store import open_store

    try:
        return open_store(ctx.obj["store"])
    except Exception as err:  # noqa: BLE001 - one line, not a traceback
        raise click.ClickException(f"cannot open the dead-letter store {ctx.obj['store']!r}: {err}") from None


def _entry(store: Any, entry_id: str) -> dict:
    entry = store.get(entry_id)
    if entry is None:
        raise click.ClickException(f"no dead-letter entry {entry_id!r}")
    return entry


def _summary(entry: dict, width: int = 60) -> str:
    text = json.dumps(entry.get("input"), ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


class _StoreGroup(click.Group):
    """A store that cannot be reached or read is one line on stderr (exit 1), not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as err:  # noqa: BLE001
            store = (ctx.obj or {}).get("store")
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise click.ClickException(f"dead-letter store {store!r}: {first}") from None


@click.group(cls=_StoreGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--store", envvar=STORE_ENV, default=DEFAULT_PATH, show_default=True,
              help=f"A SQLite file or a postgresql:// URL (env {STORE_ENV}).")
@click.pass_context
def dlq(ctx: click.Context, store: str) -> None:
    """The dead-letter queue: root runs that failed after exhausting their retries.

    configure(dead_letter=...) writes them; replay runs them again through your agent.
    """
    ctx.obj = {"store": store}


@dlq.command("list")
@click.option("--status", type=click.Choice(["pending", "replaying", "replayed", "failed", "resolved"]),
              help="Only entries in this state.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def list_(ctx: click.Context, status: str, limit: int, as_json: bool) -> None:
    """List entries, oldest first."""
    entries = _store(ctx).list(status, limit)
    if as_json:
        for entry in entries:
            click.echo(json.dumps(entry, ensure_ascii=False))
        return
    if not entries:
        click.echo("no dead-letter entries" + (f" in state {status}" if status else ""))
        return
    click.echo(f"{'id':32}  {'created (UTC)':19}  {'status':9}  {'att':>3}  {'agent':20}  error")
    for e in entries:
        click.echo(f"{e['id']:32}  {_when(e['created_at']):19}  {e['status']:9}  {e['attempts']:>3}  "
                   f"{str(e['agent'])[:20]:20}  {e['error_type']}")


@dlq.command()
@click.argument("entry_id")
@click.pass_context
def show(ctx: click.Context, entry_id: str) -> None:
    """Show one entry in full (JSON)."""
    click.echo(json.dumps(_entry(_store(ctx), entry_id), indent=2, ensure_ascii=False))


@dlq.command()
@click.option("--agent", help="module:attr of the runnable to replay through (default: the one stored with each entry).")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Replay at most N entries.")
@click.option("--dry-run", is_flag=True, help="Show what would be replayed; claim and run nothing.")
@click.option("--include-failed", is_flag=True, help="Also retake entries whose earlier replay failed.")
@click.option("--project", default=None, help="Phoenix project of the replayed traces.")
@click.option("--endpoint", default=None, help="OTLP endpoint (default: OTEL_EXPORTER_OTLP_*, else local Phoenix).")
@click.pass_context
def replay(ctx: click.Context, agent: str, limit: int, dry_run: bool, include_failed: bool, project: str,
           endpoint: str) -> None:
    """Replay entries through your agent, traced, each linked to its original trace.

    An entry replayed successfully is never replayed again; concurrent replayers never take the
    same entry. Exits 1 when any replay failed.
    """
    from .dead_letter_replay import load_input, replay as run_replay

    store = _store(ctx)
    if dry_run:
        for entry in store.candidates(limit, include_failed):
            try:
                load_input(entry)
                loads = "input loads"
            except Exception as err:  # noqa: BLE001
                loads = f"input does not load: {err}"
            click.echo(f"would replay {entry['id']} through {agent or entry.get('replay_agent') or '(no agent!)'}"
                       f": {_summary(entry)} ({loads})")
        return
    from .telemetry import configure

    telemetry = configure(project=project or "agenttrace-dead-letter-replay", endpoint=endpoint, set_global=False)

    def report(entry: dict, outcome: Any) -> None:
        if outcome.ok:
            click.echo(f"replayed {entry['id']} (trace {outcome.trace_id})")
        else:
            click.echo(f"failed   {entry['id']}: {outcome.error}")

    try:
        outcomes = run_replay(store, telemetry, agent, limit, include_failed=include_failed, on_outcome=report)
    finally:
        telemetry.shutdown(timeout=5.0)
    failed = sum(not o.ok for o in outcomes)
    click.echo(f"{len(outcomes) - failed} replayed, {failed} failed")
    if failed:
        ctx.exit(1)


@dlq.command()
@click.argument("entry_id")
@click.option("--note", required=True, help="Why it is closed (kept with the entry).")
@click.pass_context
def resolve(ctx: click.Context, entry_id: str, note: str) -> None:
    """Close an entry by hand; it is never replayed."""
    store = _store(ctx)
    _entry(store, entry_id)
    store.resolve(entry_id, note)
    click.echo(f"resolved {entry_id}")


@dlq.command()
@click.option("--older-than", required=True, help="Age, e.g. 30m, 12h, 7d, 2w.")
@click.option("--include-pending", is_flag=True, help="Also delete entries never replayed (they are lost for good).")
@click.pass_context
def purge(ctx: click.Context, older_than: str, include_pending: bool) -> None:
    """Delete replayed, failed and resolved entries older than an age."""
    match = _DURATION.match(older_than)
    if match is None:
        raise click.BadParameter(f"{older_than!r} is not an age like 30m, 12h, 7d", param_hint="--older-than")
    before = time.time() - float(match.group(1)) * _SECONDS[match.group(2)]
    click.echo(f"purged {_store(ctx).purge(before, include_pending)} entries")
