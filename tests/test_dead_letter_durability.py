"""Nothing acknowledged is lost: the writing process killed with SIGKILL (real subprocesses).
The 20-trial figure is benchmarks/dead_letter.py kill; here a few trials per store."""

from __future__ import annotations

import random

import pytest

from dead_letter_agents import kill_trial


@pytest.mark.parametrize("trial", range(3))
def test_kill_9_while_writing_loses_no_acknowledged_entry_sqlite(tmp_path, trial):
    result = kill_trial(str(tmp_path / "dlq.sqlite"), random.Random(trial))
    assert result["acknowledged"] >= 1
    assert result["lost"] == 0, result
    assert result["integrity"] == "ok"
    assert result["stored"] >= result["acknowledged"]  # an entry committed but not yet acknowledged may be there too


def test_kill_9_while_writing_loses_no_acknowledged_entry_postgresql(postgres_url):
    result = kill_trial(postgres_url, random.Random(7))
    assert result["acknowledged"] >= 1 and result["lost"] == 0, result
