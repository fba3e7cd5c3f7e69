"""Who-has answers read a snapshot kept open between requests while the follower commits
nothing; once it commits, the next answer reads a new one: never an answer older than
what was projected before the request, nor than the caller's own acknowledged writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lineage.config import resolve
from lineage.events.model import Event
from lineage.ingest.record import from_json, parser_for
from lineage.serve.runtime import Runtime, ServeApp
from lineage.services.app import App
from lineage.services.whohas import who_has
from lineage.timeutil import now
from tests.conftest import collected, erased, shared
from tests.serve.conftest import cli, started

X = "x@example.com"


def events(app: App, *objs: dict[str, Any]) -> list[Event]:
    return list(from_json(parser_for(app), json.dumps(list(objs)), "body").events)


def answer(app: ServeApp, email: str) -> tuple[list[str], int]:
    """The subject's holders, and the id of the transaction the answer read."""
    refs = app.refs_for([("email", email)])
    with app.subject_store(refs) as store:
        row = store.con.execute("SELECT txid_current()").fetchone()
        assert row is not None
        holders = sorted(h["holder"] for h in who_has(store, refs, now(), None)["holders"])
        return holders, int(row[0])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    return home


def test_answers_share_the_snapshot_while_nothing_is_committed(home: Path) -> None:
    runtime = Runtime(resolve(home))
    try:
        app = runtime.app()
        app.append(events(app, collected(X)))
        runtime.follower.catch_up()  # no thread: nothing is committed after this
        first = answer(runtime.app(), X)
        second = answer(runtime.app(), X)
        assert first[0] == second[0] == ["webshop-db"]
        assert first[1] == second[1]  # the same transaction, kept open
        # A request that must begin its own transaction does not take the kept one's place.
        with runtime.snapshot() as store:
            row = store.con.execute("SELECT txid_current()").fetchone()
            assert row is not None and int(row[0]) != first[1]
        assert answer(runtime.app(), X)[1] == first[1]
    finally:
        runtime.close()


@pytest.mark.parametrize("expire", [True, False], ids=["expired-when-idle", "renewed-on-use"])
def test_an_answer_sees_what_was_projected_before_it(home: Path, expire: bool) -> None:
    """Each round: the subject's new events are appended and projected, so that nothing
    is pending for the answer to wait for; the answer must still hold them. Without
    ``expire``, idle snapshots are left open after a commit: the generation alone must
    make the next answer begin a new one."""
    runtime = Runtime(resolve(home))
    try:
        if not expire:
            runtime.follower.on_commit = lambda: None
        runtime.follower.start()
        app = runtime.app()
        rounds = [
            ([collected(X)], ["webshop-db"]),
            ([shared(X)], ["e-conomic", "webshop-db"]),
            ([erased("e-conomic", X)], ["e-conomic", "webshop-db"]),  # kept, as erased
            ([collected(X, system="crm")], ["crm", "e-conomic", "webshop-db"]),
        ]
        seen: set[int] = set()
        before = answer(runtime.app(), X)
        assert before[0] == []
        seen.add(before[1])
        for new, holders in rounds:
            app.append(events(app, *new))
            runtime.wait_for(runtime.log_ends(), 10)
            assert (
                runtime.unprojected.targets({X}, runtime.log_ends(), runtime.follower.positions)
                == {}
            )
            got, txid = answer(runtime.app(), X)
            assert got == holders
            assert txid not in seen  # a snapshot begun after the commit
            seen.add(txid)
        if expire:  # no idle cursor keeps a transaction older than the last commit
            assert all(s.generation in (None, runtime.follower.generation) for s in runtime._idle)
    finally:
        runtime.close()


def test_the_service_reads_its_own_writes_between_kept_snapshots(home: Path) -> None:
    """Through a real ``lineage serve``: who-has asked over and over (each answer keeps its
    snapshot), an ingest acknowledged in between is in the very next answer."""
    for server in started(home):
        with server.client("admin") as c:
            seen = set()
            for i in range(6):
                asked = c.post("/v1/who-has", json={"identifier": X})
                assert asked.status_code == 200, asked.text
                before = {h["holder"] for h in asked.json()["holders"]}
                assert before == seen
                holder = f"system-{i}"
                posted = c.post("/v1/events", json=[collected(X, system=holder)])
                assert posted.status_code == 200, posted.text
                after = c.post("/v1/who-has", json={"identifier": X}).json()["holders"]
                seen.add(holder)
                assert {h["holder"] for h in after} == seen


def test_settle_leaves_what_the_service_loaded_out_of_full_collections() -> None:
    import gc

    from lineage.serve.runtime import settle

    kept = [{"node": i} for i in range(1000)]  # as the warm identity graph's dicts
    try:
        settle()
        frozen = gc.get_freeze_count()
        assert frozen >= len(kept)
        assert not any(o is kept for o in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()
