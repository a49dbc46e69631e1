"""Connections that never finish their request headers are closed (slowloris)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import h11
import httpx
import pytest
from support import Server, start_server, stop_server

HEADER_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Idle keep-alive outlasts the sockets' timeout: only the header deadline can close them.
    env = {"REFEREE_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S), "REFEREE_KEEP_ALIVE_S": "120"}
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
    """Whether the server closes the connection before the socket's timeout."""
    try:
        while sock.recv(4096):  # the rest of an earlier response may still come first
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def _read_response(sock: socket.socket) -> h11.Response:
    """One whole response, however the server split it into packets."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    response = None
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(4096))
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.EndOfMessage):
            assert response is not None
            return response


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
        assert _read_response(sock).status_code == 200
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHos")
        assert _closed_by_server(sock)


def test_the_next_request_begun_before_a_response_ends_still_has_a_deadline(
    server: Server,
) -> None:
    # A pipelined request's first bytes, sent with the previous request, are
    # buffered until that response is done: their header deadline still runs.
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHos")
        assert _closed_by_server(sock)


def test_slow_but_whole_requests_are_served(server: Server) -> None:
    # Headers in several packets, each well inside the deadline, still get an answer.
    with _connect(server) as sock:
        for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
            sock.sendall(part)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/readyz").json()["status"] == "ready"
