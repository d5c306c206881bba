"""`agenttrace drift` in a terminal and in pipes: the table at 80 and 120 columns (snapshots under
tests/snapshots/, compared exactly), the other output formats, and the window and report options.

The store is ``drift_traffic.alias_update`` (fewer than 1,024 rows a side: exact sketches, so the
numbers are the same on every run). ``UPDATE_SNAPSHOTS=1`` rewrites the snapshot files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from agenttrace.cli import main
from drift_traffic import alias_update

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("alias") / "profiles"
    alias_update(root)
    return root


def drift(*args, columns: int = 80, **kw):
    env = {"COLUMNS": str(columns)}
    return CliRunner().invoke(main, ["drift", "--no-progress", *map(str, args)], env=env, catch_exceptions=False, **kw)


def table(store, columns: int) -> str:
    result = drift("--store", store, "--no-reports", "--fail-on", "never", "--top", "0", columns=columns)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("columns", [80, 120])
def test_the_table_matches_its_snapshot(store, columns):
    out = table(store, columns)
    path = SNAPSHOTS / f"drift_table_{columns}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")


def findings_block(out: str) -> list[list[str]]:
    """The lines of each finding in the table (a finding starts with its number)."""
    lines = out.split("findings\n", 1)[1].splitlines()
    blocks: list[list[str]] = []
    for line in lines:
        if re.match(r"^ *\d+ (alert|warning|info) ", line):
            blocks.append([line])
        elif blocks and line.startswith("   ") and line.strip():
            blocks[-1].append(line)
        elif line.startswith("golden suite for "):
            break  # the golden suite commands follow the table
    return blocks


def test_at_80_columns_a_finding_takes_at_most_3_lines_and_no_name_is_broken(store):
    out = table(store, 80)
    assert max(len(line) for line in out.splitlines()) <= 80
    blocks = findings_block(out)
    assert len(blocks) >= 10 and all(len(b) <= 3 for b in blocks)
    # segment values, features and rules appear whole on their finding's first line
    for name in ("prompt_template=billing_v4", "refusal_similarity", "model_version_change", "request_model=gpt-4o"):
        assert any(name in b[0] for b in blocks), name
    assert out.splitlines()[0].startswith("baseline 2026-10-01 → 2026-10-31 (600 runs)")


def test_at_120_columns_identifiers_keep_their_width_and_the_finding_gets_the_rest(store):
    out = table(store, 120)
    assert max(len(line) for line in out.splitlines()) <= 120
    blocks = findings_block(out)
    assert all(len(b) <= 3 for b in blocks)
    header = next(line for line in out.splitlines() if line.lstrip().startswith("# "))
    finding_col = header.index("finding")
    assert finding_col <= 120 - 50, header  # the message column is the widest
    first = blocks[0][0]
    assert first[finding_col:].startswith("gpt-4o → gpt-4o-2024-11-20 from ") and first[finding_col - 1] == " "
    assert all(b[0][finding_col - 1] == " " and b[0][finding_col] != " " for b in blocks)


def test_incidents_lead_and_the_alias_update_is_first(store):
    out = table(store, 80)
    lines = out.splitlines()
    heading = lines.index("2 incidents")
    assert lines[heading + 1].startswith(" 1 alert   gpt-4o → gpt-4o-2024-11-20 from 11-03 12:16: refusals")
    assert lines.index("findings") > heading


def test_the_skipped_segments_note_is_one_line(store):
    out = drift("--store", store, "--no-reports", "--min-rows", "200", "--fail-on", "never").stdout
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    skipped = [line for line in notes if "skipped" in line]
    assert len(skipped) == 1 and re.fullmatch(r"note: \d+ segment\(s\) skipped: fewer than 200 runs on a side.*", skipped[0])
    assert "agent=" not in out.split("findings")[0].split("incident")[0]


def test_honours_columns_when_piped(store):
    env = {**os.environ, "COLUMNS": "80", "WHYLOGS_NO_ANALYTICS": "1"}
    command = [str(Path(sys.executable).parent / "agenttrace"), "drift", "--store", str(store), "--no-reports",
               "--no-progress", "--fail-on", "never", "--top", "0"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == table(store, 80)


def test_format_json_prints_the_report_leading_with_incidents(store, tmp_path):
    result = drift("--store", store, "--no-reports", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert list(report)[0] == "incidents" and report["incidents"][0]["title"].startswith("gpt-4o → ")
    assert report["meta"]["current"]["rows"] == 560


def test_json_dash_writes_the_report_to_stdout_not_to_a_file(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = drift("--store", store, "--json", "-", "--html", tmp_path / "r.html")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["incidents"]
    assert not (tmp_path / "-").exists() and (tmp_path / "r.html").exists()
    assert "HTML report: " in result.stderr  # status lines go to stderr when stdout carries a document
    clash = drift("--store", store, "--json", "-", "--format", "markdown", "--no-reports")
    assert clash.exit_code == 2 and clash.stderr.count("\n") == 1 and clash.stderr.startswith("error: ")


def test_format_markdown(store):
    result = drift("--store", store, "--no-reports", "--format", "markdown", "--fail-on", "never")
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith("# Drift: ")
    assert text.index("## Incidents") < text.index("## Findings")
    assert "1. **alert** gpt-4o → gpt-4o-2024-11-20" in text
    assert "| # | severity | rule | segment | feature | finding | action |" in text


def test_no_reports_does_not_point_at_reports(store):
    result = drift("--store", store, "--no-reports", "--top", "2", "--fail-on", "never")
    assert "more finding(s)" in result.stdout
    assert "report" not in result.stdout.split("more finding(s)")[1].splitlines()[0]
    with_reports = drift("--store", store, "--top", "2", "--fail-on", "never", "--json", store.parent / "r.json",
                         "--html", store.parent / "r.html")
    assert "all in the JSON report" in with_reports.stdout


@pytest.mark.parametrize("baseline, current", [
    ("2026-10-01..2026-11-05", "2026-11-01..2026-11-07"),
    ("2026-11-01..2026-11-07", "2026-11-01..2026-11-07"),
], ids=["overlapping", "identical"])
def test_overlapping_windows_are_rejected(store, baseline, current):
    result = drift("--store", store, "--baseline", baseline, "--current", current, "--no-reports")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the baseline window") and "overlaps" in lines[0]
