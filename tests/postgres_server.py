"""A throwaway PostgreSQL cluster for tests: Debian's ``postgresql`` binaries, a temporary data
directory, a free port on 127.0.0.1, trust authentication. ``initdb`` and ``pg_ctl`` refuse to run
as root, so as root they run as the ``postgres`` system user (which the Debian package creates).

    with PostgresServer() as pg:
        url = pg.create_database()   # postgresql://postgres@127.0.0.1:PORT/test_xxx

The session fixture ``postgres_server`` (tests/conftest.py) starts one for the whole test session.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from typing import Optional


def bin_dir() -> Optional[str]:
    """The newest installed PostgreSQL's binaries (``/usr/lib/postgresql/N/bin``), else initdb on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[-3]))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, user: str = "postgres") -> None:
        self.bin = bin_dir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install -y postgresql)")
        self.as_root = os.geteuid() == 0
        self.account = pwd.getpwnam(user) if self.as_root else None
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="agenttrace-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        kwargs = {"user": self.account.pw_uid, "group": self.account.pw_gid} if self.account else {}
        proc = subprocess.run([os.path.join(self.bin, args[0]), *args[1:]], capture_output=True, text=True,
                              timeout=120, cwd=self.dir, **kwargs)
        if proc.returncode != 0:
            log = open(self.log).read()[-2000:] if os.path.exists(self.log) else ""
            raise RuntimeError(f"{args[0]} failed: {proc.stderr.strip()[-2000:]}\n{log}")

    def start(self) -> "PostgresServer":
        if self.account:
            os.chown(self.dir, self.account.pw_uid, self.account.pw_gid)
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", self.log, "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def create_database(self) -> str:
        """A new empty database on this server; its URL."""
        import psycopg

        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
