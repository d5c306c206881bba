"""Ports for the local Phoenix: free on loopback and on every interface (Phoenix's gRPC binds [::])."""

from __future__ import annotations

import errno
import socket
from typing import Optional

HOST = "127.0.0.1"


class PortInUse(Exception):
    """A port asked for explicitly is taken."""


def port_free(port: int) -> bool:
    """True if ``port`` can be bound on loopback and on all interfaces (Phoenix's gRPC binds [::])."""
    for family, host in ((socket.AF_INET, HOST), (socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            probe = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue  # no IPv6 here
        with probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as err:
                if family == socket.AF_INET or err.errno == errno.EADDRINUSE:
                    return False
    return True


def free_port() -> int:
    """A port the OS considers free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def choose_port(requested: Optional[int], default: int, avoid: Optional[int] = None) -> int:
    if requested is not None:
        if requested == avoid or not port_free(requested):
            raise PortInUse(f"port {requested} is already in use")
        return requested
    if default != avoid and port_free(default):
        return default
    port = free_port()
    while port == avoid:
        port = free_port()
    return port
