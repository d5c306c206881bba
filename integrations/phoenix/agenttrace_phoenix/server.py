"""A local Arize Phoenix server, installed into and run from its own virtual environment.

The Phoenix server (``arize-phoenix``) cannot share an environment with whylogs (platformdirs
conflict) and costs seconds to import, so it never becomes a dependency of agenttrace: it is
installed with pip into a project-local venv and run as a detached ``phoenix serve`` process.

Layout under the base dir (default ``./.agenttrace/phoenix``, env ``AGENTTRACE_PHOENIX_DIR``)::

    venv-<version>/   the server's venv (env AGENTTRACE_PHOENIX_VENV overrides)
    data/             PHOENIX_WORKING_DIR: the SQLite database (unless on PostgreSQL: database.py)
    server.json       state of the running server (pid, ports, url, ...)
    server.log        the server's stdout/stderr
    install.log       pip's output from the last install

The server runs through ``phoenix_serve.py`` (next to this file, executed by the Phoenix venv's
Python), which binds Phoenix's OTLP/gRPC receiver to the same host as its HTTP port (loopback by
default; Phoenix itself always binds it to every interface) and lets Phoenix write every span it
accepted before it exits on SIGTERM (see that file).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
import venv
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional

from . import database as db
from . import registry
from .ports import HOST, PortInUse, choose_port

DEFAULT_VERSION = "20.26.1"
DEFAULT_PORT = 6006
DEFAULT_GRPC_PORT = 4317
DRAIN_SECONDS = 120.0  # how long a stopping Phoenix may take to write the spans it accepted
DRAIN_ENV = "AGENTTRACE_PHOENIX_DRAIN_SECONDS"  # overrides it (read by phoenix_serve.py)
# spans Phoenix accepts before answering 503 (its default is 20,000): what a stop must write, at
# ~100-1,000 spans/s into SQLite; beyond it the exporter retries, then counts what it gives up on
QUEUE_SIZE = 2000
DIR_ENV = "AGENTTRACE_PHOENIX_DIR"
VENV_ENV = "AGENTTRACE_PHOENIX_VENV"
LAUNCHER = Path(__file__).with_name("phoenix_serve.py")
# Phoenix's bulk inserter, when its shutdown drain ran out: what it accepted and never stored
_PENDING_AT_EXIT = re.compile(r"Span ingestion stopped with (\d+) spans still pending")
_QUEUED_AT_STOP = re.compile(r"agenttrace: Phoenix is stopping with (\d+) accepted span")  # phoenix_serve.py
ENDPOINT_ENVS = ("PHOENIX_COLLECTOR_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_MARKER = ".agenttrace-installed"
_TAIL = 15

Log = Callable[[str], None]


class PhoenixError(Exception):
    """Installing, starting or stopping the local Phoenix failed; the message says why."""


@dataclass
class ServerInfo:
    """A running local Phoenix."""

    pid: int
    port: int
    grpc_port: int
    url: str
    working_dir: Path
    log_file: Path
    version: str
    started_at: str = ""
    host: str = HOST  # the address both receivers listen on
    database: str = ""  # where the data lives (db.describe: SQLite dir or PostgreSQL URL, password masked)

    @property
    def otlp_http_endpoint(self) -> str:
        return self.url + "/v1/traces"

    @property
    def otlp_grpc_endpoint(self) -> str:
        return f"http://{_client_host(self.host)}:{self.grpc_port}"


def default_base_dir() -> Path:
    return Path(os.environ.get(DIR_ENV) or Path.cwd() / ".agenttrace" / "phoenix")


def configured_endpoint() -> Optional[tuple[str, str]]:
    """``(variable, value)`` of the first OTLP/Phoenix endpoint variable that is set, else None."""
    for name in ENDPOINT_ENVS:
        value = os.environ.get(name, "").strip()
        if value:
            return name, value
    return None


def locate(base_dir: Optional[Path] = None) -> "LocalPhoenix":
    """The local Phoenix of ``base_dir``. Without one (and without ``AGENTTRACE_PHOENIX_DIR``): the
    default directory's, else the most recently started server still running from any directory
    (:mod:`.registry`), else the default directory's (not running)."""
    here = LocalPhoenix(base_dir)
    if base_dir is not None or os.environ.get(DIR_ENV) or here.state_file.exists():
        return here
    for other in registry.remembered():
        server = LocalPhoenix(other)
        if server.status() is not None:
            return server
        if not server.state_file.exists():
            registry.forget(other)
    return here


def find_running(base_dir: Optional[Path] = None) -> Optional[ServerInfo]:
    """The running local Phoenix (see :func:`locate` for where it is looked for), or None."""
    return locate(base_dir).status()


def base_url(option: Optional[str] = None) -> str:
    """The Phoenix a command talks to: ``--phoenix-url``, else ``PHOENIX_COLLECTOR_ENDPOINT``, else
    the Phoenix started by ``agenttrace phoenix start``, else http://localhost:6006."""
    if option:
        return option.rstrip("/")
    env = os.environ.get("PHOENIX_COLLECTOR_ENDPOINT", "").strip().rstrip("/")
    if env:
        return env.removesuffix("/v1/traces")
    running = find_running()
    return running.url if running is not None else "http://localhost:6006"


class LocalPhoenix:
    """Install, start, inspect and stop a Phoenix server kept under ``base_dir``."""

    def __init__(self, base_dir: Optional[Path | str] = None, *, version: str = DEFAULT_VERSION,
                 venv_dir: Optional[Path | str] = None):
        self.base_dir = Path(base_dir) if base_dir is not None else default_base_dir()
        self.version = version
        venv_dir = venv_dir or os.environ.get(VENV_ENV) or self.base_dir / f"venv-{version}"
        self.venv_dir = Path(venv_dir)
        self.data_dir = self.base_dir / "data"
        self.state_file = self.base_dir / "server.json"
        self.log_file = self.base_dir / "server.log"
        self.install_log = self.base_dir / "install.log"
        self.lost_at_stop: Optional[int] = 0  # see stop()
        self.queued_at_stop: Optional[int] = None

    @property
    def executable(self) -> Path:
        return self.venv_dir / "bin" / "phoenix"

    @property
    def installed(self) -> bool:
        marker = self.venv_dir / _MARKER
        return marker.is_file() and marker.read_text().strip() == self.version and self.executable.exists()

    # --- install ---------------------------------------------------------------------------

    def install(self, log: Log = print, postgres: bool = False) -> Path:
        """Create the venv and ``pip install arize-phoenix==<version>`` unless already done
        (``arize-phoenix[pg]``, which adds the driver asyncpg, if ``postgres``; an existing venv gets
        the driver added). Returns the venv directory. A marker file is written only after a
        successful install, so an interrupted one is retried."""
        pg_requirement = f"arize-phoenix[pg]=={self.version}"
        if self.installed:
            if postgres:
                try:
                    db.ensure_driver(self.venv_dir, pg_requirement, log, self.install_log)
                except db.DatabaseError as err:
                    raise PhoenixError(str(err)) from None
            return self.venv_dir
        self.base_dir.mkdir(parents=True, exist_ok=True)
        python = self.venv_dir / "bin" / "python"
        if not (self.venv_dir / "bin" / "pip").exists():
            log(f"creating a virtual environment for the Phoenix server in {self.venv_dir}")
            try:
                venv.EnvBuilder(with_pip=True, clear=True, symlinks=os.name != "nt").create(self.venv_dir)
            except (OSError, subprocess.CalledProcessError) as err:
                raise PhoenixError(f"could not create the Phoenix venv {self.venv_dir}: {err}") from None
        requirement = pg_requirement if postgres else f"arize-phoenix=={self.version}"
        log(f"installing {requirement} into {self.venv_dir} (about a minute; log: {self.install_log})")
        with open(self.install_log, "w") as out:
            code = subprocess.call([str(python), "-m", "pip", "install", "--no-input", requirement],
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if code != 0 or not self.executable.exists():
            lines = [line for line in _tail(self.install_log, 200) if "is ignored" not in line][-_TAIL:]
            raise PhoenixError(f"pip install {requirement} failed (exit {code}); last lines of pip's output:\n"
                               + "\n".join(lines) + f"\nfull log: {self.install_log}")
        (self.venv_dir / _MARKER).write_text(self.version + "\n")
        return self.venv_dir

    # --- run -------------------------------------------------------------------------------

    def start(self, port: Optional[int] = None, grpc_port: Optional[int] = None, timeout: float = 120.0,
              log: Log = print, host: str = HOST, database: Optional[str] = None) -> ServerInfo:
        """Start the server (installing it first if needed) and wait until ``/healthz`` answers.
        Returns the running server's info; if one already runs from this base dir, returns that.
        Unset ports default to 6006 / 4317 when free, else any free port; an explicitly requested
        port that is taken raises :class:`PhoenixError` before anything is spawned. ``host``: the
        address both receivers (HTTP and OTLP/gRPC) listen on, loopback by default; anything else
        exposes them to the network (turn on Phoenix's auth first: docs/phoenix.md). ``database``:
        a ``postgresql://`` URL (default ``PHOENIX_SQL_DATABASE_URL``; neither: SQLite in the data dir)."""
        running = self.status()
        if running is not None:
            return running
        state = self._read_state()
        if state is not None:  # alive (status() removes dead ones) but not answering
            raise PhoenixError(f"a Phoenix started earlier (pid {state['pid']}) does not answer on {state['url']}; "
                               "stop it first (agenttrace phoenix stop)")
        _check_host(host)
        try:
            pg_url = db.resolve(database)
            where = db.describe(pg_url, self.data_dir)
        except db.DatabaseError as err:
            raise PhoenixError(f"--database {err}") from None
        drain = _drain_seconds()
        try:
            port = choose_port(port, DEFAULT_PORT)
            grpc_port = choose_port(grpc_port, DEFAULT_GRPC_PORT, avoid=port)
        except PortInUse as err:
            raise PhoenixError(str(err)) from None
        self.install(log, postgres=pg_url is not None)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ,
                   PHOENIX_MAX_SPANS_QUEUE_SIZE=os.environ.get("PHOENIX_MAX_SPANS_QUEUE_SIZE") or str(QUEUE_SIZE),
                   PHOENIX_PORT=str(port),
                   PHOENIX_GRPC_PORT=str(grpc_port),
                   PHOENIX_HOST=host,
                   AGENTTRACE_PHOENIX_GRPC_HOST=host,  # read by phoenix_serve.py
                   AGENTTRACE_PHOENIX_DRAIN_SECONDS=str(drain),
                   PHOENIX_WORKING_DIR=str(self.data_dir),
                   PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
                   PHOENIX_TELEMETRY_ENABLED="false",
                   PHOENIX_DISABLE_AGENT_ASSISTANT="true")
        env.pop(db.URL_ENV, None)
        if pg_url is not None:
            env[db.URL_ENV] = pg_url
        url = f"http://{_client_host(host)}:{port}"
        log(f"starting Phoenix {self.version} on {url} (OTLP gRPC port {grpc_port}, listening on {host}; "
            f"data: {where})")
        with open(self.log_file, "w") as out:
            python = self.venv_dir / "bin" / "python"
            proc = subprocess.Popen([str(python), str(LAUNCHER), "serve"], stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, cwd=self.base_dir, start_new_session=True)
        deadline = time.monotonic() + timeout
        try:
            while not _healthy(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    self._fail_start(proc, port, grpc_port, timeout, pg_url)
                time.sleep(0.25)
        except BaseException:  # failed, timed out or interrupted: leave no server nobody knows about
            if proc.poll() is None:
                _kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        info = ServerInfo(proc.pid, port, grpc_port, url, self.data_dir, self.log_file, self.version,
                          datetime.now(timezone.utc).isoformat(timespec="seconds"), host, where)
        self.state_file.write_text(json.dumps({**asdict(info), "working_dir": str(self.data_dir),
                                               "log_file": str(self.log_file), "drain_seconds": drain}, indent=2) + "\n")
        registry.remember(self.base_dir)
        return info

    def _fail_start(self, proc: subprocess.Popen, port: int, grpc_port: int, timeout: float,
                    pg_url: Optional[str] = None) -> None:
        exited = proc.poll() is not None
        lines = _tail(self.log_file, _TAIL)
        text = "\n".join(lines).lower()
        failed = db.failure(_tail(self.log_file, 200)) if pg_url is not None else None
        if failed and "address already in use" not in text:  # one line: which database, what went wrong
            raise PhoenixError(f"Phoenix did not start: database {db.mask(pg_url)}: {failed} (log: {self.log_file})")
        if "address already in use" in text:
            reason = f"port {port} is already in use"
        elif "failed to bind to address" in text:  # grpc's wording
            reason = f"gRPC port {grpc_port} is already in use"
        elif exited:
            reason = f"the server exited with code {proc.returncode}"
        else:
            reason = f"/healthz did not answer within {timeout:.0f} s"
        raise PhoenixError(f"Phoenix did not start: {reason}. Last lines of {self.log_file}:\n"
                          + ("\n".join(lines) or "(empty)"))

    def status(self) -> Optional[ServerInfo]:
        """The running server's info, or None. A state file whose process is gone is removed."""
        state = self._read_state()
        if state is None:
            return None
        if not _is_server(int(state["pid"])):
            self.state_file.unlink(missing_ok=True)
            registry.forget(self.base_dir)
            return None
        if not _healthy(state["url"]):
            return None
        return ServerInfo(int(state["pid"]), int(state["port"]), int(state["grpc_port"]), state["url"],
                          Path(state["working_dir"]), Path(state["log_file"]), state["version"],
                          state.get("started_at", ""), state.get("host", HOST), state.get("database", ""))

    def stop(self, timeout: Optional[float] = None, log: Log = lambda line: None) -> bool:
        """SIGTERM the server's process group and wait for it to exit; SIGKILL it after
        ``timeout`` seconds (default: the drain time it was started with, :data:`DRAIN_SECONDS`
        or ``AGENTTRACE_PHOENIX_DRAIN_SECONDS``, plus 30 s). Removes the state file. Returns True if a running server
        was stopped, False if none was running. Afterwards :attr:`lost_at_stop` is the number of
        accepted spans Phoenix reported it could not write before exiting (0 normally; None if it
        had to be killed, which loses its whole queue), and :attr:`queued_at_stop` how many it
        had accepted but not stored when the stop began (None if unknown)."""
        self.lost_at_stop, self.queued_at_stop = 0, None
        state = self._read_state()
        if state is None:
            return False
        pid = int(state["pid"])
        was_alive = _is_server(pid)
        if was_alive:
            log(f"stopping Phoenix (pid {pid}); it first writes the spans it accepted but has not stored yet")
            _kill_group(pid, signal.SIGTERM)
            drain = float(state.get("drain_seconds") or DRAIN_SECONDS)
            if not _wait_dead(pid, drain + 30.0 if timeout is None else timeout):
                _kill_group(pid, signal.SIGKILL)
                self.lost_at_stop = None
                if not _wait_dead(pid, 5.0):
                    raise PhoenixError(f"Phoenix (pid {pid}) did not exit after SIGKILL")
            else:
                lines = _tail(Path(state.get("log_file") or self.log_file), 50)
                self.lost_at_stop = sum(int(m.group(1)) for line in lines if (m := _PENDING_AT_EXIT.search(line)))
                queued = [int(m.group(1)) for line in lines if (m := _QUEUED_AT_STOP.search(line))]
                self.queued_at_stop = queued[-1] if queued else None
        self.state_file.unlink(missing_ok=True)
        registry.forget(self.base_dir)
        return was_alive

    def _read_state(self) -> Optional[dict]:
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            self.state_file.unlink(missing_ok=True)  # unreadable: nothing we can act on
            return None


# --- helpers -------------------------------------------------------------------------------


def _drain_seconds() -> float:
    text = os.environ.get(DRAIN_ENV, "").strip()
    try:
        value = float(text) if text else DRAIN_SECONDS
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86400:
        raise PhoenixError(f"{DRAIN_ENV}={text!r}: must be a number of seconds from 0 to 86400")
    return value


def _client_host(host: str) -> str:
    """Where a client on this machine reaches a server listening on ``host``."""
    return HOST if host in ("0.0.0.0", "::", "") else f"[{host}]" if ":" in host else host


def _check_host(host: str) -> None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise PhoenixError(f"--host {host!r} is not an IP address (e.g. 127.0.0.1, or 0.0.0.0 for every "
                           "interface)") from None


def _tail(path: Path, n: int, width: int = 300) -> list[str]:
    """The last ``n`` lines of a log, each cut to ``width`` characters (pip's can be kilobytes)."""
    try:
        lines = path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return []
    return [line if len(line) <= width else line[:width] + " …" for line in lines]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie child of ours is reaped and counts as gone)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_server(pid: int) -> bool:
    """True if ``pid`` runs and (where /proc tells) is a ``phoenix serve``, not a recycled pid."""
    if not _alive(pid):
        return False
    try:
        return b"phoenix" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc here: trust the pid


def _wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _kill_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group ``pid`` leads (the server was started in its own session)."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)
