"""`agenttrace drift` on real whylogs profile stores built from generated traffic (tests/drift_traffic.py).

Exit status 1 on an alert and 0 on stationary traffic, both reports written (the HTML one
self-contained), and every kind of bad input answered with one ``error:`` line and status 2.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from agenttrace.cli import main
from agenttrace_whylogs.cli import drift
from agenttrace_whylogs import ProfileStore
from drift_traffic import SEGMENT_KEYS, generate, utc
from phoenix_fixtures import free_port

START, SPLIT, END = utc(2026, 10, 1), utc(2026, 10, 31), utc(2026, 11, 7)  # 30 days baseline, 7 days current
DAY = timedelta(days=1)  # daily profile windows keep these stores small and quick to build


def build(root: Path, *parts) -> Path:
    with ProfileStore(root, window=DAY, segment_keys=SEGMENT_KEYS) as store:
        for part in parts:
            store.write(part)
    return root


@pytest.fixture(scope="module")
def drifted(tmp_path_factory) -> Path:
    """The support agent's refusal rate goes from 0.3% to 4% in the current week."""
    return build(tmp_path_factory.mktemp("drifted") / "profiles",
                 generate(9000, START, SPLIT, seed=1),
                 generate(3000, SPLIT, END, seed=2, refusal_rate=0.04, where={"agent": "support"}))


@pytest.fixture(scope="module")
def stationary(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("stationary") / "profiles", generate(12000, START, END, seed=3))


def drift_cli(*args: str):
    return CliRunner().invoke(main, ["drift", "--no-progress", *map(str, args)], catch_exceptions=False)


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_an_alert_exits_1_and_writes_both_reports(drifted, tmp_path):
    out_json, out_html = tmp_path / "r" / "drift.json", tmp_path / "r" / "drift.html"
    result = drift_cli("--store", drifted, "--json", out_json, "--html", out_html)
    assert result.exit_code == 1, result.output
    assert "baseline 2026-10-01 → 2026-10-31 (9,000 runs)" in result.stdout
    assert "current 2026-10-31 → 2026-11-07 (3,000 runs)" in result.stdout
    assert "alert" in result.stdout and "agent=support" in result.stdout

    report = json.loads(out_json.read_text())
    assert report["meta"]["baseline"] == {"start": "2026-10-01T00:00:00Z", "end": "2026-10-31T00:00:00Z", "rows": 9000}
    assert {tuple(f["window"]) for f in report["findings"]} == {("2026-10-31T00:00:00Z", "2026-11-07T00:00:00Z")}
    assert report["meta"]["current"]["rows"] == 3000 and report["meta"]["counts"]["alert"] >= 1
    refusal = [f for f in report["findings"] if f["feature"] == "refusal_flagged" and f["severity"] == "alert"]
    assert {(f["segment_key"], f["segment_value"]) for f in refusal} >= {("agent", "support")}
    assert all(f["annotation"] for f in report["findings"])

    page = out_html.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count('<img src="data:image/png;base64,') >= 4
    # self-contained: nothing is loaded from anywhere
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//|file:)""", page, re.I)
    assert "<script" not in page.lower() and "<link" not in page.lower() and "url(" not in page and "@import" not in page
    assert "Refusal rate per category and day" in page and "agent=support" in page


def test_stationary_traffic_exits_0(stationary, tmp_path):
    result = drift_cli("--store", stationary, "--json", tmp_path / "r.json", "--html", tmp_path / "r.html")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["meta"]["counts"]["alert"] == 0


def test_fail_on_decides_the_exit_status(drifted):
    assert drift_cli("--store", drifted, "--no-reports", "--fail-on", "never").exit_code == 0
    assert drift_cli("--store", drifted, "--no-reports", "--fail-on", "warning").exit_code == 1


def test_reports_go_to_agenttrace_reports_by_default(drifted, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = drift_cli("--store", drifted.resolve())
    assert result.exit_code == 1
    names = [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.suffix for p in names} == {".json", ".html"} and len(names) == 2
    assert all(p.parent == Path(".agenttrace/reports") and p.name.startswith("drift-") for p in names)
    assert "JSON report: .agenttrace/reports/drift-" in result.stdout
    for p in names:
        p.unlink()
    assert drift_cli("--store", drifted.resolve(), "--no-reports").exit_code == 1
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_explicit_windows_and_environment_store(drifted, monkeypatch):
    monkeypatch.setenv("AGENTTRACE_PROFILE_STORE", str(drifted))
    # two baseline weeks against each other: no drift
    result = drift_cli("--baseline", "2026-10-01..2026-10-15", "--current", "2026-10-15..2026-10-29", "--no-reports")
    assert result.exit_code == 0, result.output
    assert "baseline 2026-10-01 → 2026-10-15" in result.stdout and "current 2026-10-15 → 2026-10-29" in result.stdout


@pytest.mark.parametrize("args, says", [
    (["--store", "{tmp}/nowhere"], "no profile store at"),
    (["--store", "{empty}"], "holds no profiles"),
    (["--store", "{drifted}", "--current", "2027-01-01..2027-01-08"], ""),
    (["--store", "{drifted}", "--end", "2027-03-01"], ""),
    (["--store", "{drifted}", "--segment-key", "no_such_key"], "no_such_key"),
    (["--store", "{drifted}", "--baseline", "2026-10-01"], "START..END"),
    (["--store", "{drifted}", "--current", "2026-11-07..2026-10-31"], "not after"),
    (["--store", "{drifted}", "--end", "yesterday"], "ISO date"),
    (["--store", "{drifted}", "--from-phoenix"], "--phoenix-project"),
    (["--store", "{tmp}/nowhere", "--phoenix-project", "p", "--phoenix-url", "http://127.0.0.1:{port}"],
     "cannot reach Phoenix"),
], ids=["missing store", "empty store", "window without data", "end after the data", "unknown segment key",
        "bad range", "reversed range", "bad time", "from-phoenix without project", "Phoenix unreachable"])
def test_bad_input_is_one_line_and_exit_2(drifted, tmp_path, args, says):
    (tmp_path / "empty").mkdir()
    values = {"tmp": tmp_path, "empty": tmp_path / "empty", "drifted": drifted, "port": free_port()}
    result = drift_cli(*[a.format(**values) for a in args], "--no-reports")
    line = one_error_line(result)
    assert says in line
    assert len(line) < 400


def test_a_corrupt_profile_file_is_reported_and_the_rest_is_read(drifted, tmp_path):
    store = tmp_path / "profiles"
    shutil.copytree(drifted, store, ignore=shutil.ignore_patterns("_days"))  # day rollups would stand in for it
    victim = sorted((store / "_all").rglob("*.bin"))[3]
    victim.write_bytes(victim.read_bytes()[:40])  # truncated, as by a full disk
    result = drift_cli("--store", store, "--no-reports")
    assert result.exit_code == 1, result.output  # the alert is still found
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and victim.name in warnings[0]
    assert "Traceback" not in result.output


def test_help_explains_every_option():
    text = CliRunner().invoke(main, ["drift", "--help"]).output
    for param in drift.params:
        for opt in [*param.opts, *param.secondary_opts]:
            assert opt in text, opt
        if not getattr(param, "hidden", False) and param.name != "help":
            assert param.help and len(param.help) > 20, param.name
    for word in ("exit", "alert", "baseline", "current", "segment"):
        assert word in text.lower()
