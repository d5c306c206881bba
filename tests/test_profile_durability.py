"""Trajectory profiles survive kill -9 and SIGTERM: the row journal, committed flushes, recovery, symlinks.

Real subprocesses killed with real signals, a real LangGraph agent, real whylogs files. A child that
must die at an exact point (in the middle of a flush, between a commit and the removal of the journal
it folded) kills itself with SIGKILL from a wrapper around ``os.replace`` / ``os.link`` / ``os.unlink``:
the process dies there exactly as a ``kill -9`` would leave it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pytest.importorskip("whylogs")
os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

import agenttrace  # noqa: E402
from agenttrace_whylogs import ProfileStore  # noqa: E402
from agenttrace_whylogs.store import rows  # noqa: E402
from conftest import ask, build_agent  # noqa: E402
from drift_traffic import generate, utc  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="kill -9 and flock")

TESTS = Path(__file__).parent
START, END = utc(2026, 3, 1), utc(2026, 3, 3)
BOUND = 2.0  # seconds: rows of runs that ended longer ago than this survive a kill -9 (sync_interval 1 s + slack)

# dies (SIGKILL, as kill -9) at the n-th call of os.replace/os.link onto a name ending in `suffix`,
# or of os.unlink of one: a crash at an exact point of a flush or a recovery
DIE_AT = """
import os, signal
def die_at(suffix, n, *names):
    calls = [0]
    def wrap(real):
        def wrapped(*args, **kw):
            target = str(args[1] if real.__name__ in ("replace", "link", "rename") else args[0])
            if target.endswith(suffix):
                calls[0] += 1
                if calls[0] >= n:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kw)
        return wrapped
    for name in names:
        setattr(os, name, wrap(getattr(os, name)))
"""

AGENT_LOOP = """
import sys, time
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import agenttrace
from conftest import ask, build_agent
store, log = sys.argv[1], sys.argv[2]
at = agenttrace.configure(project="durability", span_exporter=InMemorySpanExporter(), batch=False, set_global=False,
                          profile_store=store)
graph = build_agent()
"""


def child(code: str, *args, wait: bool = True, timeout: float = 60) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], env=env, cwd=TESTS,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        out, err = proc.communicate(timeout=timeout)
        proc.out, proc.err = out, err
    return proc


def logged(log: Path) -> list[float]:
    """Completion times of the runs a child logged (a torn last line is ignored)."""
    if not log.exists():
        return []
    return [float(line.split()[1]) for line in log.read_text().splitlines() if len(line.split()) == 2]


def wait_for_runs(log: Path, n: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while len(logged(log)) < n:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, f"the child logged {len(logged(log))} runs"
        time.sleep(0.05)


def stored_rows(root: Path) -> int:
    now = datetime.now(timezone.utc)
    return rows(ProfileStore(root).read(now - timedelta(days=2), now + timedelta(days=1)))


# the agent runs until it is killed, logging each run it completed (id, end time)
RUN_FOREVER = """
with open(log, "a", buffering=1) as f:
    for i in range(10**9):
        graph.invoke(ask(), config={"callbacks": [at.callback_handler], "configurable": {"thread_id": f"t{i}"}})
        f.write(f"{i} {time.time()}\\n")
"""


def journal_files(root: Path) -> list[Path]:
    return sorted((root / "_journal").rglob("*.jsonl"))


def test_kill_9_of_an_instrumented_agent_loses_only_the_last_second(tmp_path):
    store, log = tmp_path / "profiles", tmp_path / "runs.log"
    proc = child(AGENT_LOOP + RUN_FOREVER, store, log, wait=False)
    try:
        wait_for_runs(log, 20, proc)
        time.sleep(BOUND + 0.5)
        proc.kill()
        killed = time.time()
        proc.wait(10)
    finally:
        proc.kill()
    done = logged(log)
    durable = sum(t <= killed - BOUND for t in done)
    got = stored_rows(store)
    assert durable >= 20
    assert durable <= got <= len(done) + 1  # + a run that finished but was not logged yet
    assert journal_files(store)  # recovered from the dead writer's journal, not (yet) from profiles
    # the next writer folds the journal into profiles; the count does not change
    assert ProfileStore(store).recover() == got
    assert not journal_files(store) and stored_rows(store) == got


def test_a_writer_killed_in_the_middle_of_a_flush_leaves_no_partial_flush_visible(tmp_path):
    root = tmp_path / "s"
    proc = child(DIE_AT + """
import sys
from agenttrace_whylogs import ProfileStore
from drift_traffic import generate, utc
store = ProfileStore(sys.argv[1], segment_keys=("agent",))
store.write(generate(3000, utc(2026, 3, 1), utc(2026, 3, 1, 12), seed=7))
die_at(".bin", 6, "replace", "link", "rename")  # the 6th profile file of the flush
store.flush()
""", root)
    assert proc.returncode == -signal.SIGKILL, proc.err
    assert list(root.rglob("*.bin"))  # files of the killed flush are on disk...
    store = ProfileStore(root)
    assert rows(store.read(START, END)) == 3000  # ...but not counted: the journal's rows, each once
    per_agent = [rows(store.read(START, END, ("agent", a))) for a in store.segments()["agent"]]
    assert sum(per_agent) == 3000
    assert sum(rows(v) for _, v in store.read_windows(START, END)) == 3000
    assert not store.problems


def test_recovery_never_counts_a_row_twice_across_restarts(tmp_path):
    root = tmp_path / "s"
    n = 2000
    first = child("""
import os, signal, sys
from agenttrace_whylogs import ProfileStore
from drift_traffic import generate, utc
store = ProfileStore(sys.argv[1], segment_keys=("agent",))
store.write(generate(int(sys.argv[2]), utc(2026, 3, 1), utc(2026, 3, 1, 6), seed=7))
os.kill(os.getpid(), signal.SIGKILL)
""", root, n)
    assert first.returncode == -signal.SIGKILL, first.err
    assert rows(ProfileStore(root).read(START, END)) == n  # a reader folds the dead writer's journal in
    # the next writer folds it into profiles and is killed after the commit, before the journal is removed
    second = child(DIE_AT + """
import sys
from agenttrace_whylogs import ProfileStore
die_at(".jsonl", 1, "unlink")
ProfileStore(sys.argv[1]).recover()
""", root)
    assert second.returncode == -signal.SIGKILL, second.err
    assert journal_files(root) and list((root / "_commits").rglob("*.json"))
    assert rows(ProfileStore(root).read(START, END)) == n
    # and the one after it only removes the journal its predecessor committed
    assert ProfileStore(root).recover() == 0
    assert not journal_files(root)
    store = ProfileStore(root)
    assert rows(store.read(START, END)) == n and not store.problems


def test_a_live_writers_journal_is_not_read_and_close_commits_it(tmp_path):
    traffic = generate(500, START, START + timedelta(hours=6), seed=3)
    writer = ProfileStore(tmp_path / "s", segment_keys=("agent",))
    writer.write(traffic)
    assert writer.sync() and journal_files(tmp_path / "s")
    assert rows(ProfileStore(tmp_path / "s").read(START, END)) == 0  # alive: its rows are its own to flush
    writer.close()
    assert not journal_files(tmp_path / "s") and not list((tmp_path / "s" / "_journal").iterdir())
    assert rows(ProfileStore(tmp_path / "s").read(START, END)) == len(traffic)


def test_concurrent_writers_lose_no_committed_rows(tmp_path):
    root = tmp_path / "s"
    code = """
import os, signal, sys
from agenttrace_whylogs import ProfileStore
from drift_traffic import generate, utc
root, i, die_after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = ProfileStore(root, writer_id=f"w{i}", segment_keys=("agent",))
traffic = sorted(generate(1000, utc(2026, 3, 1), utc(2026, 3, 1, 8), seed=i), key=lambda t: t.end_time)
for b in range(10):
    store.write(traffic[b * 100:(b + 1) * 100])
    store.flush_closed()
    print(b, flush=True)
    if b == die_after:
        os.kill(os.getpid(), signal.SIGKILL)
store.close()
"""
    procs = [child(code, root, i, 3 if i == 0 else -1, wait=False) for i in range(3)]
    for p in procs:
        p.out, p.err = p.communicate(timeout=120)
    assert procs[0].returncode == -signal.SIGKILL and [p.returncode for p in procs[1:]] == [0, 0], procs[1].err
    written = 4 * 100 + 2 * 1000
    assert rows(ProfileStore(root).read(START, END)) == written
    # the next writer folds the dead one's journal (unless a survivor, started after it died, already did)
    ProfileStore(root).recover()
    assert not journal_files(root)
    assert rows(ProfileStore(root).read(START, END)) == written


def test_force_flush_makes_every_accepted_row_durable(tmp_path):
    store, log = tmp_path / "profiles", tmp_path / "runs.log"
    proc = child(AGENT_LOOP + """
import os, signal
with open(log, "a", buffering=1) as f:
    for i in range(12):
        graph.invoke(ask(), config={"callbacks": [at.callback_handler], "configurable": {"thread_id": f"t{i}"}})
        f.write(f"{i} {time.time()}\\n")
assert at.profiler.force_flush(5000)
os.kill(os.getpid(), signal.SIGKILL)  # at once: no worker tick, no exit handler
""", store, log)
    assert proc.returncode == -signal.SIGKILL, proc.err
    assert stored_rows(store) == len(logged(log)) == 12


def test_shutdown_from_a_sigterm_handler_mid_traffic_keeps_every_run(tmp_path):
    store, log = tmp_path / "profiles", tmp_path / "runs.log"
    proc = child(AGENT_LOOP + """
import os, signal
def stop(signum, frame):
    began = time.monotonic()
    if not at.profiler.shutdown(3000):
        import traceback
        for tid, frame in sys._current_frames().items():
            sys.stderr.write("".join(traceback.format_stack(frame)) + "\\n----\\n")
    at.profiler.shutdown(3000)  # idempotent
    sys.stderr.write(f"shutdown {time.monotonic() - began:.3f}\\n")
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
""" + RUN_FOREVER, store, log, wait=False)
    try:
        wait_for_runs(log, 15, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    took = float(err.split("shutdown ")[-1].split()[0])
    assert took < 3.5, err  # the stacks of every thread are in err when the first shutdown timed out
    done = len(logged(log))
    assert done <= stored_rows(store) <= done + 1
    assert not journal_files(store)  # closed like a normal exit: the rows are in profiles


class SlowSink:
    """A sink whose close takes long (a huge store, a slow disk); rows are durable once synced."""

    def __init__(self):
        self.rows, self.synced, self.closed = [], 0, threading.Event()

    def write(self, trajectories):
        self.rows.extend(trajectories)

    def sync(self):
        self.synced = len(self.rows)
        return True

    def flush(self):
        pass

    def close(self):
        time.sleep(3)
        self.closed.set()


def test_shutdown_keeps_its_timeout_and_is_idempotent():
    sink = SlowSink()
    at = agenttrace.configure(project="durability", span_exporter=InMemorySpanExporter(), batch=False, set_global=False,
                              profile_store=sink)
    graph = build_agent()
    for i in range(5):
        graph.invoke(ask(), config={"callbacks": [at.callback_handler], "configurable": {"thread_id": f"t{i}"}})
    processor = at.profiler
    began = time.monotonic()
    assert processor.shutdown(timeout_millis=500) is False  # the sink is still closing...
    assert time.monotonic() - began < 1.5
    assert len(sink.rows) == 5 and sink.synced == 5  # ...but every accepted row was handed over and synced first
    began = time.monotonic()
    assert processor.shutdown(timeout_millis=200) is False
    assert time.monotonic() - began < 0.5
    assert processor.force_flush(100) is False
    assert sink.closed.wait(5) and processor.shutdown(100) is True and processor.force_flush(100) is True


def test_symlinks_out_of_the_store_are_not_read(tmp_path):
    traffic = generate(600, START, END, seed=4)
    root, outside, six = tmp_path / "s", tmp_path / "outside", timedelta(hours=6)
    for path, data, writer in ((root, traffic, None), (outside, generate(300, START, END, seed=5), "x")):
        store = ProfileStore(path, segment_keys=("agent",), window=six, writer_id=writer)
        store.write(data)
        store.close()
    (root / "agent=evil").symlink_to(outside / "agent=support")  # a segment directory
    (root / "_all" / "20260302T180000Z").rename(tmp_path / "moved")
    (root / "_all" / "20260302T180000Z").symlink_to(outside / "_all" / "20260302T180000Z")  # a window directory
    window = root / "_all" / "20260301T060000Z"
    (window / "x-000001-00000000.bin").symlink_to(next((outside / "_all" / "20260301T060000Z").glob("*.bin")))  # a file
    (root / "_days").rename(tmp_path / "days")
    (root / "_days").symlink_to(outside / "_days")  # the rollups
    (root / "agent=alias").symlink_to(root / "agent=support")  # inside the store: followed
    fresh = ProfileStore(root)
    moved = sum(utc(2026, 3, 2, 18).timestamp() <= t.end_time for t in traffic)
    assert rows(fresh.read(START, END)) == len(traffic) - moved
    assert fresh.segments()["agent"] == ["alias", "billing", "sales", "support"]
    assert rows(fresh.read(START, END, ("agent", "alias"))) == rows(fresh.read(START, END, ("agent", "support")))
    assert rows(fresh.read(START, END, ("agent", "evil"))) == 0
    named = {p.split(":")[0] for p in fresh.problems}
    assert {"agent=evil", "_all/20260302T180000Z", "_all/20260301T060000Z/x-000001-00000000.bin", "_days/_all"} <= named
    assert all(n.startswith(("agent=evil", "_all/", "_days/")) for n in named)
    assert all(p.endswith(": symlink to outside the store, ignored") for p in fresh.problems)


def test_symlinks_out_of_the_store_are_not_written(tmp_path):
    root, outside = tmp_path / "s", tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (root / "_all").symlink_to(outside)
    store = ProfileStore(root, segment_keys=("agent",))
    store.write(generate(200, START, END, seed=4))
    with pytest.raises(OSError, match="outside the profile store"):
        store.close()
    assert not list(outside.iterdir())
    assert store.buffered_rows() == 200  # kept (and journaled): nothing is lost, nothing written outside
    assert not ProfileStore(root).read(START, END)  # the failed flush was never committed


def test_configure_passes_the_sync_interval_to_the_worker_and_the_store(tmp_path):
    at = agenttrace.configure(project="durability", span_exporter=InMemorySpanExporter(), batch=False, set_global=False,
                              handle_sigterm=False, profile_store=tmp_path / "p", profile_sync_interval=0.25)
    try:
        assert at.profiler.sync_interval == 0.25 and at.profiler.sink._journal is not None
        build_agent().invoke(ask(), config={"callbacks": [at.callback_handler]})
        deadline = time.monotonic() + 5
        while not journal_files(tmp_path / "p") and time.monotonic() < deadline:  # on disk without any flush
            time.sleep(0.05)
        assert journal_files(tmp_path / "p")
    finally:
        at.shutdown()
    with pytest.raises(ValueError, match="profile_sync_interval"):
        agenttrace.configure(project="x", span_exporter=InMemorySpanExporter(), set_global=False, profile_sync_interval=0)
