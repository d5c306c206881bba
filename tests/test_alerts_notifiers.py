"""The notifiers against real receivers on 127.0.0.1 (an HTTP server; aiosmtpd for e-mail): one
message per opening over many passes, one per escalation and resolution, and messages a failing
receiver missed arrive later through backoff, also after a restart."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from agenttrace.alerts import Alerter, AlertIncident
from agenttrace.alerts.notifiers import (SlackNotifier, SmtpNotifier, WebhookNotifier, notifier_from_spec,
                                         notifiers_from_specs)
from alert_receivers import HookReceiver, SmtpReceiver, free_port

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
LINK = "http://127.0.0.1:6006/projects/UHJvamVjdDox/traces?filter=metadata%5B%27agenttrace.segment%27%5D"


def incident(id_: str, severity: str = "warning") -> AlertIncident:
    return AlertIncident(id=id_, severity=severity, title=f"refusals up on {id_}",
                         evidence="refusal rate 0.5% -> 3.1% over 1,000 runs (p < 0.001)",
                         cause="model version changed: gpt-4o-2024-08-06 -> gpt-4o-2024-11-20", link=LINK,
                         action="pin the model version or review the prompts", key=f"refusal_rate/{id_}",
                         segments=[{"agent": id_}])


class Setup:
    """A notifier of one kind with its running receiver, and how to read (event, incident) back."""

    def __init__(self, kind: str, port: int = 0) -> None:
        self.kind = kind
        if kind == "smtp":
            self.receiver = SmtpReceiver(port or None)
        else:
            self.receiver = HookReceiver(port=port)

    def notifier(self):
        if self.kind == "webhook":
            return WebhookNotifier(self.receiver.url, headers={"Authorization": "Bearer t0ken"}, timeout=5)
        if self.kind == "slack":
            return SlackNotifier(self.receiver.url)
        return SmtpNotifier("127.0.0.1", self.receiver.port, sender="alerts@example.org",
                            recipients=["oncall@example.org"], timeout=5)

    def got(self) -> list:
        """(event, incident id, delivery id) per message received, in order."""
        if self.kind == "smtp":
            out = []
            for m in self.receiver.messages:
                event = re.search(r"\] (\w+): ", m["message"]["Subject"]).group(1)
                incident_id = re.search(r"^Incident (\S+)", m["message"].get_content(), re.M).group(1)
                out.append((event, incident_id, m["message"]["X-Agenttrace-Delivery-Id"]))
            return out
        if self.kind == "webhook":
            return [(r["body"]["event"], r["body"]["incident"]["id"], r["body"]["delivery_id"])
                    for r in self.receiver.received]
        out = []
        for r in self.receiver.received:
            event = re.search(r"\] (\w+): ", r["body"]["text"]).group(1)
            incident_id = re.search(r"incident `([^`]+)`", r["body"]["blocks"][2]["elements"][0]["text"]).group(1)
            out.append((event, incident_id, r["headers"]["x-agenttrace-delivery-id"]))
        return out

    def __enter__(self):
        self.receiver.__enter__()
        return self

    def __exit__(self, *exc):
        self.receiver.__exit__(*exc)


@pytest.mark.parametrize("kind", ["webhook", "slack", "smtp"])
def test_one_message_per_opening_escalation_and_resolution(kind, tmp_path):
    with Setup(kind) as setup:
        alerter = Alerter(str(tmp_path / "alerts.sqlite"), [setup.notifier()], resolve_after=timedelta(minutes=30))
        passes = [["a", "b"], ["a", "b"], ["a", "b"], ["a"], ["a"], ["a"], ["a"], ["a"]]
        for step, ids in enumerate(passes):
            now = T0 + timedelta(minutes=15 * step)
            severity = {"a": "alert" if step >= 2 else "warning", "b": "warning"}
            alerter.observe([incident(i, severity[i]) for i in ids], now)
            stats = alerter.deliver(now)
            assert stats.failed == 0 and stats.pending == 0, stats.errors
        got = setup.got()
    assert Counter((e, i) for e, i, _ in got) == Counter(
        {("opened", "a"): 1, ("opened", "b"): 1, ("escalated", "a"): 1, ("resolved", "b"): 1})
    assert [(e, i) for e, i, _ in got] == [("opened", "a"), ("opened", "b"), ("escalated", "a"), ("resolved", "b")]
    assert len({d for _, _, d in got}) == 4


def test_webhook_payload_and_headers(tmp_path):
    with HookReceiver() as receiver:
        alerter = Alerter(str(tmp_path / "alerts.sqlite"), [WebhookNotifier(receiver.url, {"Authorization": "Bearer t"})])
        alerter.observe([incident("a")], T0)
        alerter.deliver(T0)
        [request] = receiver.received
    body, headers = request["body"], request["headers"]
    assert headers["authorization"] == "Bearer t" and headers["content-type"] == "application/json"
    assert headers["x-agenttrace-delivery-id"] == body["delivery_id"]
    assert body["schema"] == "agenttrace.alert/1" and body["event"] == "opened" and body["at"] == "2026-03-02T09:00:00Z"
    assert body["incident"] == {
        "id": "a", "severity": "warning", "previous_severity": None, "title": "refusals up on a",
        "evidence": "refusal rate 0.5% -> 3.1% over 1,000 runs (p < 0.001)",
        "cause": "model version changed: gpt-4o-2024-08-06 -> gpt-4o-2024-11-20", "link": LINK,
        "action": "pin the model version or review the prompts", "key": "refusal_rate/a",
        "segments": [{"agent": "a"}], "first_seen": None, "opened_at": "2026-03-02T09:00:00Z",
        "last_seen": "2026-03-02T09:00:00Z", "resolved_at": None}


def test_slack_message_is_an_incoming_webhook_payload(tmp_path):
    with HookReceiver() as receiver:
        alerter = Alerter(str(tmp_path / "alerts.sqlite"), [SlackNotifier(receiver.url)])
        loud = incident("a", "alert")
        loud.evidence = "<!channel> refusals & hedging up"
        alerter.observe([loud], T0)
        alerter.deliver(T0)
        [request] = receiver.received
    body = request["body"]
    assert set(body) == {"text", "blocks"} and body["text"].startswith(":red_circle: [ALERT] opened: ")
    header, section, context = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "[ALERT] opened: refusals up on a",
                                                   "emoji": True}}
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    text = section["text"]["text"]
    assert "*Evidence:* &lt;!channel&gt; refusals &amp; hedging up" in text  # no channel ping from data
    assert "*Probable cause:* model version changed" in text and f"<{LINK}|Affected runs in Phoenix>" in text
    assert context["type"] == "context" and "incident `a`" in context["elements"][0]["text"]


def test_email_names_the_incident_evidence_cause_and_link(tmp_path):
    with SmtpReceiver() as receiver:
        notifier = notifier_from_spec(f"smtp://127.0.0.1:{receiver.port}?to=oncall@example.org,ml@example.org"
                                      "&from=alerts@example.org")
        alerter = Alerter(str(tmp_path / "alerts.sqlite"), [notifier])
        alerter.observe([incident("a")], T0)
        alerter.observe([incident("a", "alert")], T0 + timedelta(minutes=15))
        assert alerter.deliver(T0 + timedelta(minutes=15)).sent == 2
        first, second = receiver.messages
    assert first["from"] == "alerts@example.org" and first["to"] == ["oncall@example.org", "ml@example.org"]
    message = first["message"]
    assert message["Subject"] == "[agenttrace] [WARNING] opened: refusals up on a"
    assert message["Message-ID"] == f"<{message['X-Agenttrace-Delivery-Id']}@agenttrace>"
    body = message.get_content()
    for part in ("Evidence: refusal rate 0.5% -> 3.1%", "Probable cause: model version changed", f"Affected runs: {LINK}",
                 "Incident a"):
        assert part in body
    assert "Severity: warning -> alert" in second["message"].get_content()


@pytest.mark.parametrize("kind", ["webhook", "slack"])
def test_a_receiver_answering_500_gets_the_message_later_through_backoff(kind, tmp_path):
    with Setup(kind) as setup:
        setup.receiver.status = 500
        alerter = Alerter(str(tmp_path / "alerts.sqlite"), [setup.notifier()], backoff_base=60)
        alerter.observe([incident("a"), incident("b")], T0)
        stats = alerter.deliver(T0)
        # the first row failed; the second is deferred (the receiver is failing), not hammered
        assert (stats.sent, stats.failed, stats.deferred, stats.pending) == (0, 1, 1, 2)
        assert "500" in stats.errors[0] and setup.receiver.attempts == 1
        setup.receiver.status = 200
        assert alerter.deliver(T0 + timedelta(seconds=5)).sent == 1  # b was due; a waits for its backoff
        assert alerter.deliver(T0 + timedelta(seconds=20)).sent == 0
        assert alerter.deliver(T0 + timedelta(seconds=61)).sent == 1
        got = setup.got()
    assert sorted((e, i) for e, i, _ in got) == [("opened", "a"), ("opened", "b")]


@pytest.mark.parametrize("kind", ["webhook", "slack", "smtp"])
def test_a_receiver_that_was_down_gets_the_message_after_a_restart(kind, tmp_path):
    """Connection refused: the row stays pending in the store; a new process (new store object,
    notifier built from the same settings) delivers it once the receiver is up."""
    port, path = free_port(), str(tmp_path / "alerts.sqlite")
    setup = Setup(kind, port)  # not started: nothing listens on the port
    first = Alerter(path, [setup.notifier()])
    first.observe([incident("a")], T0)
    stats = first.deliver(T0)
    assert (stats.failed, stats.pending) == (1, 1)
    assert "refused" in stats.errors[0].lower() or "connect" in stats.errors[0].lower()
    first.store.close()
    with setup:
        restarted = Alerter(path, [setup.notifier()])
        assert restarted.deliver(T0 + timedelta(hours=1)).sent == 1
        assert restarted.deliver(T0 + timedelta(hours=2)).sent == 0
        got = setup.got()
    assert [(e, i) for e, i, _ in got] == [("opened", "a")]


def test_specs_build_notifiers_with_stable_secret_free_names(monkeypatch):
    monkeypatch.setenv("AGENTTRACE_SMTP_PASSWORD", "from-env")
    hook, slack, mail, mail2 = notifiers_from_specs([
        "webhook:https://example.org/hook", "slack:https://hooks.slack.com/services/T0/B0/SECRET",
        "smtp://bot@mail.example.org:587?to=a@example.org,b@example.org&from=x@example.org&starttls=1",
        {"type": "smtp", "host": "mail.example.org", "recipients": ["a@example.org"], "name": "mail"}])
    assert isinstance(hook, WebhookNotifier) and hook.url == "https://example.org/hook"
    assert isinstance(slack, SlackNotifier) and "SECRET" not in slack.name and slack.name.startswith("slack:hooks.slack.com#")
    assert slack.name == notifier_from_spec("slack:https://hooks.slack.com/services/T0/B0/SECRET").name
    assert slack.name != notifier_from_spec("slack:https://hooks.slack.com/services/T0/B0/OTHER").name
    assert (mail.host, mail.port, mail.username, mail.password, mail.starttls) == ("mail.example.org", 587, "bot",
                                                                                   "from-env", True)
    assert mail.recipients == ["a@example.org", "b@example.org"] and mail.sender == "x@example.org"
    assert mail2.name == "mail" and mail2.port == 25 and mail2.password == "from-env"
    for bad, message in [("pager:x", "expected webhook:URL"), ("webhook:ftp://x", "http\\(s\\) URL"),
                         ("smtp://host", "at least one recipient"), ({"type": "sms"}, "not one of")]:
        with pytest.raises(ValueError, match=message):
            notifier_from_spec(bad)


def test_two_notifiers_with_one_name_are_refused(tmp_path):
    with pytest.raises(ValueError, match="share a name"):
        Alerter(str(tmp_path / "a.sqlite"), [WebhookNotifier("http://h/x"), WebhookNotifier("http://h/x")])
