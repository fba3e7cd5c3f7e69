"""An idle keep-alive connection stays open until the header deadline (10 s by default),
past httpx's own idle limit (5 s): when the service closed it at uvicorn's 5 s, a client
that sent its next request as the service closed the connection got a read error."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.conftest import Server, started

REQUEST = b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture(scope="module")
def server(server_home: Path) -> Iterator[Server]:
    yield from started(server_home)  # the default header deadline


def _response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_an_idle_connection_outlives_httpx_keep_alive(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(REQUEST)
        assert _response(sock).startswith(b"HTTP/1.1 200")
        time.sleep(6)  # longer than httpx's keepalive_expiry and uvicorn's default
        sock.sendall(REQUEST)
        assert _response(sock).startswith(b"HTTP/1.1 200")
