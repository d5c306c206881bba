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


class Gate:
    """A TCP forwarder on a fixed loopback port to ``target_port``: closed, its port refuses
    connections (a backend that is down); opened again, connections reach the target."""

    def __init__(self, target_port: int):
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.target_port = target_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener = None
        self._conns: list = []

    def open(self) -> None:
        import socket

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        import socket

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass
        self._conns = []


class MetricsReceiver:
    """OTLP metrics receiver on loopback, over HTTP (protobuf) and gRPC at once; ``requests`` holds
    every ExportMetricsServiceRequest, ``headers`` the HTTP requests' headers."""

    def __init__(self):
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc

        self.requests: list = []
        self.headers: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                receiver.requests.append(metrics_service_pb2.ExportMetricsServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()
                self.wfile.write(metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString())

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.http_endpoint = f"http://127.0.0.1:{self.http.server_address[1]}/v1/metrics"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

        class Service(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request, context):  # noqa: N802 - gRPC method name
                receiver.requests.append(request)
                return metrics_service_pb2.ExportMetricsServiceResponse()

        self.grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Service(), self.grpc)
        self.grpc_endpoint = f"http://127.0.0.1:{self.grpc.add_insecure_port('127.0.0.1:0')}"
        self.grpc.start()

    def metrics(self) -> dict:
        """metric name → list of (the metric, its scope name) over every request received."""
        found: dict = {}
        for request in self.requests:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        found.setdefault(metric.name, []).append(metric)
        return found

    def close(self):
        self.http.shutdown()
        self.http.server_close()
        self.grpc.stop(0).wait()
