"""`agenttrace phoenix start` keeps Phoenix's receivers on loopback.

Phoenix 20.26.1 binds its OTLP/gRPC receiver to ``[::]`` (every interface) whatever PHOENIX_HOST
says; the session's Phoenix (started by LocalPhoenix like the CLI does) must accept connections on
127.0.0.1 only. Checked twice: by connecting to the machine's own non-loopback address, and by
reading the kernel's table of listening sockets (/proc/net/tcp, tcp6) for the server's process.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

LISTEN = "0A"


def _listening(pid: int) -> dict[int, list[str]]:
    """Port → addresses the process ``pid`` listens on (TCP, IPv4 and IPv6), from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    found: dict[int, list[str]] = {}
    for table, size in (("tcp", 4), ("tcp6", 16)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != LISTEN or inode not in inodes:
                continue
            hex_addr, hex_port = local.split(":")
            raw = bytes.fromhex(hex_addr)
            # the kernel prints each 32-bit word in host (little-endian) order
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, size, 4))
            found.setdefault(int(hex_port, 16), []).append(str(ipaddress.ip_address(raw)))
    return found


def _is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _own_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None without one."""
    for target in ("10.255.255.255", "203.0.113.1"):  # private / documentation ranges: only routing is consulted
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect((target, 9))
            except OSError:
                continue
            address = s.getsockname()[0]
        if not ipaddress.ip_address(address).is_loopback and address != "0.0.0.0":
            return address
    return None


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def test_every_phoenix_listening_socket_is_on_loopback(phoenix_server):
    listening = _listening(phoenix_server.pid)
    assert {phoenix_server.port, phoenix_server.grpc_port} <= set(listening), listening
    exposed = {port: addrs for port, addrs in listening.items() if not all(_is_loopback(a) for a in addrs)}
    assert not exposed, f"Phoenix listens beyond loopback: {exposed}"


def test_the_receivers_answer_on_loopback_but_not_on_the_network_address(phoenix_server):
    assert _accepts("127.0.0.1", phoenix_server.port) and _accepts("127.0.0.1", phoenix_server.grpc_port)
    own = _own_address()
    if own is None:
        pytest.skip("this machine has no non-loopback address; the /proc check above covers it")
    assert not _accepts(own, phoenix_server.grpc_port), f"OTLP/gRPC reachable on {own}"
    assert not _accepts(own, phoenix_server.port), f"HTTP reachable on {own}"
