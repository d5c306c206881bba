"""``agenttrace watch``: run drift detection every interval and notify once per incident.

The passes themselves are in ``watch_loop``; this module parses the options (and the ``[watch]``
section of the agenttrace config file), opens the alert store and the notifiers, handles
SIGTERM/SIGINT, and shows the alert history (``--history``).

Exit status: 0 after a clean stop (SIGTERM, SIGINT, or ``--once``); 1 when the single pass of
``--once`` failed; 2 on bad input, reported on one line starting with ``error:``.
"""

from __future__ import annotations

import re
import signal
import sys
import tempfile
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

import click

from .cli_common import (DEFAULT_STORE, MAX_DAYS, STORE_ENV, BadInput, Finite, OneLineCommand, fail, phoenix_url,
                         read_toml, rule_options, warn)

CONFIG_ENV = "AGENTTRACE_CONFIG"
DEFAULT_CONFIG = Path("agenttrace.toml")
ALERT_STORE_ENV = "AGENTTRACE_ALERT_STORE"
UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?\s*$")


def parse_duration(text: Any, option: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d`` → seconds (> 0)."""
    match = _DURATION.match(str(text))
    seconds = float(match.group(1)) * UNITS[match.group(2) or "s"] if match else 0.0
    if not match or seconds <= 0:
        raise BadInput(f"{option}: {text!r} is not a duration (a positive number with s, m, h or d, e.g. 15m)")
    return seconds


# --- the [watch] section of the config file -----------------------------------------------------


def read_config(path: Optional[Path], explicit: bool) -> dict:
    """The ``[watch]`` table of the TOML config file (empty when the default file does not exist)."""
    if path is None or (not explicit and not path.exists()):
        return {}
    data = read_toml(path)
    section = data.get("watch", {})
    if not isinstance(section, dict):
        raise BadInput(f"--config: [watch] in {path} must be a table")
    return section


def apply_config(ctx: click.Context, section: dict, source: Path) -> dict:
    """The command's parameters, with each one left at its default taken from ``section``."""
    values = dict(ctx.params)
    # keys are the long option names, with - or _: webhook, alert-store, phoenix_project, ...
    options = {o.lstrip("-").replace("-", "_"): p for p in ctx.command.params for o in p.opts if o.startswith("--")}
    for raw, value in section.items():
        param = options.get(str(raw).replace("-", "_"))
        if param is None or param.name in ("config_path", "history", "once"):
            raise BadInput(f"--config: unknown key {raw!r} in [watch] of {source}")
        name = param.name
        if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT:
            continue  # the command line wins
        if param.multiple and not isinstance(value, list):
            value = [value]
        try:
            values[name] = param.type_cast_value(ctx, value)
        except click.BadParameter as err:
            raise BadInput(f"--config: {raw} in [watch] of {source}: {err.format_message()}") from None
    return values


# --- the command --------------------------------------------------------------------------------


@click.command(cls=OneLineCommand)
@click.option("--store", "store_path", type=click.Path(path_type=Path), envvar=STORE_ENV, show_envvar=True,
              default=str(DEFAULT_STORE), show_default=True,
              help="Profile store directory to watch, as written by agenttrace.configure(profile_store=...).")
@click.option("--phoenix-project", metavar="NAME",
              help="Phoenix project of the traced runs: notifications link to its runs (and --annotate marks them). "
                   "When the store is missing or empty (or with --from-phoenix) each pass profiles the project's runs "
                   "that ended since the last one instead.")
@click.option("--phoenix-url", "phoenix_url_option", metavar="URL",
              help="Phoenix base URL (default: PHOENIX_COLLECTOR_ENDPOINT, else the Phoenix started by "
                   "`agenttrace phoenix start`, else http://localhost:6006).")
@click.option("--from-phoenix", is_flag=True,
              help="Profile the Phoenix project's runs even if the store has profiles (the store is not modified).")
@click.option("--interval", default="15m", show_default=True, metavar="DURATION",
              help="Time between passes: seconds, or a number with s, m, h or d (e.g. 30s, 15m, 1h).")
@click.option("--once", is_flag=True, help="Run one pass, deliver what is due, and exit (for cron).")
@click.option("--resolve-after", default="1h", show_default=True, metavar="DURATION",
              help="An alert resolves (and notifies once) when its condition has been clear for this long.")
@click.option("--notify-on", type=click.Choice(["alert", "warning"]), default="alert", show_default=True,
              help="Lowest incident severity that is alerted on.")
@click.option("--webhook", "webhooks", multiple=True, metavar="URL",
              help="POST each notification as JSON to this URL (repeatable).")
@click.option("--slack", "slacks", multiple=True, metavar="URL",
              help="Slack (or compatible) incoming-webhook URL (repeatable).")
@click.option("--smtp", "smtps", multiple=True, metavar="URL",
              help="Send e-mail through this server: smtp://[user:password@]host[:port] (smtps:// for TLS) "
                   "(repeatable; needs --mail-to).")
@click.option("--mail-to", "mail_to", multiple=True, metavar="ADDR", help="Recipient of the e-mails (repeatable).")
@click.option("--notify", "specs", multiple=True, metavar="SPEC",
              help="A notifier as one spec: webhook:URL, slack:URL or smtp://host[:port]?to=ADDR (repeatable).")
@click.option("--retry-base", default="30s", show_default=True, metavar="DURATION",
              help="First wait before a failed delivery is retried; it doubles per failure, up to an hour.")
@click.option("--alert-store", metavar="PATH|URL", envvar=ALERT_STORE_ENV, show_envvar=True,
              help="Alert state, history and the outbox: a SQLite file, or a postgresql:// URL "
                   "(default: .agenttrace/alerts.sqlite).")
@click.option("--baseline-days", type=Finite(0, MAX_DAYS, min_open=True), metavar="DAYS", default=30, show_default=True,
              help="Baseline window of the drift rules (ends where the current window starts).")
@click.option("--current-days", type=Finite(0, MAX_DAYS, min_open=True), metavar="DAYS", default=7, show_default=True,
              help="Current window of the drift rules (ends at the end of the latest profiled window).")
@rule_options
@click.option("--annotate/--no-annotate", default=None,
              help="Write the findings of each new alert to Phoenix, so the notification's link shows the affected "
                   "runs (default: on with --phoenix-project).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar=CONFIG_ENV,
              show_envvar=True, help=f"TOML file whose [watch] section sets any of these options (default: "
                                     f"./{DEFAULT_CONFIG} when it exists); the command line wins.")
@click.option("--history", is_flag=True, help="Show the alert history of --alert-store and exit.")
def watch(**params: Any) -> None:
    """Watch your agents: every --interval, run the drift rules (the last 7
    days against the 30 before) and the fast sequential rules (the latest
    hours against the baseline), group the findings into incidents and notify
    each incident once when it opens, again when it escalates, and once when
    it has resolved. Notifications that cannot be delivered are kept in the
    alert store and retried with backoff, also after a restart.

    Stops cleanly on SIGTERM or Ctrl-C (exit 0). See docs/watch.md.

    \b
    Examples:
      agenttrace watch --once
      agenttrace watch --webhook http://127.0.0.1:9000/hook --interval 5m
      agenttrace watch --phoenix-project support-bot --slack https://hooks.slack.com/...
      agenttrace watch --history
    """
    ctx = click.get_current_context()
    try:
        path = params["config_path"]
        values = apply_config(ctx, read_config(path or DEFAULT_CONFIG, path is not None), path or DEFAULT_CONFIG)
        code = history(values["alert_store"]) if values["history"] else run(**values)
    except BadInput as err:
        fail(str(err))
    ctx.exit(code)


def open_alerts(target: Optional[str]) -> Any:
    from agenttrace.alerts.store import default_target, open_alert_store

    target = target or default_target()
    if "://" not in target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    try:
        return open_alert_store(target)
    except (ValueError, OSError) as err:
        raise BadInput(f"--alert-store {target}: {err}") from None


def notifiers(webhooks: tuple, slacks: tuple, smtps: tuple, mail_to: tuple, specs: tuple = ()) -> list:
    """The notifiers of the options (``agenttrace.alerts.notifiers``); their names, which route the
    queued notifications, are derived from the targets, so they are the same after a restart."""
    from agenttrace.alerts.notifiers import notifiers_from_specs

    if smtps and not mail_to:
        raise BadInput("--smtp needs --mail-to ADDR (who gets the e-mails)")
    if mail_to and not smtps:
        raise BadInput("--mail-to needs --smtp URL (the server that sends the e-mails)")
    to = ",".join(mail_to)
    every = ([f"webhook:{u}" for u in webhooks] + [f"slack:{u}" for u in slacks]
             + [f"{u}{'&' if '?' in u else '?'}to={to}" for u in smtps] + list(specs))
    try:
        return notifiers_from_specs(every)
    except ValueError as err:
        raise BadInput(str(err).removeprefix("agenttrace: ")) from None


def history(alert_store: Optional[str]) -> int:
    from agenttrace.alerts import Alerter

    from .watch_history import print_history

    print_history(Alerter(open_alerts(alert_store)).history(limit=100_000), click.echo)
    return 0


def run(*, store_path: Path, phoenix_project: Optional[str], phoenix_url_option: Optional[str], from_phoenix: bool,
        interval: str, once: bool, resolve_after: str, notify_on: str, webhooks: tuple, slacks: tuple, smtps: tuple,
        mail_to: tuple, specs: tuple, retry_base: str, alert_store: Optional[str], segment_keys: tuple,
        baseline_days: float, current_days: float, score_shift: float, refusal_abs: float, refusal_audit: float,
        refusal_provider: float, min_rows: int, annotate: Optional[bool], **_: Any) -> int:
    every = parse_duration(interval, "--interval")
    clear_for = parse_duration(resolve_after, "--resolve-after")
    if from_phoenix and not phoenix_project:
        raise BadInput("--from-phoenix needs --phoenix-project NAME")
    if annotate and not phoenix_project:
        raise BadInput("--annotate needs --phoenix-project NAME (the project whose runs get the annotations)")
    first_retry = parse_duration(retry_base, "--retry-base")
    senders = notifiers(webhooks, slacks, smtps, mail_to, specs)
    from agenttrace.alerts import Alerter

    from .config import DriftConfig
    from .watch_loop import Watcher, run_forever

    config = DriftConfig(baseline=timedelta(days=baseline_days), current=timedelta(days=current_days),
                         score_shift_sd=score_shift, refusal_abs=refusal_abs, refusal_audit_rel=refusal_audit,
                         refusal_provider_rel=refusal_provider, min_rows=min_rows,
                         segment_keys=list(segment_keys) or None)
    with tempfile.TemporaryDirectory(prefix="agenttrace-watch-") as scratch:
        source = _source(store_path, phoenix_project, phoenix_url_option, segment_keys, Path(scratch), from_phoenix)
        try:
            alerter = Alerter(open_alerts(alert_store), senders, timedelta(seconds=clear_for),
                              backoff_base=first_retry, backoff_cap=max(3600.0, first_retry))
        except ValueError as err:  # two notifiers with one target
            raise BadInput(str(err).removeprefix("agenttrace: ")) from None
        watcher = Watcher(source, alerter, config, notify_on=notify_on,
                          annotate=bool(phoenix_project) if annotate is None else annotate)
        stop = threading.Event()
        restore = _on_signals(stop)
        where = (f"Phoenix project {phoenix_project!r} at {source.phoenix_url}" if source.from_phoenix
                 else str(store_path))
        say = _printer()
        if not senders:
            warn("no notifier (--webhook, --slack, --smtp, --notify or the [watch] config section): alerts are "
                 "recorded in the alert history only")
        if not once:
            say(f"watching {where} every {interval}, {len(senders)} notifier(s); "
                f"alert store {alert_store or 'default'}")
        try:
            failures = run_forever(watcher, every, stop, say, warn, once=once)
        finally:
            restore()
    if stop.is_set():
        say("stopped")
    return 1 if once and failures else 0


def _source(store_path: Path, project: Optional[str], url_option: Optional[str], keys: tuple, scratch: Path,
            from_phoenix: bool) -> Any:
    from .cli_common import has_profiles, open_phoenix
    from .watch_loop import Source

    url = phoenix_url(url_option) if project else None
    phoenix = open_phoenix(project, url) if project else None
    if project and (from_phoenix or not has_profiles(store_path)):
        # profiles built from Phoenix live for this process: a restart reads the project again, never twice
        return Source(scratch / "profiles", project, url, tuple(keys), from_phoenix=True, _phoenix=phoenix)
    source = Source(store_path, project, url, tuple(keys), _phoenix=phoenix)
    source.open()  # a missing or empty store is bad input now, not a failed pass every interval
    return source


def _printer() -> Any:
    def say(line: str) -> None:
        click.echo(line)
        sys.stdout.flush()

    return say


def _on_signals(stop: threading.Event) -> Any:
    """SIGTERM / SIGINT: finish the pass and stop; a second one stops at once (the alert store is
    transactional, so an abandoned pass loses nothing). Returns a function restoring the handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handle(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise SystemExit(0)
        stop.set()
        click.echo(f"{signal.Signals(signum).name}: stopping after this pass", err=True)

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)

    return restore

