"""Session fixtures: one real local Phoenix server for the test session, and a store on it.

The server's venv lives in the repo (``.agenttrace/phoenix/venv-<version>``) so it is installed
once (~1 min) and reused by later sessions; everything else (data, state, log) is per session.
If Phoenix cannot be installed or started, the tests that need it fail; they are not skipped.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shared_venv() -> Path:
    from agenttrace_phoenix import DEFAULT_VERSION

    return REPO / ".agenttrace" / "phoenix" / f"venv-{DEFAULT_VERSION}"


@pytest.fixture(scope="session")
def phoenix_server(tmp_path_factory):
    from agenttrace_phoenix import LocalPhoenix

    server = LocalPhoenix(tmp_path_factory.mktemp("phoenix"), venv_dir=shared_venv())
    info = server.start(port=free_port(), grpc_port=free_port())
    yield info
    server.stop()


@pytest.fixture(scope="session")
def phoenix_store(phoenix_server):
    from agenttrace_phoenix import PhoenixStore

    return PhoenixStore(phoenix_server.url)
