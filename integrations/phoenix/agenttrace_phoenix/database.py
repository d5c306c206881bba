"""Which database a local Phoenix stores its data in: SQLite in its working directory (the
default) or a PostgreSQL server (``--database postgresql://...`` or ``PHOENIX_SQL_DATABASE_URL``).

Phoenix reaches PostgreSQL through ``asyncpg``, which ``arize-phoenix`` only pulls in with its
``pg`` extra; :func:`ensure_driver` installs ``arize-phoenix[pg]`` into the server's own venv (a
no-op when the driver is already there).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import urlsplit, urlunsplit

URL_ENV = "PHOENIX_SQL_DATABASE_URL"
SCHEMA_ENV = "PHOENIX_SQL_DATABASE_SCHEMA"
_POSTGRES_SCHEMES = ("postgresql", "postgres")
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# what a failed database connection leaves in Phoenix's log (asyncpg, socket and SQLAlchemy errors)
_DB_FAILURE = re.compile(r"(asyncpg\.|psycopg|sqlalchemy\.exc\.|ConnectionRefused|OSError: |"
                         r"socket\.gaierror|InvalidCatalogName|InvalidPassword|InvalidAuthorization|"
                         r"TimeoutError|password authentication failed|does not exist)", re.IGNORECASE)


class DatabaseError(ValueError):
    """A database URL Phoenix cannot use; the message says why (without the password)."""


def resolve(database: Optional[str]) -> Optional[str]:
    """The PostgreSQL URL Phoenix should use: ``database`` if given, else ``PHOENIX_SQL_DATABASE_URL``;
    None for SQLite (the default, also for an explicit ``sqlite`` / ``sqlite:///...``)."""
    url = (database if database is not None else os.environ.get(URL_ENV, "")).strip()
    if not url or url == "sqlite":
        return None
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        raise DatabaseError(f"{mask(url)}: a local Phoenix keeps SQLite in its own data directory "
                            "(--dir); give a postgresql:// URL or leave the database unset")
    if scheme.split("+", 1)[0] not in _POSTGRES_SCHEMES:
        raise DatabaseError(f"{mask(url)}: not a PostgreSQL URL (expected postgresql://user:password@host:port/database)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as err:
        raise DatabaseError(f"{mask(url)}: {err}") from None
    if not parts.hostname:
        raise DatabaseError(f"{mask(url)}: no host (expected postgresql://user:password@host:port/database)")
    if parts.path.strip("/") == "":
        raise DatabaseError(f"{mask(url)}: no database name (expected postgresql://user:password@host:port/database)")
    return url


def schema() -> Optional[str]:
    """``PHOENIX_SQL_DATABASE_SCHEMA`` if set (Phoenix creates the schema and keeps its tables there)."""
    name = os.environ.get(SCHEMA_ENV, "").strip()
    if name and not _SCHEMA_NAME.fullmatch(name):
        raise DatabaseError(f"{SCHEMA_ENV}={name!r}: not a plain PostgreSQL schema name")
    return name or None


def mask(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for logs, status and error messages)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    except ValueError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def describe(url: Optional[str], data_dir: Path) -> str:
    """One line naming where Phoenix's data lives, password masked."""
    if url is None:
        return f"SQLite in {data_dir}"
    name = schema()
    return f"PostgreSQL {mask(url)}" + (f" (schema {name})" if name else "")


def ensure_driver(venv_dir: Path, requirement: str, log: Callable[[str], None], install_log: Path) -> None:
    """Install ``requirement`` (``arize-phoenix[pg]==<version>``: adds asyncpg) into the server's venv
    unless its Python already imports asyncpg."""
    python = str(venv_dir / "bin" / "python")
    probe = subprocess.run([python, "-c", "import asyncpg"], capture_output=True, stdin=subprocess.DEVNULL)
    if probe.returncode == 0:
        return
    log(f"installing {requirement} (the PostgreSQL driver asyncpg) into {venv_dir}")
    with open(install_log, "w") as out:
        code = subprocess.call([python, "-m", "pip", "install", "--no-input", requirement],
                               stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if code != 0:
        tail = install_log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise DatabaseError(f"pip install {requirement} failed (exit {code}): {tail[0][:300]} (log: {install_log})")


def failure(lines: list[str]) -> Optional[str]:
    """The last line of Phoenix's startup log that reports a database error, else None."""
    for line in reversed(lines):
        if _DB_FAILURE.search(line) and not line.lstrip().startswith(("File ", "^", "~")):
            return line.strip()
    return None
