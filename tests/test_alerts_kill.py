"""kill -9 of a watcher at random points — mostly while it waits on a slow receiver — then a
restart: every incident opens once in the history, no delivery is lost, and the receiver gets
each opening under exactly one delivery id. A kill after the receiver accepted a message and before
its row was marked sent resends it (at-least-once): the resend carries the same delivery id, so a
receiver that dedupes on it counts one; the test measures how many raw resends happened."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict

from agenttrace.alerts import Alerter
from alert_receivers import HookReceiver, alert_store_target  # noqa: F401 — the fixture

CHILD = os.path.join(os.path.dirname(__file__), "alert_watch_child.py")
INCIDENTS, PASSES, KILLS = 30, 15, 6


def _start(target: str, url: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, CHILD, target, url, str(INCIDENTS), str(PASSES), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_while_delivering_then_restart_loses_nothing_and_sends_each_opening_once(alert_store_target):
    rng = random.Random(14)
    with HookReceiver(delay=0.1) as receiver:
        for _ in range(KILLS):
            before = receiver.attempts
            child = _start(alert_store_target, receiver.url)
            # kill once it has sent 1-3 more messages, at a random point of the next 0.15 s: inside
            # the receiver's 0.1 s answer, marking a row sent, or observing the next pass
            deadline = time.monotonic() + 30
            wanted = before + rng.randint(1, 3)
            while receiver.attempts < wanted and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.15))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            assert child.returncode == -signal.SIGKILL, child.stderr.read()
        final = _start(alert_store_target, receiver.url)
        out, err = final.communicate(timeout=120)
        assert final.returncode == 0 and "done" in out, err
        received = receiver.bodies()

    alerter = Alerter(alert_store_target, [])
    openings = [e for e in alerter.history(1000) if e["kind"] == "opened"]
    assert sorted(e["incident_id"] for e in openings) == sorted(f"incident-{i}" for i in range(INCIDENTS))
    assert alerter.pending() == []  # nothing lost: every delivery sent
    assert all(d["status"] == "sent" for e in openings for d in e["deliveries"])

    ids_per_incident = defaultdict(set)
    for body in received:
        ids_per_incident[body["incident"]["id"]].add(body["delivery_id"])
    assert {k: len(v) for k, v in ids_per_incident.items()} == {f"incident-{i}": 1 for i in range(INCIDENTS)}
    resends = len(received) - INCIDENTS
    assert 0 <= resends <= KILLS  # a kill can resend at most the one message in flight
    print(f"\nkill -9 x{KILLS}: {len(received)} messages received for {INCIDENTS} openings "
          f"({resends} resent with the same delivery_id)")


def test_kill_9_inside_a_lifecycle_pass_leaves_neither_state_nor_notification(alert_store_target):
    """Killed after the pass wrote its first state, history and outbox rows but before it
    committed: nothing of that pass exists after the restart, which then opens and notifies once."""
    with HookReceiver() as receiver:
        child = _start(alert_store_target, receiver.url, "stall")
        assert child.stdout.readline().strip() == "in transaction", child.stderr.read()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        alerter = Alerter(alert_store_target, [])
        assert alerter.incidents() == [] and alerter.history() == [] and alerter.pending() == []
        alerter.store.close()
        final = _start(alert_store_target, receiver.url)
        out, err = final.communicate(timeout=120)
        assert final.returncode == 0, err
        received = receiver.bodies()
    assert sorted(b["incident"]["id"] for b in received) == sorted(f"incident-{i}" for i in range(INCIDENTS))
