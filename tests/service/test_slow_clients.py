"""Connections that never finish their request headers are closed (slowloris)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from support import Server, start_server, stop_server

HEADER_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"REFEREE_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S)}
    srv = start_server(tmp_path_factory.mktemp("slow"), env, workers=1)
    yield srv
    stop_server(srv)


def _connect(server: Server) -> socket.socket:
    url = urlsplit(server.url)
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=5)
    # Far longer than the header deadline: a server that keeps the connection fails here.
    sock.settimeout(HEADER_TIMEOUT_S + 20)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.parametrize(
    "sent",
    [b"", b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: appl"],
    ids=["nothing", "half-headers"],
)
def test_incomplete_headers_are_cut_off(server: Server, sent: bytes) -> None:
    with _connect(server) as sock:
        sock.sendall(sent)
        assert _closed_by_server(sock)
    with server.client() as client:
        assert client.get("/healthz").status_code == 200


def test_a_kept_alive_connection_that_stalls_mid_headers_is_cut_off(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHos")
        assert _closed_by_server(sock)


def test_slow_but_whole_requests_are_served(server: Server) -> None:
    # Headers in several packets, each well inside the deadline, still get an answer.
    with _connect(server) as sock:
        for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
            sock.sendall(part)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/readyz").json()["status"] == "ready"
