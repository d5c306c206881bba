"""ProfileStore: whylogs profiles of trajectory rows per window × segment, in a directory many writers share.

Real whylogs, real files (tmp_path), synthetic traffic from tests/drift_traffic.py.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections import Counter
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("whylogs")
os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")

from whylogs.core import DatasetProfile  # noqa: E402

from agenttrace_whylogs import DriftConfig, DriftError, ProfileStore, detect  # noqa: E402
from agenttrace_whylogs.store import profile_schema, rows  # noqa: E402
from drift_traffic import generate, utc  # noqa: E402

START, END = utc(2026, 3, 1), utc(2026, 3, 3)
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def traffic():
    return generate(3000, START, END, seed=7)


def _write(root, trajectories, **kw) -> ProfileStore:
    store = ProfileStore(root, **kw)
    store.write(trajectories)
    store.close()
    return store


@pytest.fixture(scope="module")
def hourly(tmp_path_factory, traffic) -> ProfileStore:
    """The traffic in a store with the default settings (hourly windows, default segment keys, day
    rollups), written once for the module; tests that change files work on a copy."""
    return _write(tmp_path_factory.mktemp("hourly") / "s", traffic)


def _copy(store: ProfileStore, dest, rollups: bool = True) -> ProfileStore:
    shutil.copytree(store.root, dest)
    if not rollups:
        shutil.rmtree(dest / "_days")
    return ProfileStore(dest)


def _dist(view, column):
    return view.get_column(column).get_metric("distribution")


def test_round_trip_counts_means_and_frequent_items(hourly, traffic):
    store = ProfileStore(hourly.root)
    view = store.read(START, END)
    assert rows(view) == len(traffic)

    latency = np.array([t.features["latency_ms"] for t in traffic])
    assert _dist(view, "latency_ms").n == len(traffic)
    assert _dist(view, "latency_ms").avg == pytest.approx(latency.mean(), rel=1e-9)
    assert _dist(view, "latency_ms").stddev == pytest.approx(latency.std(ddof=1), rel=1e-6)

    # missing scores: counted as nulls, the distribution has the scored rows only
    scored = [t.features["relevance"] for t in traffic if t.features["relevance"] is not None]
    rel = view.get_column("relevance")
    assert rel.get_metric("counts").null.value == len(traffic) - len(scored)
    assert _dist(view, "relevance").n == len(scored)
    assert _dist(view, "relevance").avg == pytest.approx(np.mean(scored), rel=1e-9)

    # categorical features: frequent items are exact at this cardinality
    items = view.get_column("tool_sequence").get_metric("frequent_items").to_summary_dict()["frequent_strings"]
    assert {i.value: i.est for i in items} == dict(Counter(t.features["tool_sequence"] for t in traffic))

    # a segment holds exactly its rows; a sub-range exactly the rows of its windows
    support = [t for t in traffic if t.segments["agent"] == "support"]
    assert rows(store.read(START, END, ("agent", "support"))) == len(support)
    cut = START + timedelta(hours=13)
    assert rows(store.read(START, cut)) == sum(t.end_time < cut.timestamp() for t in traffic)
    assert rows(store.read(START, cut, ("agent", "support"))) == sum(t.end_time < cut.timestamp() for t in support)
    assert store.read(END, END + HOUR) is None
    assert store.problems == []


def test_windows_segments_time_range_and_store_json(hourly, traffic):
    store = hourly
    assert store.windows() == [START + i * HOUR for i in range(48)]
    assert store.windows(("prompt_template", "returns_v2"))[0] == START
    assert store.segments() == {
        "agent": ["billing", "sales", "support"],
        "client_category": ["finance", "health", "retail", "travel"],
        "prompt_template": ["billing_v4", "returns_v2", "sales_v1", "support_v3"],
        "request_model": ["gpt-4o", "gpt-4o-mini"],
        "segment": ["enterprise", "mid_market", "smb"],
    }
    assert store.time_range() == (START, END)
    info = json.loads((store.root / "store.json").read_text())
    assert info["format"] == 1 and info["window_seconds"] == 3600
    # a reader with another window size reads by window start and takes the window end from store.json
    other = ProfileStore(store.root, window=timedelta(minutes=5))
    assert other.time_range() == (START, END)
    assert rows(other.read(START, END)) == len(traffic)


def test_same_profile_as_whylogs_track(tmp_path, traffic):
    """The store's column-by-column updates give the profile whylogs' own DatasetProfile.track gives.

    1,000 rows: below the KLL sketch's k (1,024) both sketches hold every value, so even the
    quantiles must match exactly (above it, KLL compaction is randomised)."""
    traffic = traffic[:1000]
    store = _write(tmp_path / "s", traffic, window=timedelta(days=7), day_rollups=False)
    ours = store.read(START - timedelta(days=7), END)  # windows are aligned to the epoch: this one starts on a Thursday
    assert rows(ours) == len(traffic)
    frame = pd.DataFrame.from_records([t.as_row() for t in traffic])
    theirs = DatasetProfile(schema=profile_schema())
    theirs.track(pandas=frame)
    theirs = theirs.view()
    assert sorted(ours.get_columns()) == sorted(theirs.get_columns())
    for name in theirs.get_columns():
        a = ours.get_column(name).to_summary_dict()
        b = theirs.get_column(name).to_summary_dict()
        assert sorted(a) == sorted(b), name
        for key in b:
            if key == "frequent_items/frequent_strings":
                assert {(i.value, i.est) for i in a[key]} == {(i.value, i.est) for i in b[key]}, name
            elif isinstance(b[key], float):
                assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12), (name, key)
            else:
                assert a[key] == b[key], (name, key)


def test_four_writers_merge_to_one_writer(tmp_path, traffic):
    """Rows split over four writers (interleaved, as four app processes would) read back as one writer's."""
    drifted = traffic + generate(1500, END, END + timedelta(days=1), seed=8, latency_scale=1.8, where={"agent": "billing"},
                                 new_model_at=END + timedelta(hours=6))
    six = timedelta(hours=6)
    one = _write(tmp_path / "one", drifted, window=six)
    writers = [ProfileStore(tmp_path / "four", writer_id=f"w{i}", window=six) for i in range(4)]
    for i, t in enumerate(drifted):
        writers[i % 4].write([t])
    for w in writers:
        w.close()
    four = ProfileStore(tmp_path / "four")
    assert len({p.name.split("-")[0] for p in (tmp_path / "four" / "_all").rglob("*.bin")}) == 4
    end = END + timedelta(days=1)
    for seg in [None, ("agent", "billing"), ("client_category", "health")]:
        a, b = one.read(START, end, seg), four.read(START, end, seg)
        assert rows(a) == rows(b)
        for col in ("latency_ms", "relevance", "step_count"):
            assert _dist(a, col).n == _dist(b, col).n
            assert _dist(a, col).avg == pytest.approx(_dist(b, col).avg, rel=1e-9)
            assert _dist(a, col).stddev == pytest.approx(_dist(b, col).stddev, rel=1e-6)
    config = DriftConfig(baseline=timedelta(days=2), current=timedelta(days=1))
    found = [{(f.rule, f.segment_key, f.segment_value, f.feature, f.severity) for f in detect(s, config=config).findings}
             for s in (one, four)]
    assert found[0] == found[1]
    assert ("distribution_drift", "agent", "billing", "latency_ms", "alert") in found[0]
    assert ("model_version_change", "*", "*", "model_version", "alert") in found[0]


def test_concurrent_writes_from_threads(tmp_path, traffic):
    store = ProfileStore(tmp_path / "s", stage_rows=100, window=timedelta(hours=6))
    chunks = [traffic[i::6] for i in range(6)]
    threads = [threading.Thread(target=lambda c=c: [store.write(c[j:j + 25]) for j in range(0, len(c), 25)]) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    assert rows(store.read(START, END)) == len(traffic)
    assert rows(store.read(START, END, ("segment", "smb"))) == sum(t.segments["segment"] == "smb" for t in traffic)


def test_flush_before_keeps_open_windows_and_never_rewrites(tmp_path, traffic):
    store = ProfileStore(tmp_path / "s", segment_keys=("agent",))
    store.write(traffic)
    cut = START + timedelta(hours=30)
    store.flush(before=cut)
    assert store.windows() == [START + i * HOUR for i in range(30)]
    assert store.buffered_rows() == sum(t.end_time >= cut.timestamp() for t in traffic)
    files = {p: p.stat().st_mtime_ns for p in (tmp_path / "s").rglob("*.bin")}
    store.write(generate(50, START, cut, seed=99))  # late rows for windows already flushed
    store.close()
    assert store.buffered_rows() == 0
    assert all(p.stat().st_mtime_ns == m for p, m in files.items())  # new files only
    assert rows(store.read(START, END)) == len(traffic) + 50


def test_flush_closed_keeps_the_window_of_the_newest_row(tmp_path, traffic):
    store = ProfileStore(tmp_path / "s", segment_keys=("agent",))
    store.write(traffic[:2000])
    newest = traffic[1999].end_time
    open_start = newest - newest % 3600
    store.flush_closed()
    assert store.buffered_rows() == sum(open_start <= t.end_time <= newest for t in traffic[:2000])
    assert store.windows()[-1].timestamp() == open_start - 3600
    assert not (tmp_path / "s" / "_days" / "_all" / "20260302").exists()  # the newest day: rolled up at close()
    store.close()
    assert rows(store.read(START, END)) == 2000
    assert (tmp_path / "s" / "_days" / "_all" / "20260302").is_dir()


def test_day_rollups_replace_window_files_for_whole_days(tmp_path, hourly, traffic):
    store = _copy(hourly, tmp_path / "s")
    day_files = sorted((tmp_path / "s" / "_days" / "_all").rglob("*.bin"))
    assert len(day_files) == 2  # one per UTC day
    assert json.loads(ProfileStore(tmp_path / "s")._load(day_files[0]).metadata["agenttrace.covers"])[0].startswith("20260301T000000Z/")
    plain = hourly
    for seg in (None, ("agent", "sales")):
        a = store.read(START, END, seg)  # whole days: the rollups
        merged = None
        for _, v in plain.read_windows(START, END, seg):
            merged = v if merged is None else merged.merge(v)
        assert rows(a) == rows(merged)
        assert _dist(a, "latency_ms").avg == pytest.approx(_dist(merged, "latency_ms").avg, rel=1e-9)
    # late rows after the rollup: a new window file that no rollup covers is read as well
    late = generate(40, START + timedelta(hours=2), START + timedelta(hours=3), seed=5)
    _write(tmp_path / "s", late, writer_id="late")
    assert rows(store.read(START, END)) == len(traffic) + 40
    # a damaged rollup is reported, and its day is read from the window files
    day_files[0].write_bytes(day_files[0].read_bytes()[:100])
    fresh = ProfileStore(tmp_path / "s")
    assert rows(fresh.read(START, END)) == len(traffic) + 40
    assert len(fresh.problems) == 1 and "checksum" in fresh.problems[0]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "bitflip"])
def test_damaged_file_is_skipped_and_listed(tmp_path, hourly, traffic, damage):
    store = _copy(hourly, tmp_path / "s", rollups=False)
    window = tmp_path / "s" / "_all" / "20260301T050000Z"
    (victim,) = window.glob("*.bin")
    lost = sum(START.timestamp() + 5 * 3600 <= t.end_time < START.timestamp() + 6 * 3600 for t in traffic)
    data = victim.read_bytes()
    victim.write_bytes({"truncate": data[: len(data) // 2], "garbage": os.urandom(len(data)), "empty": b"",
                        "bitflip": data[:200] + bytes([data[200] ^ 0x40]) + data[201:]}[damage])
    assert rows(store.read(START, END)) == len(traffic) - lost
    assert len(store.problems) == 1
    assert store.problems[0].startswith("_all/20260301T050000Z/") and ("checksum" in store.problems[0] or "empty" in store.problems[0])
    # a file that does not follow the naming (no checksum) and is not a profile: skipped with its reason
    (window / "foreign.bin").write_bytes(b"not a profile")
    fresh = ProfileStore(tmp_path / "s")
    assert rows(fresh.read(START, END)) == len(traffic) - lost
    assert any("foreign.bin: not a whylogs profile" in p for p in fresh.problems)
    if damage == "garbage":  # detect still runs and names the damaged files in its notes
        result = detect(fresh, config=DriftConfig(baseline=timedelta(days=1), current=timedelta(days=1), segment_keys=["agent"]))
        assert result.rows_baseline == sum(t.end_time < END.timestamp() - 86400 for t in traffic) - lost
        assert sum(n.startswith("profile store: ") and "skipped" in n for n in result.notes) == 2


def test_missing_and_empty_store(tmp_path):
    missing = ProfileStore(tmp_path / "nope")
    assert missing.time_range() is None and missing.windows() == [] and missing.segments() == {}
    assert missing.read(START, END) is None
    with pytest.raises(DriftError, match="no profile store at .*nope.*does not exist"):
        detect(missing)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DriftError, match="holds no profiles yet"):
        detect(ProfileStore(tmp_path / "empty"))
    with pytest.raises(ValueError, match="no timezone"):
        missing.read(START.replace(tzinfo=None), END)
