"""Integrations plug their commands into `agenttrace` through the `agenttrace.commands` entry-point
group, and the core never imports an integration by name."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from agenttrace import plugins
from agenttrace.cli import main

CORE = Path(__file__).resolve().parents[1] / "agenttrace"
INTEGRATIONS = {"agenttrace_phoenix", "agenttrace_whylogs", "agenttrace_langkit"}


def _distribution(root: Path, name: str, entry_points: str, module: str) -> None:
    """A minimal installed distribution on ``root``: a module and its entry points."""
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    (root / f"{name}.py").write_text(module)


def _agenttrace(args: list[str], path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "agenttrace.cli", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_help_lists_the_installed_integrations_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()}
    assert {"config", "demo", "drift", "phoenix"} <= listed
    assert set(plugins.available(plugins.COMMANDS)) >= {"drift", "phoenix"}


def test_a_command_from_an_installed_distribution_is_plugged_in(tmp_path):
    _distribution(tmp_path, "hello_cmd", "[agenttrace.commands]\nhello = hello_cmd:hello\n",
                  "import click\n\n@click.command()\n@click.argument('who')\n"
                  "def hello(who):\n    '''Say hello from a plug-in.'''\n    click.echo(f'hello {who}')\n")
    listing = _agenttrace(["--help"], tmp_path)
    assert listing.returncode == 0 and "Say hello from a plug-in." in listing.stdout, listing.stderr
    ran = _agenttrace(["hello", "world"], tmp_path)
    assert (ran.returncode, ran.stdout.strip()) == (0, "hello world"), ran.stderr


def test_a_broken_plugin_does_not_take_the_other_commands_down(tmp_path):
    _distribution(tmp_path, "broken_cmd", "[agenttrace.commands]\nbroken = broken_cmd:missing\n",
                  "raise ImportError('this integration needs a package that is not installed')\n")
    listing = _agenttrace(["--help"], tmp_path)
    assert listing.returncode == 0 and "drift" in listing.stdout
    assert "warning: `agenttrace broken` cannot be loaded from broken_cmd:missing" in listing.stderr
    assert "(unavailable)" in listing.stdout
    assert _agenttrace(["config"], tmp_path).returncode == 0
    ran = _agenttrace(["broken", "--some-option"], tmp_path)
    assert ran.returncode == 2 and "this integration needs a package that is not installed" in ran.stderr


def test_a_missing_integration_says_what_to_install(monkeypatch):
    monkeypatch.setattr(plugins, "available", lambda group: {})  # as on a machine without the integrations
    result = CliRunner().invoke(main, ["drift"])
    assert result.exit_code == 2
    assert "`agenttrace drift` comes with the whylogs integration: pip install -e integrations/whylogs" in result.output
    assert "No such command" in CliRunner().invoke(main, ["nosuch"]).output


def test_the_core_never_imports_an_integration():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            offenders += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] in INTEGRATIONS]
    assert offenders == []
