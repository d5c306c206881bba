"""What the drift, retries and watch commands share: one-line errors, option types and parsing,
and opening a profile store or a Phoenix project from their options."""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NoReturn, Optional

import click

STORE_ENV = "AGENTTRACE_PROFILE_STORE"
MAX_DAYS = 36_500  # a window of up to 100 years
DEFAULT_STORE = Path(".agenttrace") / "profiles"
SEVERITY_RANK = {"info": 0, "warning": 1, "alert": 2}


class BadInput(Exception):
    """Something the user has to fix: reported as one ``error:`` line, exit status 2."""


def read_toml(path: Path) -> dict:
    """A TOML config file as a dict; BadInput (one line, ``--config: ...``) when it cannot be read or parsed."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise BadInput(f"--config: cannot read {path}: {err.strerror or err}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise BadInput(f"--config: {path} is not valid TOML: {err}") from None


class OneLineError(click.ClickException):
    """A usage error (unknown option, value out of range) shown as one ``error:`` line, exit 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class OneLineCommand(click.Command):
    """A command whose usage errors are one ``error:`` line (click prints usage and a hint too)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as err:
            raise OneLineError(" ".join(err.format_message().split())) from None


class Finite(click.FloatRange):
    """A float option that must be a finite number in its range (click's FloatRange lets nan in)."""

    name = "finite float range"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number in the range {self._describe_range()}.", param, ctx)
        return number


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    click.get_current_context().exit(2)


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


# --- option parsing ---------------------------------------------------------------------------


def parse_time(text: str, option: str) -> datetime:
    """An ISO date (``2026-11-01``) or date-time (``2026-11-01T12:00``, ``...+02:00``); UTC unless
    it has an offset."""
    text = text.strip()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"{option}: {text!r} is not an ISO date or date-time (e.g. 2026-11-01 or "
                       "2026-11-01T12:00)") from None
    from .store import EARLIEST as earliest, LATEST as latest
    try:
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    except OverflowError:  # an offset that moves it out of datetime's range
        value = earliest - timedelta(days=1)
    if not earliest <= value < latest:
        raise BadInput(f"{option}: {text!r} is outside the times a profile store holds "
                       f"({earliest:%Y-%m-%d} to {latest:%Y-%m-%d})")
    return value


def parse_range(text: Optional[str], option: str) -> Optional[tuple[datetime, datetime]]:
    """``START..END`` → (start, end), both ISO dates or date-times."""
    if text is None:
        return None
    start, sep, end = text.partition("..")
    if not sep or not start.strip() or not end.strip():
        raise BadInput(f"{option}: use START..END with ISO dates or date-times, e.g. 2026-10-01..2026-10-31, "
                       f"got {text!r}")
    first, last = parse_time(start, option), parse_time(end, option)
    if last <= first:
        raise BadInput(f"{option}: the end {end.strip()} is not after the start {start.strip()}")
    return first, last


def phoenix_url(option: Optional[str]) -> str:
    """``--phoenix-url``, else ``PHOENIX_COLLECTOR_ENDPOINT``, else the Phoenix started by
    ``agenttrace phoenix start``, else http://localhost:6006."""
    try:
        from agenttrace_phoenix.server import base_url
    except ImportError:  # without the Phoenix integration: the option, the environment, the default
        pass
    else:
        return base_url(option)
    if option:
        return option.rstrip("/")
    env = os.environ.get("PHOENIX_COLLECTOR_ENDPOINT", "").strip().rstrip("/")
    if env:
        return env.removesuffix("/v1/traces")
    return "http://localhost:6006"


def open_phoenix(project: str, url: str) -> Any:
    """A ``PhoenixStore`` on ``url`` for ``--phoenix-project``; bad input without the Phoenix
    integration or for a name that would address another URL (refused up front)."""
    try:
        from agenttrace_phoenix import PhoenixError, PhoenixStore
        from agenttrace_phoenix.store import project_path
    except ModuleNotFoundError:
        raise BadInput("--phoenix-project needs the Phoenix integration: pip install -e integrations/phoenix") from None
    try:
        project_path(project)
    except PhoenixError as err:
        raise BadInput(f"--phoenix-project: {err}") from None
    return PhoenixStore(url)


def has_profiles(path: Path) -> bool:
    from .store import ProfileStore

    return path.is_dir() and ProfileStore(path).time_range() is not None


def open_store(path: Path) -> Any:
    """The profile store at ``path``; bad input if it is missing or holds no profiles."""
    if not path.exists():
        raise BadInput(f"no profile store at {path}: profile your agents with "
                       f"agenttrace.configure(profile_store={str(path)!r}), point --store (or {STORE_ENV}) at "
                       "an existing store, or pass --phoenix-project NAME to profile a Phoenix project's spans")
    if not path.is_dir():
        raise BadInput(f"--store {path} is a file, not a profile store directory")
    from .store import ProfileStore

    store = ProfileStore(path)
    if store.time_range() is None:
        problems = f" ({len(store.problems)} unreadable file(s): {store.problems[0]})" if store.problems else ""
        raise BadInput(f"the profile store {path} holds no profiles{problems}: run your agents with "
                       "agenttrace.configure(profile_store=...) first, or pass --phoenix-project NAME to profile "
                       "a Phoenix project's spans")
    return store


# the drift rules' thresholds, shared by the commands that run them (drift, watch)
RULE_OPTIONS = (
    click.option("--segment-key", "segment_keys", multiple=True, metavar="KEY",
                 help="Segment key to compare per value, e.g. segment, agent, prompt_template, client_category, "
                      "request_model, metadata.<key> (repeatable; default: every key in the store)."),
    click.option("--score-shift", type=Finite(min=0), metavar="SD", default=0.15, show_default=True,
                 help="Mean-shift threshold of evaluation scores, in standard deviations of the baseline."),
    click.option("--refusal-abs", type=Finite(0, 1), metavar="RATE", default=0.005, show_default=True,
                 help="Alert when the current refusal rate is above this absolute rate (0.005 = 0.5%)."),
    click.option("--refusal-audit", type=Finite(min=0), metavar="REL", default=0.20, show_default=True,
                 help="Relative refusal-rate increase over the baseline that says 'audit the prompt' (0.2 = +20%)."),
    click.option("--refusal-provider", type=Finite(min=0), metavar="REL", default=0.50, show_default=True,
                 help="Relative refusal-rate increase that says 'check the provider's model updates' (0.5 = +50%)."),
    click.option("--min-rows", type=click.IntRange(min=1), metavar="N", default=30, show_default=True,
                 help="Runs a segment needs in each window to be compared (fewer: skipped, with a note)."),
)


def rule_options(command: Any) -> Any:
    """Decorate ``command`` with :data:`RULE_OPTIONS` (in that order in --help)."""
    for option in reversed(RULE_OPTIONS):
        command = option(command)
    return command
