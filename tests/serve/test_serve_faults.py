"""Hostile and unlucky clients against a real ``lineage serve`` on 127.0.0.1: every one gets
a 4xx (or 503 with Retry-After), never a 500, and nothing is half-recorded."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from filelock import FileLock

from tests.conftest import collected, shared
from tests.serve.conftest import Server, cli, started

MAX_BODY = 65_536


@pytest.fixture(scope="module")
def server(server_home: Path) -> Iterator[Server]:
    yield from started(
        server_home,
        "--max-body",
        str(MAX_BODY),
        "--header-timeout",
        "1",
        "--body-timeout",
        "1",
        "--max-ingests",
        "2",
        "--write-wait",
        "0.5",
    )


def log_end(server: Server) -> dict[str, int]:
    with server.client() as c:
        end: dict[str, int] = c.get("/v1/status").json()["log"]["end"]
        return end


def lines(*events: dict[str, Any]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


JSONL = {"Content-Type": "application/x-ndjson"}


def test_tokens_and_scopes(server: Server) -> None:
    body = {"identifier": "jane@example.com"}
    assert httpx.post(server.url + "/v1/who-has", json=body).status_code == 401
    bad = {"Authorization": "Bearer lin_not-a-token"}
    answer = httpx.post(server.url + "/v1/who-has", json=body, headers=bad)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json() == {"error": "unknown or revoked token"}
    # The token is checked before the body is even parsed.
    assert httpx.post(server.url + "/v1/who-has", content=b"{nope").status_code == 401
    with server.client("read") as c:
        assert c.post("/v1/who-has", json=body).status_code == 200
        refused = c.post("/v1/events", json=[collected()])
        assert refused.status_code == 403
        assert "needs ingest" in refused.json()["error"]
        assert c.post("/v1/erase", json={**body, "dry_run": True}).status_code == 403
    with server.client("ingest") as c:
        assert c.post("/v1/who-has", json=body).status_code == 403
        assert c.get("/v1/status").status_code == 403
    with server.client("rights") as c:
        assert c.post("/v1/erase", json={**body, "dry_run": True}).status_code == 200
    with server.client("admin") as c:
        assert c.get("/v1/status").status_code == 200
    # Open without a token: liveness and the API's description only.
    assert httpx.get(server.url + "/openapi.json").status_code == 200
    assert httpx.get(server.url + "/v1/status").status_code == 401


def test_a_revoked_token_stops_working(server: Server) -> None:
    made = cli(server.home, "token", "create", "--scope", "read", "--name", "temp")
    headers = {"Authorization": f"Bearer {made.stdout.strip()}"}
    assert httpx.get(server.url + "/v1/status", headers=headers).status_code == 200
    assert cli(server.home, "token", "revoke", "temp").returncode == 0
    assert httpx.get(server.url + "/v1/status", headers=headers).status_code == 401
    listed = json.loads(cli(server.home, "token", "list", "--format", "json").stdout)
    assert "temp" not in {t["name"] for t in listed["tokens"]}
    assert all("sha256" not in t for t in listed["tokens"])


def test_malformed_json_names_where(server: Server) -> None:
    before = log_end(server)
    with server.client() as c:
        who = c.post(
            "/v1/who-has", content=b'{"identifier":', headers={"Content-Type": "application/json"}
        )
        assert who.status_code == 400
        array = c.post(
            "/v1/events", content=b'[{"event_type": ', headers={"Content-Type": "application/json"}
        )
        assert array.status_code == 400
        assert array.json()["where"] == "body"
        jsonl = c.post("/v1/events", content=lines(collected()) + "{oops\n", headers=JSONL)
        assert jsonl.status_code == 400
        assert jsonl.json()["where"] == "body:2"
        assert c.post("/v1/events", content=b"\xff\xfe", headers=JSONL).status_code == 422
        assert (
            c.post("/v1/events", content=b"a,b", headers={"Content-Type": "text/csv"}).status_code
            == 415
        )
        unknown = c.post("/v1/who-has", json={"identifier": "x@example.com", "nope": 1})
        assert unknown.status_code == 422
        assert unknown.json()["where"] == "body.nope"
        bad_time = c.post("/v1/who-has", json={"identifier": "x@example.com", "as_of": "soon"})
        assert bad_time.status_code == 422
        assert bad_time.json()["where"] == "as_of"
    assert log_end(server) == before


def test_one_bad_event_and_nothing_is_appended(server: Server) -> None:
    before = log_end(server)
    bad = collected("bad@example.com", categories=["user.contact.emial"])
    with server.client("ingest") as c:
        answer = c.post("/v1/events", json=[collected("ok@example.com"), bad, shared()])
        assert answer.status_code == 422
        assert answer.json()["where"] == "body[1]"
        assert "user.contact.email" in answer.json()["error"]  # the closest key suggested
        as_lines = c.post(
            "/v1/events", content=lines(collected("ok@example.com"), bad), headers=JSONL
        )
        assert as_lines.status_code == 422
        assert as_lines.json()["where"] == "body:2"
    assert log_end(server) == before


def test_oversized_bodies_get_413(server: Server) -> None:
    before = log_end(server)
    big = lines(*[collected(f"p{i}@example.com") for i in range(400)]).encode()
    assert len(big) > MAX_BODY
    with server.client("ingest") as c:
        declared = c.post("/v1/events", content=big, headers=JSONL)
        assert declared.status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            for i in range(0, len(big), 4096):
                yield big[i : i + 4096]

        streamed = c.post("/v1/events", content=chunks(), headers=JSONL)
        assert streamed.status_code == 413
        # Queries take small bodies only.
        query = c.post(
            "/v1/who-has", json={"identifier": "x@example.com", "ids": {"k": "v" * MAX_BODY}}
        )
        assert query.status_code == 413
    assert log_end(server) == before


def _raw(server: Server, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(data)
    return sock


def _headers(server: Server, length: int) -> bytes:
    return (
        f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {server.token('ingest')}\r\n"
        f"Content-Type: application/x-ndjson\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_slow_headers_are_cut_off(server: Server) -> None:
    sock = _raw(server, b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    began = time.monotonic()
    with sock:
        assert sock.recv(1024) == b""  # closed by the server
    assert time.monotonic() - began < 4


def test_a_stalled_body_gets_408_and_records_nothing(server: Server) -> None:
    before = log_end(server)
    body = lines(collected("slow@example.com")).encode()
    with _raw(server, _headers(server, len(body)) + body[:20]) as sock:
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert log_end(server) == before


def test_a_client_gone_mid_body_records_nothing(server: Server) -> None:
    before = log_end(server)
    body = lines(*[collected(f"gone{i}@example.com") for i in range(20)]).encode()
    _raw(server, _headers(server, len(body)) + body[: len(body) // 2]).close()
    time.sleep(0.3)
    assert log_end(server) == before
    with server.client() as c:
        assert c.get("/v1/status").status_code == 200


def test_too_many_ingests_get_429(server: Server) -> None:
    body = lines(collected("queued@example.com")).encode()
    # Two ingests in flight (their bodies still coming) take both slots.
    held = [_raw(server, _headers(server, len(body)) + body[:10]) for _ in range(2)]
    try:
        time.sleep(0.2)
        with server.client("ingest") as c:
            answer = c.post("/v1/events", content=body, headers=JSONL)
        assert answer.status_code == 429
        assert answer.headers["retry-after"] == "1"
    finally:
        for sock in held:
            sock.close()


def test_a_busy_log_writer_gets_503(server: Server) -> None:
    before = log_end(server)
    with FileLock(str(server.home / "log" / "lock")), server.client("ingest") as c:
        answer = c.post("/v1/events", json=[collected("busy@example.com")])
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
    assert log_end(server) == before
    with server.client("ingest") as c:
        assert c.post("/v1/events", json=[collected("busy@example.com")]).status_code == 200


def test_reposting_a_batch_records_nothing_new(server: Server) -> None:
    batch = [collected("twice@example.com"), shared("twice@example.com")]
    with server.client() as c:
        first = c.post("/v1/events", json=batch)
        assert first.status_code == 200
        assert first.json()["appended"] == 2
        counted = server.wait_projected(c)["projection"]["events"]
        ask = {"identifier": "twice@example.com", "as_of": "2025-01-01T00:00:00Z"}
        answer = c.post("/v1/who-has", json=ask).json()
        assert c.post("/v1/events", json=batch).status_code == 200
        assert server.wait_projected(c)["projection"]["events"] == counted
        assert c.post("/v1/who-has", json=ask).json() == answer
    assert answer["holders"]


def test_concurrent_readers_and_ingest(server: Server) -> None:
    errors: list[str] = []
    written: list[str] = []
    stop = threading.Event()

    def ingest(n: int) -> None:
        with server.client("ingest") as c:
            for i in range(15):
                email = f"c{n}-{i}@example.com"
                answer = c.post("/v1/events", json=[collected(email), shared(email)])
                while answer.status_code in (429, 503):
                    time.sleep(0.05)
                    answer = c.post("/v1/events", json=[collected(email), shared(email)])
                if answer.status_code != 200:
                    errors.append(answer.text)
                written.append(email)

    def read() -> None:
        with server.client("read") as c:
            while not stop.is_set():
                answer = c.post("/v1/who-has", json={"identifier": "twice@example.com"})
                if answer.status_code != 200 or len(answer.json()["holders"]) != 2:
                    errors.append(answer.text)

    writers = [threading.Thread(target=ingest, args=(n,)) for n in range(3)]
    readers = [threading.Thread(target=read) for _ in range(6)]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not errors, errors[:3]
    with server.client("read") as c:
        server.wait_projected(c)
        for email in written:
            holders = c.post("/v1/who-has", json={"identifier": email}).json()["holders"]
            assert {h["holder"] for h in holders} == {"webshop-db", "e-conomic"}


def test_no_identifier_in_the_access_log(server: Server) -> None:
    with server.client() as c:
        c.post("/v1/who-has", json={"identifier": "secret.person@example.com"})
        c.post("/v1/events", json=[collected("secret.person@example.com")])
        c.get("/v1/exposed", params={"holder": "webshop-db", "at": "2024-06-01T00:00:00Z"})
    time.sleep(0.2)
    text = server.log.read_text()
    assert "POST /v1/who-has 200" in text
    assert "GET /v1/exposed 200" in text
    assert "secret.person" not in text
    assert "webshop-db" not in text  # query strings are not logged either


def test_unexpected_paths_and_methods_are_4xx(server: Server) -> None:
    with server.client() as c:
        assert c.get("/v1/nothing-here").status_code == 404
        assert c.get("/v1/who-has").status_code == 405
        assert c.get("/v1/erasure/requests/" + str(uuid.uuid4())).status_code == 404
        assert c.post("/v1/erasure/requests/x/extend", json={"months": 7}).status_code == 422


def test_access_log_parts_a_who_has_answers_work_from_its_wait(server: Server) -> None:
    """A who-has line says how long computing the answer took, within its whole time; a
    route without the bound on concurrent answers says nothing of work."""
    import re

    with server.client() as c:
        assert c.post("/v1/who-has", json={"identifier": "a@example.com"}).status_code == 200
        assert c.get("/v1/status").status_code == 200
    time.sleep(0.2)
    text = server.log.read_text()
    lines = re.findall(r"POST /v1/who-has 200 ([0-9.]+)ms token=\S+ work=([0-9.]+)ms", text)
    assert lines, text
    total, work = (float(v) for v in lines[-1])
    assert 0 < work <= total
    status = [line for line in text.splitlines() if "GET /v1/status 200" in line]
    assert status and "work=" not in status[-1]
