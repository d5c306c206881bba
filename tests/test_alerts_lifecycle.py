"""The incident lifecycle on SQLite and PostgreSQL: opened once, escalated, refreshed silently,
resolved after the clear time, opened again; history and outbox written with the state change."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from agenttrace.alerts import Alerter, AlertIncident, backoff_delay, open_alert_store
from alert_receivers import alert_store_target  # noqa: F401 — the fixture, over sqlite and postgres

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class Collecting:
    """A notifier that keeps what it is given (the real receivers are in test_alerts_notifiers)."""

    def __init__(self, name: str = "collect", fail: bool = False) -> None:
        self.name, self.fail, self.sent = name, fail, []

    def send(self, payload: dict) -> None:
        if self.fail:
            raise ConnectionError("receiver down")
        self.sent.append(payload)


def incident(id_: str = "refusal_rate/model=gpt-4o", severity: str = "warning", **kw) -> AlertIncident:
    return AlertIncident(id=id_, severity=severity, title=kw.pop("title", f"{id_} drifted"),
                         evidence=kw.pop("evidence", "refusals 0.5% -> 3.1% (n=1000)"), cause="model version",
                         link="http://127.0.0.1:6006/projects/x?filter=1", action="check the alias", key=id_, **kw)


def kinds(events) -> list:
    return [(e.kind, e.incident.id) for e in events]


def test_lifecycle_open_escalate_refresh_resolve_reopen(alert_store_target):
    notifier = Collecting()
    alerter = Alerter(open_alert_store(alert_store_target), [notifier], resolve_after=timedelta(minutes=60))
    a, b = incident("a"), incident("b", "info")

    assert kinds(alerter.observe([a, b], T0)) == [("opened", "a"), ("opened", "b")]
    assert alerter.observe([a, b], T0 + timedelta(minutes=15)) == []  # same severity: nothing new
    assert kinds(alerter.observe([incident("a", "alert"), b], T0 + timedelta(minutes=30))) == [("escalated", "a")]
    assert alerter.observe([incident("a", "info"), b], T0 + timedelta(minutes=45)) == []  # lower: no news
    # a disappears: the clear timer starts; it resolves once absent for 60 minutes, and only once
    assert alerter.observe([b], T0 + timedelta(minutes=60)) == []
    assert alerter.observe([b], T0 + timedelta(minutes=105)) == []
    resolved = alerter.observe([b], T0 + timedelta(minutes=120))
    assert kinds(resolved) == [("resolved", "a")] and resolved[0].incident.severity == "alert"
    assert alerter.observe([b], T0 + timedelta(minutes=135)) == []
    assert kinds(alerter.observe([a, b], T0 + timedelta(minutes=150))) == [("opened", "a")]

    [state_a] = [r for r in alerter.incidents("open") if r["id"] == "a"]
    assert state_a["openings"] == 2 and state_a["opened_at"] == T0 + timedelta(minutes=150)
    history = alerter.history(100)
    assert [(e["kind"], e["incident_id"]) for e in reversed(history)] == [
        ("opened", "a"), ("opened", "b"), ("escalated", "a"), ("resolved", "a"), ("opened", "a")]
    assert history[2]["previous_severity"] == "warning"
    assert all(len(e["deliveries"]) == 1 and e["deliveries"][0]["status"] == "pending" for e in history)

    stats = alerter.deliver(T0 + timedelta(minutes=151))
    assert (stats.sent, stats.pending) == (5, 0)
    assert [(p["event"], p["incident"]["id"]) for p in notifier.sent] == [
        ("opened", "a"), ("opened", "b"), ("escalated", "a"), ("resolved", "a"), ("opened", "a")]
    assert alerter.deliver(T0 + timedelta(minutes=200)).sent == 0  # sent rows are never sent again


def test_an_incident_that_comes_back_before_the_clear_time_stays_open(alert_store_target):
    alerter = Alerter(alert_store_target, [Collecting()], resolve_after=timedelta(minutes=60))
    alerter.observe([incident("a")], T0)
    assert alerter.observe([], T0 + timedelta(minutes=50)) == []
    assert alerter.observe([incident("a")], T0 + timedelta(minutes=55)) == []  # back: timer reset
    assert alerter.observe([], T0 + timedelta(minutes=100)) == []  # absent 0 min (timer restarted)
    assert alerter.observe([], T0 + timedelta(minutes=155)) == []  # absent 55 min
    assert kinds(alerter.observe([], T0 + timedelta(minutes=160))) == [("resolved", "a")]


def test_state_survives_a_new_process_and_a_failed_delivery_stays_pending(alert_store_target):
    """A new Alerter on the same store (a restart) knows what is open and what was not delivered."""
    down = Collecting("hook", fail=True)
    first = Alerter(alert_store_target, [down], backoff_base=30, backoff_cap=3600)
    first.observe([incident("a")], T0)
    stats = first.deliver(T0)
    assert (stats.sent, stats.failed, stats.pending) == (0, 1, 1) and "receiver down" in stats.errors[0]
    [row] = first.pending()
    assert row["attempts"] == 1 and row["last_error"] == "ConnectionError: receiver down"
    assert T0 + timedelta(seconds=15) <= row["next_attempt_at"] <= T0 + timedelta(seconds=30)
    first.store.close()

    up = Collecting("hook")
    restarted = Alerter(open_alert_store(alert_store_target), [up])
    assert restarted.observe([incident("a")], T0 + timedelta(minutes=15)) == []  # still open: no second opening
    assert restarted.deliver(T0 + timedelta(seconds=10)).sent == 0  # not due yet
    assert restarted.deliver(T0 + timedelta(minutes=15)).sent == 1
    assert [p["event"] for p in up.sent] == ["opened"] and restarted.pending() == []
    [event] = restarted.history()
    assert event["deliveries"][0]["status"] == "sent" and event["deliveries"][0]["attempts"] == 2


def test_a_receiver_that_keeps_failing_is_retried_with_growing_capped_delays(alert_store_target):
    alerter = Alerter(alert_store_target, [Collecting("hook", fail=True)], backoff_base=30, backoff_cap=3600)
    alerter.observe([incident("a")], T0)
    now, delays = T0, []
    for _ in range(12):
        alerter.deliver(now)
        [row] = alerter.pending()
        delays.append((row["next_attempt_at"] - now).total_seconds())
        now = row["next_attempt_at"]
    assert row["attempts"] == 12 and row["status"] == "pending"  # never dropped
    for attempt, delay in enumerate(delays, start=1):
        nominal = min(3600, 30 * 2 ** (attempt - 1))
        assert nominal / 2 - 0.01 <= delay <= nominal + 0.01
    assert max(delays) <= 3600 and delays[-1] >= 1800


def test_backoff_jitter_spreads_retries():
    import random

    rng = random.Random(7)
    delays = {round(backoff_delay(3, 30, 3600, rng), 3) for _ in range(20)}
    assert len(delays) > 10 and min(delays) >= 60 and max(delays) <= 120


def test_a_row_for_a_notifier_no_longer_configured_is_kept_not_dropped(alert_store_target):
    Alerter(alert_store_target, [Collecting("old-hook")]).observe([incident("a")], T0)
    alerter = Alerter(alert_store_target, [Collecting("new-hook")])
    stats = alerter.deliver(T0)
    assert (stats.sent, stats.unrouted, stats.pending) == (0, 1, 1)
    assert [r["notifier"] for r in alerter.pending()] == ["old-hook"]


def test_a_pass_that_fails_midway_leaves_no_state_history_or_outbox(alert_store_target):
    """State change, history and outbox commit together: a pass that raises writes none of them."""
    alerter = Alerter(alert_store_target, [Collecting()])
    with pytest.raises(ValueError, match="unknown alert severity"):
        alerter.observe([incident("a"), {"id": "b", "severity": "critical", "title": "x"}], T0)
    assert alerter.incidents() == [] and alerter.history() == [] and alerter.pending() == []
    assert kinds(alerter.observe([incident("a")], T0)) == [("opened", "a")]


def test_incidents_as_plain_dicts_and_duplicates_within_a_pass(tmp_path):
    """Plain dicts are accepted (unknown keys ignored); one id twice in a pass opens once, at its
    highest severity; the evidence is forced onto one line."""
    notifier = Collecting()
    alerter = Alerter(str(tmp_path / "alerts.sqlite"), [notifier])
    events = alerter.observe([
        {"id": "a", "severity": "warning", "title": "A", "evidence": "line one\nline two", "extra": 1},
        {"id": "a", "severity": "alert", "title": "A", "first_seen": "2026-03-02T08:00:00+00:00"},
    ], T0)
    assert kinds(events) == [("opened", "a")] and events[0].incident.severity == "alert"
    alerter.observe([{"id": "a", "severity": "warning", "title": "A", "evidence": "x\ny"}], T0 + timedelta(minutes=1))
    alerter.deliver(T0 + timedelta(minutes=1))
    [sent] = notifier.sent
    assert sent["incident"]["first_seen"] == "2026-03-02T08:00:00Z"
    assert AlertIncident.from_dict({"id": "b", "severity": "info", "title": "B", "evidence": "p\nq"}).evidence == "p q"
    assert AlertIncident.from_dict({"id": "b", "severity": "info", "title": "B",
                                    "first_seen": "2026-03-02T08:00:00Z"}).first_seen == T0 - timedelta(hours=1)


def test_default_location_and_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGENTTRACE_ALERT_STORE", raising=False)
    assert open_alert_store(None).path == ".agenttrace/alerts.sqlite"
    monkeypatch.setenv("AGENTTRACE_ALERT_STORE", str(tmp_path / "elsewhere.sqlite"))
    store = open_alert_store(None)
    assert store.path == str(tmp_path / "elsewhere.sqlite")
    import os
    import stat

    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    with pytest.raises(ValueError, match="unknown scheme 'mysql'"):
        open_alert_store("mysql://db/alerts")
