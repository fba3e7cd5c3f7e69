"""``lineage serve`` brings the kept audit summaries up to date itself, in bounded steps
between batches: after ingest they become current without any audit request, and after a
catalog change every audit answer, from right after the change until the steps finish, is
the fold of every subject under the new catalog."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from lineage.catalog.loader import load_catalog
from lineage.config import resolve
from lineage.projection.store import Store
from lineage.services.audit import audit
from lineage.services.company import company, fingerprint
from lineage.timeutil import parse_time
from tests.companies import generate
from tests.serve.conftest import Server, cli

AS_OF = "2026-11-01T00:00:00Z"


def _emit(home: Path, events: list[dict[str, Any]], name: str) -> None:
    path = home.parent / name
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    done = cli(home, "emit", "--file", str(path))
    assert done.returncode == 0, done.stderr


def _current(c: httpx.Client, timeout: float = 60) -> dict[str, Any]:
    """The status once everything is projected and no summary waits (no audit asked)."""
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = c.get("/v1/status").json()
        p = status["projection"]
        if p["pending"] == 0 and p["summaries_waiting"] == 0:
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def _fold(home: Path, catalog_path: Path) -> list[Any]:
    """The findings of every subject folded now, from the projection the service left."""
    store = Store(resolve(home).projection_path, read_only=True)
    try:
        found = audit(load_catalog(catalog_path), store, parse_time(AS_OF), keep=False)
        return json.loads(json.dumps([f.to_json() for f in found], default=str))
    finally:
        store.close()


def _edited(catalog: dict[str, Any]) -> dict[str, Any]:
    """The catalog with some purposes' retention shortened: other findings, same holders."""
    out = json.loads(json.dumps(catalog))
    for i, p in enumerate(sorted(out["purposes"])):
        if i % 2 == 0 and "consent" not in str(out["purposes"][p].get("retention")):
            out["purposes"][p]["retention"] = "P1Y from collection"
    return out


def test_the_service_keeps_the_summaries_current_and_answers_as_the_fold(tmp_path: Path) -> None:
    c = generate(7, subjects=40)
    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    catalog = tmp_path / "lineage.yaml"
    catalog.write_text(yaml.safe_dump(c.catalog, sort_keys=False))
    events = list(c.events)
    half = len(events) // 2
    _emit(home, events[:half], "first.jsonl")
    server = Server(home, "--catalog", str(catalog))
    for scope in ("read", "admin"):
        server.token(scope)
    server.start()
    try:
        with server.client("read") as client:
            start = _current(client)  # the events projected at start are folded, unasked
            _emit(home, events[half:], "second.jsonl")  # another process appends
            after = _current(client)
            assert after["projection"]["events"] > start["projection"]["events"]
            first = client.get("/v1/audit", params={"as_of": AS_OF}).json()
            catalog.write_text(yaml.safe_dump(_edited(c.catalog), sort_keys=False))
            # From right after the change until the steps are done: every answer the same.
            answers = [client.get("/v1/audit", params={"as_of": AS_OF}).json()]
            _current(client)
            answers.append(client.get("/v1/audit", params={"as_of": AS_OF}).json())
    finally:
        server.stop()
    store = Store(resolve(home).projection_path, read_only=True)
    try:
        kept = company(store, parse_time(AS_OF), load_catalog(catalog))
        # The service stored every component under the new catalog: nothing left to fold.
        assert kept.folded == 0 and kept.kept == kept.subjects > 0
        assert store.meta("summary_fingerprint") == fingerprint(load_catalog(catalog))
    finally:
        store.close()
    folded = _fold(home, catalog)
    assert all(a["findings"] == folded for a in answers)
    assert first["findings"] != folded  # the edit changed the answer


def test_no_summary_step_while_a_request_is_being_handled(tmp_path: Path) -> None:
    """A step holds Python's GIL: under steady load it would slow every answer, so the
    follower folds only while no request is in hand (here: one whose body stalls)."""
    import socket

    c = generate(11, subjects=30)
    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    catalog = tmp_path / "lineage.yaml"
    catalog.write_text(yaml.safe_dump(c.catalog, sort_keys=False))
    events = list(c.events)
    half = len(events) // 2
    _emit(home, events[:half], "first.jsonl")
    server = Server(home, "--catalog", str(catalog), "--body-timeout", "60")
    ingest = server.token("ingest")
    server.token("read")
    server.start()
    try:
        with server.client("read") as client:
            _current(client)
            held = socket.create_connection(("127.0.0.1", server.port))
            try:
                held.sendall(
                    b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + f"Authorization: Bearer {ingest}\r\n".encode()
                    + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n["
                )
                _emit(home, events[half:], "second.jsonl")  # another process appends
                deadline = time.monotonic() + 60
                while client.get("/v1/status").json()["projection"]["pending"]:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                time.sleep(1.5)  # several of the follower's idle rounds
                waiting = client.get("/v1/status").json()["projection"]["summaries_waiting"]
                assert waiting > 0
            finally:
                held.close()
            # The request gone, the steps run.
            assert _current(client)["projection"]["summaries_waiting"] == 0
    finally:
        server.stop()
