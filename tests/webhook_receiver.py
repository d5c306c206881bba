"""A real local webhook receiver for the watch tests: an HTTP server on 127.0.0.1 in a thread that
records each JSON body it accepts; it can be told to answer slowly or with a failure."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self) -> None:
        self.accepted: list[dict] = []   # bodies answered with 200
        self.refused = 0                 # requests answered with a failure
        self.status, self.delay = 200, 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 — http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(receiver.delay)
                status = receiver.status
                with receiver.lock:
                    if status == 200:
                        receiver.accepted.append(json.loads(body))
                    else:
                        receiver.refused += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self, kind: str = "opened") -> list[dict]:
        with self.lock:
            return [m for m in self.accepted if m.get("event") == kind]
