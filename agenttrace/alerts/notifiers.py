"""Where notifications go: a generic JSON webhook, a Slack incoming webhook, e-mail over SMTP.

A notifier has a ``name`` (the outbox routes rows by it, so keep it stable across restarts: the
default is derived from the target, without secrets) and ``send(payload)``, which returns when the
receiver accepted the message and raises otherwise. ``payload`` is the document of
:func:`agenttrace.alerts.model.payload` (schema ``agenttrace.alert/1``).

Specs (:func:`notifier_from_spec`, the watch command's ``--notify`` option and config section):

- ``webhook:https://example.org/hook`` — POST the payload as JSON;
- ``slack:https://hooks.slack.com/services/T/B/X`` — POST Slack's incoming-webhook message;
- ``smtp://[user[:password]@]host[:port]?to=a@example.org,b@example.org[&from=x@example.org][&starttls=1][&ssl=1]``
  — e-mail; the password may come from ``AGENTTRACE_SMTP_PASSWORD`` instead of the URL.

or dicts: ``{"type": "webhook", "url": ..., "headers": {...}, "timeout": 10, "name": ...}``,
``{"type": "slack", "url": ...}``, ``{"type": "smtp", "host": ..., "port": 25, "sender": ...,
"recipients": [...], "username": ..., "password": ..., "starttls": false, "ssl": false}``.
"""

from __future__ import annotations

import hashlib
import os
import smtplib
from email.message import EmailMessage
from typing import Any, Iterable, Optional
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from .._version import __version__

DELIVERY_HEADER = "X-Agenttrace-Delivery-Id"
SMTP_PASSWORD_ENV = "AGENTTRACE_SMTP_PASSWORD"
EMOJI = {"alert": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}
VERB = {"opened": "opened", "escalated": "escalated", "resolved": "resolved"}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _url_name(kind: str, url: str) -> str:
    parts = urlsplit(url)
    return f"{kind}:{parts.hostname or '?'}#{_digest(url)}"  # the host to read, a digest for the rest (tokens)


def headline(payload: dict) -> str:
    """``[ALERT] opened: <title>`` — the one-line summary of a notification."""
    incident = payload["incident"]
    return f"[{incident['severity'].upper()}] {payload['event']}: {incident['title']}"


def text_body(payload: dict) -> str:
    """The plain-text rendering (e-mail body)."""
    incident = payload["incident"]
    lines = [headline(payload), ""]
    if payload["event"] == "escalated" and incident.get("previous_severity"):
        lines.append(f"Severity: {incident['previous_severity']} -> {incident['severity']}")
    lines.append(f"Evidence: {incident.get('evidence') or '-'}")
    lines.append(f"Probable cause: {incident.get('cause') or 'unknown'}")
    if incident.get("action"):
        lines.append(f"Action: {incident['action']}")
    if incident.get("link"):
        lines.append(f"Affected runs: {incident['link']}")
    lines += ["", f"Incident {incident['id']} · opened {incident.get('opened_at')} · event at {payload['at']}",
              f"Delivery {payload['delivery_id']}"]
    return "\n".join(lines)


class _HttpNotifier:
    kind = "http"

    def __init__(self, url: str, headers: Optional[dict] = None, timeout: float = 10.0,
                 name: Optional[str] = None) -> None:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"agenttrace: {self.kind} notifier needs an http(s) URL, got {url!r}")
        self.url, self.headers, self.timeout = url, dict(headers or {}), timeout
        self.name = name or _url_name(self.kind, url)

    def body(self, payload: dict) -> dict:
        raise NotImplementedError

    def send(self, payload: dict) -> None:
        headers = {"User-Agent": f"agenttrace/{__version__}", DELIVERY_HEADER: payload["delivery_id"],
                   **self.headers}
        response = httpx.post(self.url, json=self.body(payload), headers=headers, timeout=self.timeout)
        response.raise_for_status()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


class WebhookNotifier(_HttpNotifier):
    """POSTs the payload itself as JSON, with header ``X-Agenttrace-Delivery-Id``; any 2xx is success."""

    kind = "webhook"

    def body(self, payload: dict) -> dict:
        return payload


def _slack_escape(text: str) -> str:
    # Slack reads &, < and > as markup (<!channel> pings everyone): escape what we did not write
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackNotifier(_HttpNotifier):
    """POSTs Slack's incoming-webhook message: ``text`` (the fallback shown in notifications) plus
    ``blocks`` — a header, a mrkdwn section (evidence, cause, action, link), a context line."""

    kind = "slack"

    def body(self, payload: dict) -> dict:
        incident = payload["incident"]
        lines = [f"*Evidence:* {_slack_escape(incident.get('evidence') or '-')}",
                 f"*Probable cause:* {_slack_escape(incident.get('cause') or 'unknown')}"]
        if incident.get("action"):
            lines.append(f"*Action:* {_slack_escape(incident['action'])}")
        if incident.get("link"):
            lines.append(f"<{_slack_escape(incident['link'])}|Affected runs in Phoenix>")
        context = (f"incident `{_slack_escape(incident['id'])}` · {payload['event']} at {payload['at']} · "
                   f"delivery `{payload['delivery_id']}`")
        emoji = EMOJI.get(incident["severity"], "")
        return {
            "text": f"{emoji} {_slack_escape(headline(payload))}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": headline(payload)[:150], "emoji": True}},
                {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
            ],
        }


class SmtpNotifier:
    """One e-mail per notification (stdlib smtplib). ``Message-ID`` is derived from the delivery id,
    and ``X-Agenttrace-Delivery-Id`` carries it, so a resent message can be recognised."""

    kind = "smtp"

    def __init__(self, host: str, port: int = 25, sender: str = "agenttrace@localhost",
                 recipients: Iterable[str] = (), username: Optional[str] = None, password: Optional[str] = None,
                 starttls: bool = False, ssl: bool = False, timeout: float = 30.0, name: Optional[str] = None) -> None:
        self.recipients = [r for r in recipients if r]
        if not self.recipients:
            raise ValueError("agenttrace: the smtp notifier needs at least one recipient (to=...)")
        self.host, self.port, self.sender = host, int(port), sender
        self.username, self.password = username, password
        self.starttls, self.ssl, self.timeout = starttls, ssl, timeout
        self.name = name or f"smtp:{host}:{self.port}#{_digest(','.join(sorted(self.recipients)))}"

    def message(self, payload: dict) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = f"[agenttrace] {headline(payload)}"
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Message-ID"] = f"<{payload['delivery_id']}@agenttrace>"
        msg[DELIVERY_HEADER] = payload["delivery_id"]
        msg.set_content(text_body(payload))
        return msg

    def send(self, payload: dict) -> None:
        smtp_class = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        with smtp_class(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(self.message(payload))

    def __repr__(self) -> str:
        return f"SmtpNotifier({self.name})"


def _smtp_from_url(spec: str) -> SmtpNotifier:
    parts = urlsplit(spec)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    flag = lambda name: query.get(name, "").lower() in ("1", "true", "yes", "on")  # noqa: E731
    recipients = [r.strip() for r in query.get("to", "").split(",")]
    ssl = parts.scheme == "smtps" or flag("ssl")
    return SmtpNotifier(parts.hostname or "localhost", parts.port or (465 if ssl else 25),
                        sender=query.get("from", "agenttrace@localhost"), recipients=recipients,
                        username=unquote(parts.username) if parts.username else None,
                        password=unquote(parts.password) if parts.password else os.environ.get(SMTP_PASSWORD_ENV),
                        starttls=flag("starttls"), ssl=ssl, name=query.get("name"))


KINDS = {"webhook": WebhookNotifier, "slack": SlackNotifier, "smtp": SmtpNotifier}


def notifier_from_spec(spec: Any) -> Any:
    """A notifier from a spec string or dict (see the module docstring); a clear ValueError otherwise."""
    if isinstance(spec, dict):
        options = dict(spec)
        kind = str(options.pop("type", "")).lower()
        if kind not in KINDS:
            raise ValueError(f"agenttrace: notifier type {kind!r} is not one of {', '.join(KINDS)}")
        if kind == "smtp" and "password" not in options and os.environ.get(SMTP_PASSWORD_ENV):
            options["password"] = os.environ[SMTP_PASSWORD_ENV]
        return KINDS[kind](**options)
    text = str(spec).strip()
    lower = text.lower()
    if lower.startswith(("smtp://", "smtps://")):
        return _smtp_from_url(text)
    for kind in ("webhook", "slack"):
        if lower.startswith(kind + ":"):
            return KINDS[kind](text[len(kind) + 1:])
    raise ValueError(f"agenttrace: notifier {text!r}: expected webhook:URL, slack:URL or smtp://host?to=ADDRESS")


def notifiers_from_specs(specs: Iterable[Any]) -> list:
    return [notifier_from_spec(s) for s in specs]
