"""Real receivers of alert notifications on 127.0.0.1: an HTTP server recording the JSON bodies it
is posted (webhook and Slack), with failure modes, and an SMTP server (aiosmtpd) recording e-mails."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    """A port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HookReceiver:
    """Records every POST (``received``: dicts of path, headers, body) and answers ``status``
    (200 by default; set 500 to fail) after ``delay`` seconds. A body is recorded when it arrives,
    before the answer: it has been accepted even if the sender dies waiting for the answer."""

    def __init__(self, status: int = 200, delay: float = 0.0, port: int = 0) -> None:
        self.status, self.delay = status, delay
        self.received: list = []
        self.attempts = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.attempts += 1
                    status = receiver.status
                    if 200 <= status < 300:
                        receiver.received.append({"path": self.path, "body": json.loads(raw),
                                                  "headers": {k.lower(): v for k, v in self.headers.items()}})
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"ok" if status < 300 else b"error")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender died waiting (the kill -9 test); the body was accepted

            def log_message(self, *args):  # quiet
                pass

        self.handler = Handler
        self.port = port or free_port()  # bound only when entered: until then, connection refused
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def bodies(self) -> list:
        with self.lock:
            return [r["body"] for r in self.received]

    def __enter__(self) -> "HookReceiver":
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Recorder:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 — aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": message})
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """An SMTP server (aiosmtpd) on 127.0.0.1; ``messages``: envelope and parsed message."""

    def __init__(self, port: Optional[int] = None) -> None:
        self.recorder = _Recorder()
        self.port = port or free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list:
        return self.recorder.messages

    def __enter__(self) -> "SmtpReceiver":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()



@pytest.fixture(params=["sqlite", "postgres"])
def alert_store_target(request, tmp_path) -> str:
    """Where an alert store lives: a SQLite file, or a fresh PostgreSQL database (import this
    fixture into a test module to run its tests on both)."""
    if request.param == "sqlite":
        return str(tmp_path / "alerts.sqlite")
    return request.getfixturevalue("postgres_url")
