"""The golden step of ``agenttrace drift``: print the golden suite commands of each model version
change in full (the table shortens long actions) and, with ``--run-golden``, run them."""

from __future__ import annotations

import shlex
import shutil
from typing import Any, Callable, Sequence

from .cli_common import warn
from .golden_action import GoldenSuite, run_commands, suite_commands


def shell_lines(line: str, width: int) -> list[str]:
    """A ``a && b && c`` command line for the terminal: each command on its own lines, broken between
    an option and the next with `` \\`` to fit ``width`` columns (an option and its value stay together)."""
    commands = [shlex.split(part) for part in line.split(" && ")]
    out: list[str] = []
    for n, argv in enumerate(commands):
        head = next((i for i, a in enumerate(argv) if a.startswith("--")), len(argv))
        words = [" ".join(argv[:head])]
        rest = argv[head:]
        while rest:
            take = 2 if len(rest) > 1 and not rest[1].startswith("--") else 1
            words.append(" ".join(a if a.startswith("<") else shlex.quote(a) for a in rest[:take]))
            rest = rest[take:]
        current = "  " + words[0]
        end = " && \\" if n < len(commands) - 1 else ""
        for i, word in enumerate(words[1:], 2):
            if len(current) + 1 + len(word) + (len(end) if i == len(words) else 2) > width:
                out.append(current + " \\")
                current = "      " + word
            else:
                current += " " + word
        out.append(current + end)
    return out


def golden_step(findings: Sequence[Any], suites: Sequence[GoldenSuite], run: bool, say: Callable[[str], None]) -> int:
    """0, or 1 when a golden command (a run, or compare's gates) failed, or 2 when ``run`` was asked
    and no configured suite matches any model version change (a change no suite matches is warned about)."""
    causes = [f for f in findings if f.rule == "model_version_change" and f.severity == "alert"
              and (f.current or {}).get("golden_versions")]
    if not causes:
        if run:
            say("--run-golden: no model version change, no golden suite to run")
        return 0
    status, ran, unmatched = 0, 0, 0
    for cause in causes:
        alias, old, new = cause.current["golden_versions"]
        say(f"golden suite for {alias}: {old} → {new}")
        for line in cause.current.get("golden", []):
            for text in shell_lines(line, shutil.get_terminal_size((120, 24)).columns):
                say(text)
        if not run:
            continue
        chosen = [s for s in suites if s.matches(cause.current.get("segments", {}))]
        if not chosen:
            warn(f"--run-golden: no golden suite matches the change of {alias} (add a [golden.suites.<name>] table "
                 "with agent = \"module:factory\" to agenttrace.toml, or pass --config)")
            unmatched += 1
            continue
        for suite in chosen:
            ran += 1
            outcome = run_commands(suite_commands(alias, old, new, suite), say)
            verdict = "passed" if outcome.returncode == 0 else f"failed (exit status {outcome.returncode})"
            say(f"golden suite {suite.name} on {alias} {old} → {new}: {verdict}")
            if outcome.returncode != 0:
                status = max(status, 1)
    return 2 if run and unmatched and not ran else status
