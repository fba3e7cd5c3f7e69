"""``lineage serve`` brings the kept audit summaries up to date itself, in bounded steps
between batches, or in one fold of every component on a thread of its own when every
summary is stale (a projection built anew, a catalog change): after ingest they become
current without any audit request, and after a catalog change every audit answer, from
right after the change until the fold or the steps finish, is the fold of every subject
under the new catalog."""

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


def _home(tmp_path: Path, catalog: dict[str, Any]) -> tuple[Path, Path]:
    """A new home, and the catalog written beside it."""
    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    path = tmp_path / "lineage.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return home, path


def _edited(catalog: dict[str, Any]) -> dict[str, Any]:
    """The catalog with some purposes' retention shortened: other findings, same holders."""
    out = json.loads(json.dumps(catalog))
    for i, p in enumerate(sorted(out["purposes"])):
        if i % 2 == 0 and "consent" not in str(out["purposes"][p].get("retention")):
            out["purposes"][p]["retention"] = "P1Y from collection"
    return out


def test_the_service_keeps_the_summaries_current_and_answers_as_the_fold(tmp_path: Path) -> None:
    c = generate(7, subjects=40)
    home, catalog = _home(tmp_path, c.catalog)
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
    home, catalog = _home(tmp_path, c.catalog)
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


def _waiting(runtime: Any) -> int:
    with runtime.snapshot() as store:
        return int(runtime.app().summaries_waiting(store))


def _until_current(runtime: Any, timeout: float = 120) -> None:
    """Wait (bounded, not measured) until the follower has no summary left to fold and
    has taken note of its fold of every component's end, if one ran."""
    deadline = time.monotonic() + timeout
    while _waiting(runtime) or runtime.follower.folding:
        assert runtime.follower.error is None, runtime.follower.error
        assert time.monotonic() < deadline, _waiting(runtime)
        time.sleep(0.05)


def _served_audit(runtime: Any) -> list[Any]:
    from lineage.services.audit import report

    app = runtime.app()
    with app.query_store() as store:
        answer = report(app.catalog(), store, parse_time(AS_OF))
    return json.loads(json.dumps(answer["findings"], default=str))


def test_after_a_rebuild_or_a_catalog_change_one_fold_of_every_component(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Every reference marked (a projection built anew, then a catalog edit): the service
    folds every component in one transaction on a thread of its own, not in steps (each
    step would pay for every identity link and kept summary again); batches go on being
    projected and answered meanwhile, and their marks stay for the steps after it."""
    import threading

    from lineage.serve.runtime import Runtime
    from lineage.services import company as company_module

    c = generate(3, subjects=2000)
    home, catalog = _home(tmp_path, c.catalog)
    events = list(c.events)
    late = [e for e in events if e.get("subject", {}).get("email") == c.emails[0]]
    _emit(home, [e for e in events if e not in late], "all.jsonl")

    # The fold of every component is held before it stores, to project a batch meanwhile.
    holding, release = threading.Event(), threading.Event()
    store_rows = company_module._store_rows

    def held(store: Store, rows: Any) -> None:
        if threading.current_thread().name == "lineage-summaries" and not release.is_set():
            holding.set()
            assert release.wait(120)
        store_rows(store, rows)

    monkeypatch.setattr(company_module, "_store_rows", held)
    runtime = Runtime(resolve(home), catalog)
    try:
        follower = runtime.follower
        follower.catch_up()  # a projection built from the log: every reference marked
        assert _waiting(runtime) >= 2000
        follower.start()
        assert holding.wait(120), "no fold of every component began"
        before = follower.generation
        _emit(home, late, "late.jsonl")  # another process appends meanwhile
        runtime.wait_for(runtime.log_ends(), 60)  # projected while the fold runs
        assert follower.generation > before and follower.folds == 0
        release.set()
        _until_current(runtime)
        # One fold of every component; the late batch's few marks took a step or two.
        assert follower.folds == 1 and follower.steps <= 2
        folded = _fold_in(runtime, catalog)
        assert _served_audit(runtime) == folded

        catalog.write_text(yaml.safe_dump(_edited(c.catalog), sort_keys=False))
        steps = follower.steps
        answer = _served_audit(runtime)  # while it folds (or after): the fold all the same
        _until_current(runtime)
        assert follower.folds == 2 and follower.steps == steps
        edited = _fold_in(runtime, catalog)
        assert answer == edited == _served_audit(runtime) != folded
        with runtime.snapshot() as store:
            # Every component from storage (after every event: none is folded as of then).
            kept = company(store, parse_time("2100-01-01T00:00:00Z"), load_catalog(catalog))
            assert kept.folded == 0 and kept.kept == kept.subjects > 1000
    finally:
        release.set()
        runtime.close()


def _fold_in(runtime: Any, catalog_path: Path) -> list[Any]:
    """The findings of every subject folded now (no kept summary), in a snapshot."""
    with runtime.snapshot() as store:
        found = audit(load_catalog(catalog_path), store, parse_time(AS_OF), keep=False)
        return json.loads(json.dumps([f.to_json() for f in found], default=str))


def test_closing_the_service_while_it_folds_every_component(tmp_path: Path) -> None:
    """The fold of every component is cut short when the service stops: its transaction is
    rolled back (the marks stay, no summary is half stored), and the next start folds."""
    from lineage.serve.runtime import Runtime

    c = generate(4, subjects=2000)
    home, catalog = _home(tmp_path, c.catalog)
    _emit(home, list(c.events), "all.jsonl")
    runtime = Runtime(resolve(home), catalog)
    try:
        runtime.follower.catch_up()
        marked = _waiting(runtime)
        runtime.follower.start()
        deadline = time.monotonic() + 120
        while not runtime.follower.folding:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        runtime.close()
    assert runtime.follower.folds == 0  # stopped before it committed
    store = Store(resolve(home).projection_path, read_only=True)
    try:
        assert store.con.execute("SELECT count(*) FROM summary_comps").fetchall() == [(0,)]
        assert store.con.execute("SELECT count(DISTINCT ref) FROM dirty_refs").fetchall() == [
            (marked,)
        ]
    finally:
        store.close()
    runtime = Runtime(resolve(home), catalog)
    try:
        runtime.follower.start()
        _until_current(runtime)
        assert runtime.follower.folds == 1
        assert _served_audit(runtime) == _fold_in(runtime, catalog)
    finally:
        runtime.close()
