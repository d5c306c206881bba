"""Phoenix on PostgreSQL: ``agenttrace phoenix start --database postgresql://...`` against a real
PostgreSQL cluster (the session's throwaway one, tests/postgres_server.py), read back with psycopg to
prove Phoenix really stored its data there. The end-to-end tests marked ``phoenix_databases`` run
against this server too (tests/phoenix_fixtures.py).
"""

from __future__ import annotations

import time

import psycopg
import pytest
from click.testing import CliRunner

from agenttrace.cli import main
from agenttrace_phoenix import LocalPhoenix, PhoenixError
from agenttrace_phoenix.database import mask
from phoenix_fixtures import PG_PASSWORD, free_port, shared_venv
from test_phoenix_e2e import run_agent

pytestmark = pytest.mark.phoenix


def stored_span_names(url: str, project: str, schema: str = "public") -> list[str]:
    with psycopg.connect(url) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        rows = conn.execute("SELECT s.name FROM spans s JOIN traces t ON s.trace_rowid = t.id "
                            "JOIN projects p ON t.project_rowid = p.id WHERE p.name = %s", (project,)).fetchall()
    return sorted(r[0] for r in rows)


def tables(url: str, schema: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                            (schema,)).fetchall()
    return {r[0] for r in rows}


def test_spans_are_rows_in_postgresql(phoenix_postgres_server, phoenix_postgres_url):
    assert {"projects", "traces", "spans", "span_annotations"} <= tables(phoenix_postgres_url, "public")
    project, local = run_agent(phoenix_postgres_server, "grpc", sessions=("s-1",))
    deadline = time.monotonic() + 60
    while len(stored := stored_span_names(phoenix_postgres_url, project)) < len(local) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert stored == sorted(s.name for s in local)
    # and nothing went to a SQLite file in the server's data directory
    assert not list(phoenix_postgres_server.working_dir.glob("*.db"))


def test_status_names_the_database_with_the_password_masked(phoenix_postgres_server, phoenix_postgres_url):
    base_dir = phoenix_postgres_server.working_dir.parent
    result = CliRunner().invoke(main, ["phoenix", "status", "--dir", str(base_dir)])
    assert result.exit_code == 0, result.output
    port_and_db = phoenix_postgres_url.split("@", 1)[1]
    assert f"database:    PostgreSQL postgresql://postgres:***@{port_and_db}" in result.output
    assert PG_PASSWORD not in result.output
    for written in (base_dir / "server.json", phoenix_postgres_server.log_file):
        assert PG_PASSWORD not in written.read_text()


def test_sqlite_stays_the_default(phoenix_sqlite_server):
    assert phoenix_sqlite_server.database == f"SQLite in {phoenix_sqlite_server.working_dir}"
    assert list(phoenix_sqlite_server.working_dir.glob("*.db"))


def test_env_url_and_schema_are_honoured(tmp_path, postgres_server):
    """PHOENIX_SQL_DATABASE_URL without --database, and PHOENIX_SQL_DATABASE_SCHEMA: Phoenix's tables
    land in that schema."""
    url = postgres_server.create_database()
    env = {"PHOENIX_SQL_DATABASE_URL": url, "PHOENIX_SQL_DATABASE_SCHEMA": "phoenix_data",
           "AGENTTRACE_PHOENIX_VENV": str(shared_venv())}
    base_dir = tmp_path / "px"
    runner = CliRunner()
    try:
        start = runner.invoke(main, ["phoenix", "start", "--local", "--dir", str(base_dir), "--port", str(free_port()),
                                     "--grpc-port", str(free_port())], env=env)
        assert start.exit_code == 0, start.output
        assert f"database:    PostgreSQL {url} (schema phoenix_data)" in start.output
        assert {"projects", "traces", "spans"} <= tables(url, "phoenix_data")
        assert "spans" not in tables(url, "public")
    finally:
        runner.invoke(main, ["phoenix", "stop", "--dir", str(base_dir)], env=env)


@pytest.mark.parametrize("what", ["no server on the port", "no such database"])
def test_unreachable_database_is_a_one_line_error_not_a_hang(tmp_path, postgres_server, what):
    if what == "no server on the port":
        url = f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{free_port()}/phoenix"
    else:
        url = postgres_server.url.rsplit("/", 1)[0].replace("postgres@", f"postgres:{PG_PASSWORD}@") + "/missing_db"
    server = LocalPhoenix(tmp_path / "px", venv_dir=shared_venv())
    began = time.monotonic()
    with pytest.raises(PhoenixError) as failed:
        server.start(port=free_port(), grpc_port=free_port(), timeout=90, database=url)
    message = str(failed.value)
    assert time.monotonic() - began < 60
    assert "\n" not in message and PG_PASSWORD not in message
    assert message.startswith(f"Phoenix did not start: database {mask(url)}: ")
    assert ("refused" in message.lower() or "connect" in message.lower()) if what == "no server on the port" \
        else 'database "missing_db" does not exist' in message
    assert server.status() is None and not server.state_file.exists()


@pytest.mark.parametrize("url, says", [
    ("mysql://me:hunter2@db/phoenix", "not a PostgreSQL URL"),
    ("postgresql://me:hunter2@/phoenix", "no host"),
    ("postgresql://me:hunter2@db:5432", "no database name"),
    ("postgresql://me:hunter2@db:port/phoenix", "Port could not be cast"),
    ("sqlite:////tmp/phoenix.db", "keeps SQLite in its own data directory"),
])
def test_a_bad_url_is_one_line_before_anything_starts(tmp_path, url, says):
    result = CliRunner().invoke(main, ["phoenix", "start", "--local", "--dir", str(tmp_path / "px"), "--database", url])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --database ") and says in lines[0], result.output
    assert "hunter2" not in result.output
    assert not (tmp_path / "px" / "server.log").exists()  # nothing was spawned


def test_mask_hides_only_the_password():
    assert mask("postgresql://u:p%40ss@h:5432/d?sslmode=require") == "postgresql://u:***@h:5432/d?sslmode=require"
    assert mask("postgresql://u@h/d") == "postgresql://u@h/d"
