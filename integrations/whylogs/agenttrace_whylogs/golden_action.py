"""From drift to the golden suite: the ``agenttrace golden`` commands a model version change calls for.

A model version change (an alias answered by a new dated version) is a deployment nobody made: the
action of its finding names the commands that run the golden suite on the version before and the
version after and compare them::

    agenttrace golden run email-suite --agent pkg.mod:factory --repeat 3 --model-override gpt-4o-mini=OLD \\
        --run-name gpt-4o-mini-OLD && agenttrace golden run ... NEW && agenttrace golden compare ...

Suites come from the ``[golden]`` table of the agenttrace config file (``agenttrace.toml``, or
``--config`` / ``AGENTTRACE_CONFIG``)::

    [golden.suites.email-suite]
    agent = "agenttrace_examples.marketing.golden:email_agent"   # module:factory (golden run --agent)
    match = { agent = "email-personalizer" }   # segment values the change must show in (any; default: every change)
    repeat = 3                                 # golden run --repeat
    gates = ["trajectory_match>=0.9"]          # golden compare --gate (repeatable)
    max_score_shift = 0.15                     # golden compare --max-score-shift
    profiles = "profiles.toml"                 # golden run --profiles: the file whose [judges.*] score the replies

Without a configured suite that matches, the commands have placeholders (``<suite>``,
``<module:factory>``). ``agenttrace drift --run-golden`` runs them (:func:`run_commands`) through
the ``agenttrace`` executable, so this integration does not import the Phoenix integration.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from .cli_common import BadInput, read_toml

CONFIG_ENV = "AGENTTRACE_CONFIG"
DEFAULT_CONFIG = Path("agenttrace.toml")
KEYS = {"agent", "match", "repeat", "gates", "max_score_shift", "profiles"}


@dataclass(frozen=True)
class GoldenSuite:
    name: str
    agent: str                               # module:factory
    match: Mapping[str, str] = field(default_factory=dict)   # segment key → value
    repeat: int = 3
    gates: tuple[str, ...] = ()
    max_score_shift: Optional[float] = None
    profiles: Optional[str] = None

    def matches(self, segments: Mapping[str, Any]) -> bool:
        """Whether the change shows in one of ``match``'s segment values (``{"agent=x": runs, ...}``),
        or ``match`` is empty."""
        return not self.match or any(f"{k}={v}" in segments for k, v in self.match.items())


def read_suites(path: Optional[Path] = None, explicit: bool = False) -> list[GoldenSuite]:
    """The suites of the ``[golden.suites.*]`` tables of the config file (none when the default
    file does not exist); BadInput (one line) on a bad file or table."""
    path = path or Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    explicit = explicit or bool(os.environ.get(CONFIG_ENV))
    if not path.exists() and not explicit:
        return []
    data = read_toml(path)
    suites = data.get("golden", {}).get("suites", {}) if isinstance(data.get("golden", {}), dict) else None
    if not isinstance(suites, dict):
        raise BadInput(f"--config: [golden.suites] in {path} must be a table of suites")
    return [_suite(name, table, path) for name, table in suites.items()]


def _suite(name: str, table: Any, path: Path) -> GoldenSuite:
    where = f"[golden.suites.{name}] in {path}"
    if not isinstance(table, dict):
        raise BadInput(f"--config: {where} must be a table")
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise BadInput(f"--config: unknown key {unknown[0]!r} in {where} (known: {', '.join(sorted(KEYS))})")
    agent = table.get("agent")
    if not isinstance(agent, str) or not re.fullmatch(r"[\w.]+:[\w.]+", agent):
        raise BadInput(f"--config: {where} needs agent = \"module:factory\", got {agent!r}")
    match = table.get("match", {})
    if not isinstance(match, dict) or not all(isinstance(v, str) for v in match.values()):
        raise BadInput(f"--config: match in {where} must be a table of strings, e.g. {{ agent = \"support-bot\" }}")
    repeat = table.get("repeat", 3)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
        raise BadInput(f"--config: repeat in {where} must be a positive integer, got {repeat!r}")
    gates = table.get("gates", [])
    if isinstance(gates, str):
        gates = [gates]
    if not isinstance(gates, list) or not all(isinstance(g, str) for g in gates):
        raise BadInput(f"--config: gates in {where} must be a list of strings, e.g. [\"trajectory_match>=0.9\"]")
    shift = table.get("max_score_shift")
    if shift is not None and (not isinstance(shift, (int, float)) or isinstance(shift, bool) or shift <= 0):
        raise BadInput(f"--config: max_score_shift in {where} must be a positive number, got {shift!r}")
    profiles = table.get("profiles")
    if profiles is not None and not isinstance(profiles, str):
        raise BadInput(f"--config: profiles in {where} must be a file path, got {profiles!r}")
    return GoldenSuite(name, agent, dict(match), repeat, tuple(gates), None if shift is None else float(shift),
                       profiles)


def run_name(alias: str, version: str) -> str:
    """The name of a golden run of ``alias`` pinned to ``version``."""
    short = version[len(alias) + 1:] if version.startswith(alias + "-") else version
    return re.sub(r"[^\w.-]+", "_", f"{alias}-{short}")


def suite_commands(alias: str, old: str, new: str, suite: Optional[GoldenSuite]) -> list[list[str]]:
    """The argv lists: the suite on ``old``, on ``new``, and the comparison (placeholders without a suite)."""
    name = suite.name if suite else "<suite>"
    agent = suite.agent if suite else "<module:factory>"
    repeat = str(suite.repeat if suite else 3)
    base, cand = run_name(alias, old), run_name(alias, new)
    runs = [["agenttrace", "golden", "run", name, "--agent", agent, "--repeat", repeat,
             "--model-override", f"{alias}={version}", "--run-name", run]
            + (["--profiles", suite.profiles] if suite and suite.profiles else [])
            for version, run in ((old, base), (new, cand))]
    compare = ["agenttrace", "golden", "compare", base, cand, "--suite", name]
    for gate in suite.gates if suite else ():
        compare += ["--gate", gate]
    if suite and suite.max_score_shift is not None:
        compare += ["--max-score-shift", f"{suite.max_score_shift:g}"]
    return runs + [compare]


def command_line(argvs: Sequence[Sequence[str]]) -> str:
    """One shell line: the commands joined with ``&&``."""
    return " && ".join(" ".join(a if a.startswith("<") else shlex.quote(a) for a in argv) for argv in argvs)


def golden_lines(alias: str, old: str, new: str, segments: Mapping[str, Any],
                 suites: Sequence[GoldenSuite]) -> list[str]:
    """One command line per matching suite, or one with placeholders when none matches."""
    chosen = [s for s in suites if s.matches(segments)] or [None]
    return [command_line(suite_commands(alias, old, new, s)) for s in chosen]


def action(alias: str, old: str, new: str, lines: Sequence[str], configured: bool) -> str:
    """The action of a model version change: pin the alias, or run the golden suite(s)."""
    head = f"check the provider's model updates: pin {alias} to {old}, or run the golden suite on both versions"
    if configured:
        return f"{head}: {' ; '.join(lines)}"
    return f"{head} ([golden.suites.<suite>] in agenttrace.toml fills in the placeholders): {lines[0]}"


@dataclass
class GoldenOutcome:
    line: str
    returncode: int
    output: str


def agenttrace_executable() -> list[str]:
    """The ``agenttrace`` executable of this environment (the one running), else ``python -m agenttrace``."""
    here = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if here is not None and here.name == "agenttrace" and here.exists():
        return [str(here)]
    beside = Path(sys.executable).with_name("agenttrace")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("agenttrace")
    return [found] if found else [sys.executable, "-m", "agenttrace"]


def run_commands(line_argvs: Sequence[Sequence[str]], echo: Callable[[str], None],
                 timeout: Optional[float] = None) -> GoldenOutcome:
    """Run the argv lists in order (as ``&&``: stop at the first that fails), each through this
    environment's ``agenttrace``, echoing their output as it comes; the last exit status."""
    exe = agenttrace_executable()
    out: list[str] = []
    code = 0
    for argv in line_argvs:
        echo(f"$ {' '.join(shlex.quote(a) for a in argv)}")
        proc = subprocess.Popen(exe + list(argv[1:]), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "COLUMNS": os.environ.get("COLUMNS", "120")})
        assert proc.stdout is not None
        for text in proc.stdout:
            out.append(text)
            echo(text.rstrip("\n"))
        code = proc.wait(timeout)
        if code != 0:
            break
    return GoldenOutcome(command_line(line_argvs), code, "".join(out))
