"""Hostile webhook clients against a real ``lineage connector serve`` process on 127.0.0.1:
unreadable deliveries are 400s (never 500s), bodies are capped while streaming (413), slow
bodies time out (408), and connections that never finish their headers are closed."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from lineage.ingest.webhooks import stripe_signature_header
from tests.conftest import Lineage
from tests.webhook_server import Served, serve_webhooks

SECRET = "whsec_limits_0000"
MAX_BODY = 128 * 1024
MAX_CONNECTIONS = 50


@pytest.fixture
def server(lineage: Lineage) -> Iterator[Served]:
    env = {"LINEAGE_STRIPE_API_KEY": "sk_test_limits", "LINEAGE_STRIPE_WEBHOOK_SECRET": SECRET}
    with serve_webhooks(
        lineage, env, "--connector", "stripe", "--max-body", str(MAX_BODY),
        "--header-timeout", "1", "--body-timeout", "1", "--max-connections", str(MAX_CONNECTIONS),
    ) as served:  # fmt: skip
        yield served


def _event(created: object = None) -> dict[str, object]:
    return {
        "id": "evt_limits1",
        "object": "event",
        "type": "customer.created",
        "created": created if created is not None else int(time.time()),
        "data": {"object": {"id": "cus_L1", "object": "customer", "email": "l@example.com"}},
    }


def _post(server: Served, body: bytes, header: str | None = None) -> httpx.Response:
    header = header or stripe_signature_header(SECRET, body, int(time.time()))
    return httpx.post(
        f"{server.url}/hooks/stripe",
        content=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        timeout=10,
    )


def test_unreadable_deliveries_are_400_not_500(server: Served) -> None:
    body = json.dumps(_event()).encode()
    long_t = f"t={'9' * 5000},v1=" + "0" * 64
    assert _post(server, body, long_t).status_code == 400
    deep = b"[" * 50_000 + b"]" * 50_000
    assert _post(server, deep).status_code == 400
    assert _post(server, json.dumps(_event(created=1e20)).encode()).status_code == 400
    assert _post(server, json.dumps(_event()).encode()).status_code == 200  # still serving


def test_bodies_over_the_limit_are_413_while_streaming(server: Served) -> None:
    big = b"x" * (MAX_BODY + 1)
    assert _post(server, big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap applies while reading
        for _ in range(40):
            yield b"y" * 4096

    response = httpx.post(
        f"{server.url}/hooks/stripe",
        content=chunks(),
        headers={"Stripe-Signature": "t=1,v1=00"},
        timeout=10,
    )
    assert response.status_code == 413
    declared = _raw(server, b"Content-Length: 99999999999999999999\r\n", b"")
    assert declared.startswith(b"HTTP/1.1 4"), declared[:40]


def _raw(server: Served, headers: bytes, body: bytes, wait: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(b"POST /hooks/stripe HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + body)
        return sock.recv(200)


def test_a_body_that_never_completes_is_408(server: Served) -> None:
    started = time.monotonic()
    answer = _raw(server, b"Content-Length: 100\r\n", b"{" * 10)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < 4


def test_half_open_connections_are_closed(server: Served) -> None:
    sockets = []
    try:
        for i in range(1000):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            # Headers begun and never finished (every other one sends nothing at all).
            if i % 2:
                sock.sendall(b"POST /hooks/stripe HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            sockets.append(sock)
        deadline = time.monotonic() + 15
        open_ = list(sockets)
        while open_ and time.monotonic() < deadline:
            still = []
            for sock in open_:
                sock.settimeout(0.01)
                try:
                    if sock.recv(1) == b"":
                        continue  # closed by the server
                except TimeoutError:
                    still.append(sock)
                except ConnectionResetError:
                    continue
            open_ = still
        assert not open_, f"{len(open_)} of 1000 half-open connections still open"
    finally:
        for sock in sockets:
            sock.close()
    assert _post(server, json.dumps(_event()).encode()).status_code == 200


def test_past_the_connection_limit_requests_get_503(server: Served) -> None:
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(MAX_CONNECTIONS)]
    try:
        assert _post(server, json.dumps(_event()).encode()).status_code == 503
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 10
    while _post(server, json.dumps(_event()).encode()).status_code == 503:
        assert time.monotonic() < deadline, "the receiver stayed at its connection limit"
        time.sleep(0.1)
