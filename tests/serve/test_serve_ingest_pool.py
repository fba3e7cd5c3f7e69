"""Ingest batches prepared in the service's worker processes answer exactly as those
prepared in the request's thread, and a worker killed mid-batch costs that batch a 503 and
nothing else."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lineage.codec import default_codec
from lineage.log.file import FileLog
from tests.conftest import collected, shared
from tests.serve.conftest import Server, cli, started

JANE = "jane@example.com"
JSONL = {"Content-Type": "application/x-ndjson"}


def lines(*events: dict[str, Any]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


def _home(root: Path) -> Path:
    home = root / "home"
    assert cli(home, "init").returncode == 0
    return home


@pytest.fixture(scope="module")
def pooled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Every batch, however small, goes to the one worker."""
    home = _home(tmp_path_factory.mktemp("pooled"))
    yield from started(home, "--ingest-workers", "1", "--ingest-threshold", "0")


@pytest.fixture(scope="module")
def in_thread(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = _home(tmp_path_factory.mktemp("in-thread"))
    yield from started(home, "--ingest-workers", "0")


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def logged(home: Path) -> list[bytes]:
    log = FileLog(home / "log")
    try:
        return [r.value for r in log.read() if r.value is not None]
    finally:
        log.close()


CONSENT = {
    "event_type": "ConsentGiven",
    "occurred_at": "2024-01-15T09:30:00Z",
    "subject": {"email": JANE},
    "purpose": "marketing.communications.email",
    "evidence": {"channel": f"form signed by {JANE}", "text_version": "v2 call +4520112233"},
}
LINKED = collected(JANE, subject={"email": JANE, "customer_number": "1042"})
FUTURE = collected("later@example.com", occurred_at="2099-01-01T00:00:00Z")
BAD = collected("bad@example.com", categories=["user.contact.emial"])

# (content type, body): good batches, then every kind of refusal.
CASES: list[tuple[str, str]] = [
    ("application/json", json.dumps([collected(JANE), shared(JANE), CONSENT])),
    ("application/x-ndjson", lines(LINKED, shared("bob@example.com"))),
    ("application/json", json.dumps([FUTURE, collected("x@example.com")])),
    ("application/json", json.dumps(collected("one@example.com"))),  # one object
    ("application/json", json.dumps([collected("ok@example.com"), BAD, shared()])),
    ("application/x-ndjson", lines(collected("ok@example.com"), BAD)),
    ("application/json", '[{"event_type": '),
    ("application/x-ndjson", lines(collected()) + "{oops\n"),
    ("application/json", "[]"),
    ("application/x-ndjson", "\n\n"),
    ("application/json", json.dumps([{"event_type": "NoSuchEvent"}])),
    ("application/json", json.dumps([collected(JANE, occurred_at="yesterday")])),
    ("application/json", json.dumps([collected(JANE, subject={})])),
]


def test_workers_answer_as_the_request_thread_does(pooled: Server, in_thread: Server) -> None:
    answers = []
    for server in (pooled, in_thread):
        with server.client("ingest") as c:
            got = []
            for kind, body in CASES:
                answer = c.post("/v1/events", content=body, headers={"Content-Type": kind})
                got.append((answer.status_code, answer.json()))
            answers.append(got)
    assert answers[0] == answers[1]
    statuses = [status for status, _ in answers[0]]
    assert statuses == [200] * 4 + [422, 422, 400, 400, 422, 422, 422, 422, 422]
    first = answers[0][0][1]
    assert first["appended"] == 3
    assert answers[0][1][1]["identity_links"] == 1
    assert answers[0][2][1]["future_events"] == 1
    assert answers[0][2][1]["first_future_event"] == "body[0]"
    assert answers[0][4][1]["where"] == "body[1]"
    assert answers[0][5][1]["where"] == "body:2"
    assert answers[0][7][1]["where"] == "body:2"
    # The same events in both logs (other keys: other references), none of them raw.
    pooled_log, thread_log = logged(pooled.home), logged(in_thread.home)
    assert len(pooled_log) == len(thread_log) == 3 + 3 + 2 + 1
    codec = default_codec()
    assert [codec.decode(r)["envelope"]["event_type"] for r in pooled_log] == [
        codec.decode(r)["envelope"]["event_type"] for r in thread_log
    ]
    everything = b"".join(pooled_log)
    for raw in (JANE, "bob@example.com", "1042", "4520112233"):
        assert raw.encode() not in everything, raw
    with pooled.client("read") as c:
        holders = c.post("/v1/who-has", json={"identifier": JANE}).json()["holders"]
        assert {h["holder"] for h in holders} >= {"webshop-db", "e-conomic"}


def test_a_worker_keeps_its_parser_but_not_the_links_it_emitted(
    pooled: Server, in_thread: Server
) -> None:
    """The worker keeps one parser for every batch (its caches), yet each batch records its
    own identity links, as a new parser does: also after a refused batch that derived the
    same link, and after one that recorded it. A body that is not UTF-8 is refused alike."""
    linked = collected("kept@example.com", subject={"email": "kept@example.com", "n": "7"})
    bodies = [
        ("application/x-ndjson", lines(linked, BAD).encode()),  # refused, link derived
        ("application/x-ndjson", lines(linked).encode()),
        ("application/json", json.dumps([linked, shared("kept@example.com")]).encode()),
        ("application/json", b'[{"event_type": "DataCollected", "x": "caf\xe9"}]'),
    ]
    answers = []
    for server in (pooled, in_thread):
        before = len(logged(server.home))
        with server.client("ingest") as c:
            got = [
                c.post("/v1/events", content=body, headers={"Content-Type": kind})
                for kind, body in bodies
            ]
        answers.append([(a.status_code, a.json()) for a in got])
        # Refused bodies appended nothing: 2 + 3 events from the two taken ones.
        assert len(logged(server.home)) - before == 5
    assert answers[0] == answers[1]
    assert [status for status, _ in answers[0]] == [422, 200, 200, 422]
    assert answers[0][1][1]["identity_links"] == answers[0][2][1]["identity_links"] == 1
    assert answers[0][3][1]["error"] == "body: not UTF-8 at byte 42"
    assert answers[0][3][1]["where"] == "body"


CATALOG = """\
controller: {name: Shop ApS, country: DK}
taxonomy:
  categories:
    - {key: user.loyalty_tier}
holders:
  webshop-db: {role: own, country: DK}
purposes:
  orders:
    name: Orders
    data_use: essential.service
    legal_basis: contract
    data_subjects: [customer]
    categories: [user.name, user.loyalty_tier]
    retention: P2Y
    systems: [webshop-db]
"""


def test_the_worker_reloads_a_changed_catalog(pooled: Server) -> None:
    """A custom category the catalog declares only later is refused, then taken: the
    worker checks against the catalog as it is now, as the request thread does."""
    custom = collected("c@example.com", categories=["user.loyalty_tier"])
    with pooled.client("ingest") as c:
        refused = c.post("/v1/events", json=[custom])
        assert refused.status_code == 422, refused.text
        assert refused.json()["where"] == "body[0]"
        (pooled.home / "lineage.yaml").write_text(CATALOG)
        try:
            taken = c.post("/v1/events", json=[custom])
            assert taken.status_code == 200, taken.text
        finally:
            (pooled.home / "lineage.yaml").unlink()


def long_client(server: Server) -> httpx.Client:
    headers = {"Authorization": f"Bearer {server.token('ingest')}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=120)


def _big_batch(n: int) -> str:
    return lines(*(collected(f"bulk{i}@example.com") for i in range(n)))


def test_a_killed_worker_gives_503_and_new_workers(tmp_path: Path) -> None:
    home = _home(tmp_path)
    server = Server(home, "--ingest-workers", "1", "--ingest-threshold", "0")
    server.token("ingest")
    server.start()
    try:
        (first,) = server.workers()
        # Killed while idle: the next batch gets a new worker and is taken.
        os.kill(first, signal.SIGKILL)
        with server.client("ingest") as c:
            answer = c.post("/v1/events", json=[collected(JANE)])
            assert answer.status_code == 200, answer.text
        (second,) = server.workers()
        assert second != first
        before = logged(home)

        # Killed while it prepares a batch: that batch gets 503 and is not appended.
        body = _big_batch(20_000)
        result: dict[str, httpx.Response] = {}

        def post() -> None:
            with long_client(server) as c:
                result["answer"] = c.post("/v1/events", content=body, headers=JSONL)

        idle = cpu_ticks(second)
        poster = threading.Thread(target=post)
        poster.start()
        deadline = time.monotonic() + 60
        while cpu_ticks(second) < idle + 5:  # it has started on the batch
            assert time.monotonic() < deadline, "the worker never started on the batch"
            time.sleep(0.005)
        os.kill(second, signal.SIGKILL)
        poster.join(120)
        answer = result["answer"]
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        assert "nothing was recorded" in answer.json()["error"]
        assert logged(home) == before

        # The client's retry is taken by new workers.
        with long_client(server) as c:
            again = c.post("/v1/events", content=body, headers=JSONL)
            assert again.status_code == 200, again.text
            assert again.json()["appended"] == 20_000
        (third,) = server.workers()
        assert third not in (first, second)
    finally:
        assert server.proc is not None
        proc = server.proc
        server.stop()  # SIGTERM: the service shuts its workers down and exits cleanly
        assert proc.returncode == 0, server.log.read_text()
    assert not Path(f"/proc/{third}").exists()
    assert "Traceback" not in server.log.read_text()
