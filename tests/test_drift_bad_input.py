"""`agenttrace drift` on hostile input: out-of-range options and odd or damaged files in a real
whylogs profile store.

A bad option is one ``error:`` line naming the option and its allowed range, exit status 2 (never
1, which means "alert found", and never a traceback). An odd or damaged file inside a store is
skipped and reported on a ``warning:`` line naming it, and the rest of the store is still read:
the alert in the good data is still found (exit 1).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from agenttrace.cli import main
from agenttrace_whylogs import ProfileStore
from drift_traffic import SEGMENT_KEYS, generate, utc

START, SPLIT, END = utc(2026, 10, 1), utc(2026, 10, 31), utc(2026, 11, 7)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """Daily windows; the support agent's refusal rate jumps in the current week (an alert)."""
    root = tmp_path_factory.mktemp("bad-input") / "profiles"
    with ProfileStore(root, window=timedelta(days=1), segment_keys=SEGMENT_KEYS) as s:
        s.write(generate(1500, START, SPLIT, seed=1))
        s.write(generate(500, SPLIT, END, seed=2, refusal_rate=0.2, where={"agent": "support"}))
    return root


@pytest.fixture
def copy(store, tmp_path) -> Path:
    """A private copy of the store without day rollups (they would stand in for damaged window files)."""
    root = tmp_path / "profiles"
    shutil.copytree(store, root, ignore=shutil.ignore_patterns("_days"))
    return root


def drift_cli(*args):
    return CliRunner().invoke(main, ["drift", "--no-progress", "--no-reports", *map(str, args)])


def exited(result, code: int) -> list[str]:
    """Exit status ``code`` without an exception or a traceback; returns the stderr lines."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code and "Traceback" not in result.output, (result.exit_code, result.output)
    return result.stderr.strip().splitlines()


def one_error_line(result) -> str:
    lines = exited(result, 2)
    assert len(lines) == 1 and lines[0].startswith("error: ") and len(lines[0]) < 300, lines
    return lines[0]


def still_finds_the_alert(result) -> list[str]:
    """Exit 1 (the alert in the good data) and only warnings on stderr; returns the warnings."""
    lines = exited(result, 1)
    assert "alert" in result.stdout and lines and all(line.startswith("warning: ") for line in lines), lines
    return lines


@pytest.mark.parametrize("args, says", [
    (["--end", "0001-01-01"], ["--end", "1970-01-01"]),
    (["--end", "9999-12-31"], ["--end", "2262-01-01"]),
    (["--current", "0001-01-01..0001-01-08"], ["--current", "1970-01-01"]),
    (["--baseline-days", "nan"], ["--baseline-days", "36500"]),
    (["--baseline-days", "inf"], ["--baseline-days", "36500"]),
    (["--baseline-days", "1e308"], ["--baseline-days", "36500"]),
    (["--current-days", "1e9"], ["--current-days", "36500"]),
    (["--current-days", "-1"], ["--current-days", "36500"]),
    (["--score-shift", "nan"], ["--score-shift", "finite"]),
    (["--score-shift", "inf"], ["--score-shift", "x>=0"]),
    (["--refusal-abs", "nan"], ["--refusal-abs", "0<=x<=1"]),
    (["--refusal-audit", "nan"], ["--refusal-audit", "finite"]),
    (["--refusal-provider", "-inf"], ["--refusal-provider", "x>=0"]),
    (["--min-rows", "many"], ["--min-rows"]),
    (["--fail-on", "sometimes"], ["--fail-on"]),
    (["--no-such-option"], ["--no-such-option"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v[0].startswith("--") and len(v) > 1 else None)
def test_an_option_out_of_range_is_one_line_naming_it_and_exit_2(store, args, says):
    line = one_error_line(drift_cli("--store", store, *args))
    for word in says:
        assert word in line, line


def test_window_seconds_out_of_range_in_store_json_is_reported_and_inferred(copy):
    info = json.loads((copy / "store.json").read_text())
    info["window_seconds"] = 1e12
    (copy / "store.json").write_text(json.dumps(info))
    warnings = still_finds_the_alert(drift_cli("--store", copy))
    assert any("store.json" in w and "window_seconds" in w for w in warnings), warnings
    assert ProfileStore(copy).stored_window == timedelta(days=1)  # inferred from the window directories


@pytest.mark.parametrize("value", ["NaN", "-5", '"daily"', "true"])
def test_other_bad_window_seconds_are_reported_too(copy, value):
    (copy / "store.json").write_text('{"format": 1, "window_seconds": %s}' % value)
    store = ProfileStore(copy)
    assert store.stored_window == timedelta(days=1)
    assert any("window_seconds" in p for p in store.problems), store.problems


def test_a_window_directory_dated_9999_is_skipped(copy):
    shutil.copytree(copy / "_all" / "20261002T000000Z", copy / "_all" / "99991231T000000Z")
    warnings = still_finds_the_alert(drift_cli("--store", copy))
    assert any("99991231T000000Z" in w for w in warnings), warnings


def test_a_segment_directory_with_a_non_utf8_name_is_skipped(copy):
    bad = os.fsdecode(os.fsencode(str(copy)) + b"/agent=\xff")
    shutil.copytree(copy / "agent=sales", bad)
    odd = copy / "agent=%FF"  # quoted, but not UTF-8 once unquoted: not a name agenttrace writes
    shutil.copytree(copy / "agent=sales", odd)
    warnings = still_finds_the_alert(drift_cli("--store", copy))
    assert any("agent=\\xff" in w for w in warnings), warnings
    assert any("agent=%FF" in w for w in warnings), warnings
    assert "\ufffd" not in ProfileStore(copy).segments()["agent"]


def _flip(data: bytes, at: int, bit: int) -> bytes:
    damaged = bytearray(data)
    damaged[at] ^= 1 << bit
    return bytes(damaged)


def _sneaky_flip(data: bytes, breaks: str) -> bytes:
    """The first single-bit flip of ``data`` that whylogs reads back without complaint but that
    breaks a later step: ``merge`` (merging it with the intact profile: a flip in a KLL sketch) or
    ``summary`` (its metric summaries, as the rules and reports read them: a flip in a frequent
    item's text). Only the bytes of those sketches are tried, high bits first, to keep it quick."""
    from whylogs.core import DatasetProfileView

    good = DatasetProfileView.deserialize(data)
    for column in good.get_columns().values():
        metric = column.get_metric("distribution" if breaks == "merge" else "frequent_items")
        if metric is None:
            continue
        sketch = (metric.kll if breaks == "merge" else metric.frequent_strings).value.serialize()
        start = data.find(sketch)
        for at in range(start, start + len(sketch) if start >= 0 else start):
            for bit in (7, 6, 5, 4, 3, 2, 1, 0):
                damaged = bytearray(data)
                damaged[at] ^= 1 << bit
                try:
                    view = DatasetProfileView.deserialize(bytes(damaged))
                except Exception:  # noqa: BLE001 (whylogs raises many kinds; these were always caught)
                    continue
                try:
                    good.merge(view) if breaks == "merge" else view.to_pandas()
                except Exception:  # noqa: BLE001
                    return bytes(damaged)
    raise AssertionError(f"no bit flip breaks {breaks}")


@pytest.mark.parametrize("breaks", ["merge", "summary"])
def test_a_bit_flipped_profile_without_crc_in_its_name_is_skipped(copy, breaks):
    day = copy / "_all" / "20261102T000000Z"
    original = next(day.glob("*.bin"))
    damaged = _sneaky_flip(original.read_bytes(), breaks)
    original.unlink()
    (day / "legacy-profile.bin").write_bytes(damaged)  # no CRC in the name: its checksum cannot be checked
    warnings = still_finds_the_alert(drift_cli("--store", copy))
    assert any("legacy-profile.bin" in w for w in warnings), warnings
