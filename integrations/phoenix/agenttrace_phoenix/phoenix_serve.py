"""``phoenix serve``, run by :class:`agenttrace_phoenix.LocalPhoenix` with the Phoenix venv's Python.

This file is executed by path in the Phoenix server's own virtual environment (it imports only
the standard library, grpc and phoenix, never agenttrace). It changes two things in this process
only; Phoenix's installed files are not modified:

1. **The OTLP/gRPC receiver listens on loopback.** Phoenix 20.26.1 binds it to ``[::]`` (all
   interfaces) and has no setting for the address (``phoenix/server/grpc_server.py``:
   ``add_insecure_port(f"[::]:{port}")``). Here ``grpc.aio``'s ``add_insecure_port`` /
   ``add_secure_port`` put ``AGENTTRACE_PHOENIX_GRPC_HOST`` (default ``127.0.0.1``) in place of
   ``[::]``. If that cannot be done (a grpc or Phoenix that looks different), the server does not
   start: it never falls back to listening on every interface.
2. **Spans Phoenix accepted are written before it exits.** Phoenix answers an OTLP export as soon
   as the spans are in its in-memory queue, and on SIGTERM/SIGINT its bulk inserter keeps writing
   that queue for ``shutdown_drain_sec`` (5 s in 20.26.1), then drops the rest with a log line
   ``Span ingestion stopped with N spans still pending``. Here the drain time is
   ``AGENTTRACE_PHOENIX_DRAIN_SECONDS`` (default 120 s); ``LocalPhoenix.stop`` waits for it.
"""

from __future__ import annotations

import inspect
import os
import sys

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # run by path: agenttrace_phoenix's modules (server.py, store.py) must not shadow others

GRPC_HOST_ENV = "AGENTTRACE_PHOENIX_GRPC_HOST"
DRAIN_ENV = "AGENTTRACE_PHOENIX_DRAIN_SECONDS"
ALL_INTERFACES = "[::]:"


def _die(message: str) -> None:
    sys.stderr.write(f"agenttrace: {message}\n")
    raise SystemExit(78)  # EX_CONFIG


def bind_grpc_to(host: str) -> None:
    """Make every grpc.aio server of this process listen on ``host`` where it asks for ``[::]``."""
    try:
        from grpc.aio._server import Server
    except ImportError as err:
        _die(f"cannot bind Phoenix's gRPC receiver to {host} ({err}); not starting it on all interfaces")
    bracketed = f"[{host}]" if ":" in host and not host.startswith("[") else host

    def rebind(address: str) -> str:
        return bracketed + ":" + address[len(ALL_INTERFACES):] if address.startswith(ALL_INTERFACES) else address

    for name in ("add_insecure_port", "add_secure_port"):
        original = getattr(Server, name, None)
        if original is None:
            _die(f"grpc.aio.Server has no {name}; not starting Phoenix's gRPC receiver on all interfaces")

        def method(self, address, *args, _original=original, **kwargs):
            return _original(self, rebind(address), *args, **kwargs)

        setattr(Server, name, method)


def drain_on_shutdown(seconds: float) -> None:
    """Let Phoenix's bulk inserter write its queue for up to ``seconds`` at shutdown."""
    from phoenix.db.bulk_inserter import BulkInserter

    if "shutdown_drain_sec" not in inspect.signature(BulkInserter.__init__).parameters:
        sys.stderr.write("agenttrace: this Phoenix has no shutdown drain setting; its own default applies\n")
        return
    original_init, original_exit = BulkInserter.__init__, BulkInserter.__aexit__

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("shutdown_drain_sec", seconds)
        original_init(self, *args, **kwargs)

    async def __aexit__(self, *args, **kwargs):
        queued = len(getattr(self, "_spans", ())) + len(getattr(self, "_span_batch", ()))
        print(f"agenttrace: Phoenix is stopping with {queued} accepted span(s) not yet stored; writing them "
              f"(up to {seconds:.0f} s)", flush=True)
        return await original_exit(self, *args, **kwargs)

    BulkInserter.__init__ = __init__
    BulkInserter.__aexit__ = __aexit__


def main() -> None:
    bind_grpc_to(os.environ.get(GRPC_HOST_ENV) or "127.0.0.1")
    drain_on_shutdown(float(os.environ.get(DRAIN_ENV) or 120))
    from phoenix.server.main import main as phoenix_main

    sys.argv = ["phoenix", *sys.argv[1:]]
    phoenix_main()


if __name__ == "__main__":
    main()
