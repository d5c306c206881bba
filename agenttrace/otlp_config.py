"""Where spans go and how long one export may take, from ``configure()`` arguments and ``OTEL_*``.

An argument passed in code is checked strictly: a bad one raises ``ValueError``. A value read from
the environment never takes the application down: it is reported once (a warning naming the
variable, its value and what is used instead) and the next source in the chain is used — the
signal-specific variable falls back to the general one, which falls back to the default.
``agenttrace config`` reports the same problems and exits 2.
"""

from __future__ import annotations

import logging
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence
from urllib.parse import urlsplit

logger = logging.getLogger("agenttrace")

DEFAULT_HTTP_ENDPOINT = "http://localhost:6006/v1/traces"  # a local Arize Phoenix
DEFAULT_GRPC_ENDPOINT = "http://localhost:4317"
PROTOCOLS = ("http/protobuf", "grpc")
# One export (all of the exporter's retries) may take this long. The OpenTelemetry default is 10 s;
# agenttrace's flush()/exit deadlines bound waiting anyway, this bounds how long a hung backend
# holds each batch.
DEFAULT_EXPORT_TIMEOUT = 5.0
COMPRESSIONS = ("none", "gzip", "deflate")

_TRACES, _ALL = "OTEL_EXPORTER_OTLP_TRACES_", "OTEL_EXPORTER_OTLP_"


@dataclass(frozen=True)
class EnvProblem:
    """An environment variable agenttrace could not use, and what it used instead."""

    variable: str
    shown: str  # the value as it may be logged (header values are never shown)
    reason: str
    used: str

    def __str__(self) -> str:
        return f"{self.variable}={self.shown} {self.reason}; using {self.used}"


_reported: set[str] = set()


def warn_once(problems: Sequence[EnvProblem]) -> None:
    """Log each environment problem once per process (configure() may be called many times)."""
    for problem in problems:
        text = str(problem)
        if text not in _reported:
            _reported.add(text)
            logger.warning("agenttrace: %s", text)


def _env(name: str) -> Optional[str]:
    value = os.environ.get(name)
    return value.strip() if value and value.strip() else None


def _chain(names: Sequence[str], parse, default, default_text: str, problems: Optional[list]):
    """The first usable value among the variables ``names`` (each parsed by ``parse``, or by
    ``parse[i]`` for the i-th name, returning ``(value, None)`` or ``(None, reason)``), else
    ``default``; the unusable ones are added to ``problems`` with what was used instead."""
    bad = []
    found = None
    for i, name in enumerate(names):
        raw = _env(name)
        if raw is None:
            continue
        value, reason = (parse[i] if isinstance(parse, (list, tuple)) else parse)(raw)
        if reason is None:
            found = (name, value)
            break
        bad.append((name, raw, reason))
    used_value, used_text = (found[1], f"{found[0]}={found[1]}") if found else (default, default_text)
    if problems is not None:
        problems.extend(EnvProblem(name, repr(raw), reason, used_text) for name, raw, reason in bad)
    return used_value


# ---------------------------------------------------------------------------------------- protocol

def _protocol(raw: str):
    value = raw.lower()
    value = "http/protobuf" if value == "http" else value
    if value in PROTOCOLS:
        return value, None
    return None, "is not an OTLP protocol agenttrace can export with (http/protobuf or grpc)"


def resolve_protocol(protocol: Optional[str], problems: Optional[list] = None) -> str:
    if protocol is not None:
        value, reason = _protocol(str(protocol).strip())
        if reason:
            raise ValueError(f"agenttrace: unsupported OTLP protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
        return value
    return _chain((_TRACES + "PROTOCOL", _ALL + "PROTOCOL"), _protocol, "http/protobuf",
                  "http/protobuf (the default)", problems)


# ---------------------------------------------------------------------------------------- endpoint

def endpoint_problem(url: str, protocol: str) -> Optional[str]:
    """Why ``url`` cannot be an OTLP endpoint for ``protocol``, or None when it can."""
    if any(c.isspace() for c in url):
        return "contains whitespace"
    if protocol == "grpc" and url.startswith(("unix:", "unix-abstract:")):
        return None  # a gRPC target on a Unix domain socket
    target = url if "://" in url or protocol != "grpc" else "http://" + url  # gRPC also takes host:port
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as err:
        return f"is not a valid URL ({err})"
    if parts.scheme not in ("http", "https"):
        return "is not an http:// or https:// URL"
    if not parts.hostname:
        return "has no host"
    return None


def resolve_endpoint(endpoint: Optional[str], protocol: str, problems: Optional[list] = None) -> str:
    """Explicit argument, then ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as is), then
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (+ ``/v1/traces`` for HTTP), then ``PHOENIX_COLLECTOR_ENDPOINT``
    (likewise), then a local Phoenix."""
    if endpoint:
        reason = endpoint_problem(str(endpoint), protocol)
        if reason:
            raise ValueError(f"agenttrace: endpoint {endpoint!r} {reason}")
        return str(endpoint)

    def signal_path(raw: str):
        return raw if protocol == "grpc" else raw.rstrip("/") + "/v1/traces"

    def as_is(raw: str):
        reason = endpoint_problem(raw, protocol)
        return (None, reason) if reason else (raw, None)

    def base(raw: str):
        reason = endpoint_problem(raw, protocol)
        return (None, reason) if reason else (signal_path(raw), None)

    default = DEFAULT_GRPC_ENDPOINT if protocol == "grpc" else DEFAULT_HTTP_ENDPOINT
    return _chain((_TRACES + "ENDPOINT", _ALL + "ENDPOINT", "PHOENIX_COLLECTOR_ENDPOINT"), (as_is, base, base),
                  default, f"{default} (the default)", problems)


# ---------------------------------------------------------------------------------------- timeout

def _seconds(raw: str):
    try:
        value = float(raw)
    except ValueError:
        return None, "is not a number of seconds"
    if not math.isfinite(value) or value <= 0:
        return None, "is not a positive number of seconds"
    return value, None


def resolve_timeout(timeout: Optional[float], problems: Optional[list] = None) -> float:
    """Seconds one export may take, retries included: the argument, else
    ``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`` / ``OTEL_EXPORTER_OTLP_TIMEOUT`` (read in seconds, as the
    OpenTelemetry Python exporters read them), else :data:`DEFAULT_EXPORT_TIMEOUT`."""
    if timeout is not None:
        value, reason = (None, "is not a number") if isinstance(timeout, bool) else _seconds(str(timeout))
        if reason:
            raise ValueError(f"agenttrace: export_timeout={timeout!r} {reason}")
        return value
    return _chain((_TRACES + "TIMEOUT", _ALL + "TIMEOUT"), _seconds, DEFAULT_EXPORT_TIMEOUT,
                  f"{DEFAULT_EXPORT_TIMEOUT:g} s (agenttrace's default)", problems)


# ---------------------------------------------------------------------------------------- headers

def parse_headers(headers) -> Optional[dict]:
    """``headers=`` as a dict or a ``"k=v,k2=v2"`` string."""
    if headers is None or isinstance(headers, dict):
        return headers
    out = {}
    for item in str(headers).split(","):
        if "=" in item:
            key, value = item.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _malformed(item: str) -> bool:
    return bool(item.strip()) and ("=" not in item or not item.split("=", 1)[0].strip())


def env_headers_problems(problems: list) -> tuple[dict, list[str]]:
    """Malformed ``OTEL_EXPORTER_OTLP_*HEADERS``: their well-formed entries (to pass explicitly) and
    the variables to hide from the exporter, which would log their raw values — header values are
    often API keys, so a problem shows names only."""
    from opentelemetry.util.re import parse_env_headers

    headers: dict = {}
    hide = []
    for name in (_ALL + "HEADERS", _TRACES + "HEADERS"):  # the signal-specific one wins, applied last
        raw = _env(name)
        if raw is None:
            continue
        items = raw.split(",")
        bad = [item for item in items if _malformed(item)]
        if not bad:
            continue
        good = [item for item in items if item.strip() and not _malformed(item)]
        shown = ",".join("<not name=value>" if _malformed(i) else f"{i.split('=', 1)[0].strip()}=…" for i in items)
        kept = ", ".join(i.split("=", 1)[0].strip() for i in good) or "none"
        what = "entry that is" if len(bad) == 1 else "entries that are"
        problems.append(EnvProblem(name, repr(shown), f"has {len(bad)} {what} not name=value",
                                   f"its well-formed headers ({kept})"))
        headers.update(parse_env_headers(",".join(good), liberal=True))
        hide.append(name)
    return headers, hide


# ---------------------------------------------------------------------------------------- compression

def _compression(raw: str):
    value = raw.lower()
    return (value, None) if value in COMPRESSIONS else (None, "is not one of none, gzip, deflate")


def compression_problems(problems: list) -> list[str]:
    """Bad ``OTEL_EXPORTER_OTLP_*COMPRESSION`` values (the gRPC exporter raises on them): the
    variables to hide, so the exporter falls back to the next one or to no compression."""
    found: list = []
    _chain((_TRACES + "COMPRESSION", _ALL + "COMPRESSION"), _compression, "none", "none", found)
    problems.extend(found)
    return [p.variable for p in found]


@contextmanager
def hidden_env(names: Sequence[str]) -> Iterator[None]:
    """Hide variables from code that reads ``os.environ`` itself (the OTLP exporters' constructors).
    Process-wide for the duration: meant for ``configure()`` at start-up."""
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)
