"""Real OTLP receivers on loopback for tests: HTTP (protobuf) and gRPC, plus failure modes."""

from __future__ import annotations

import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


def span_names(request: trace_service_pb2.ExportTraceServiceRequest) -> list[str]:
    return [s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]


class HttpReceiver:
    """OTLP/HTTP receiver. mode: 'ok' | '503' | 'slow' (sleeps ``delay`` before answering).
    ``port``: listen there (a restarted backend), else on a free one."""

    def __init__(self, mode: str = "ok", delay: float = 2.0, port: int = 0):
        self.mode, self.delay = mode, delay
        self.requests: list = []
        self.headers: list[dict] = []
        self.resources: list = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                if receiver.mode == "slow":
                    time.sleep(receiver.delay)
                if receiver.mode == "503":
                    self.send_response(503)
                    self.end_headers()
                    return
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                receiver.requests.append(request)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-protobuf")
                    self.end_headers()
                    self.wfile.write(trace_service_pb2.ExportTraceServiceResponse().SerializeToString())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the 'slow' mode)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def names(self) -> list[str]:
        return [n for r in self.requests for n in span_names(r)]

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class GrpcReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, port: int = 0):
        self.requests: list = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self.server)
        port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        self.endpoint = f"http://127.0.0.1:{port}"
        self.server.start()

    def Export(self, request, context):  # noqa: N802 - gRPC method name
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()

    @property
    def names(self) -> list[str]:
        return [n for r in self.requests for n in span_names(r)]

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def close(self):
        self.server.stop(0).wait()


def closed_port_endpoint() -> str:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/v1/traces"


class HangingReceiver:
    """A backend that accepts connections and never answers (a hung collector or a stuck proxy):
    the client's request — HTTP or gRPC — waits until its own timeout."""

    def __init__(self):
        import socket

        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}/v1/traces"
        self.grpc_endpoint = f"http://127.0.0.1:{self.port}"
        self._held: list = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._held.append(conn)  # read nothing, answer nothing, keep it open

    def close(self):
        self._closed = True
        self._sock.close()
        for conn in self._held:
            conn.close()
