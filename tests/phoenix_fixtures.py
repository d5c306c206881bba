"""Session fixtures: one real local Phoenix server for the test session, and a store on it.

The server's venv lives in the repo (``.agenttrace/phoenix/venv-<version>``) so it is installed
once (~1 min) and reused by later sessions; everything else (data, state, log) is per session.
If Phoenix cannot be installed or started, the tests that need it fail; they are not skipped.

Phoenix on PostgreSQL: a second session server (``phoenix_postgres_server``) stores its data in its
own database on the session's throwaway PostgreSQL cluster (``postgres_server``, conftest.py). A
test or module marked ``phoenix_databases`` runs twice, ``[sqlite]`` and ``[postgresql]``: its
``phoenix_server`` (and ``phoenix_store``) is the SQLite-backed server, then the PostgreSQL-backed one.
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


_SERVERS = {"sqlite": "phoenix_sqlite_server", "postgresql": "phoenix_postgres_server"}
DATABASES = tuple(_SERVERS)
PG_PASSWORD = "s3cret-pw"  # the cluster trusts every local connection; the password only has to stay hidden


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("phoenix_databases") and "phoenix_server" in metafunc.fixturenames:
        metafunc.parametrize("phoenix_server", DATABASES, indirect=True, scope="session")


@pytest.fixture(scope="session")
def phoenix_sqlite_server(tmp_path_factory):
    from agenttrace_phoenix import LocalPhoenix

    server = LocalPhoenix(tmp_path_factory.mktemp("phoenix"), venv_dir=shared_venv())
    info = server.start(port=free_port(), grpc_port=free_port(), database="sqlite")
    yield info
    server.stop()


@pytest.fixture(scope="session")
def phoenix_postgres_url(postgres_server) -> str:
    """The database of the PostgreSQL-backed Phoenix (with a password, which the URL must not show)."""
    return postgres_server.create_database().replace("postgres@", f"postgres:{PG_PASSWORD}@", 1)


@pytest.fixture(scope="session")
def phoenix_postgres_server(tmp_path_factory, phoenix_postgres_url):
    from agenttrace_phoenix import LocalPhoenix

    server = LocalPhoenix(tmp_path_factory.mktemp("phoenix-pg"), venv_dir=shared_venv())
    info = server.start(port=free_port(), grpc_port=free_port(), database=phoenix_postgres_url)
    yield info
    server.stop()


@pytest.fixture(scope="session")
def phoenix_server(request):
    """The session's SQLite-backed Phoenix; in a ``phoenix_databases`` test, the one of its parameter."""
    database = getattr(request, "param", "sqlite")
    info = request.getfixturevalue(_SERVERS[database])
    assert info.database.startswith({"sqlite": "SQLite in ", "postgresql": "PostgreSQL postgresql://"}[database])
    return info


@pytest.fixture(scope="session")
def phoenix_store(phoenix_server):
    from agenttrace_phoenix import PhoenixStore

    return PhoenixStore(phoenix_server.url)
