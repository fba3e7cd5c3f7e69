"""Executing erasures through erasers: retries, failures, timeouts, crash and resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from lineage.config import resolve
from lineage.erasers import EraserRegistry, ErasureTarget, Outcome
from lineage.services.app import App
from lineage.services.erasure.service import RequestService
from tests.conftest import Lineage, collected, configure_erasers, shared, transferred
from tests.erasure_api import HolderAPI

JANE = "jane@example.com"
HOLDERS = ("webshop-db", "crm", "mailchimp")


def shop(lineage: Lineage) -> None:
    lineage.emit(
        [
            collected(),
            shared(recipient="crm", purpose="essential.service", legal_basis="contract"),
            transferred(),
        ]
    )


@pytest.fixture
def api(lineage: Lineage) -> Any:
    with HolderAPI() as server:
        for holder in HOLDERS:
            server.holds(holder, JANE)
        configure_erasers(lineage.home, server.url, HOLDERS)
        yield server


def task_events(lineage: Lineage, holder: str) -> list[tuple[str, str | None]]:
    lineage.ok("project")
    con = duckdb.connect(str(lineage.home / "projection.duckdb"), read_only=True)
    try:
        return [
            (s, r)
            for s, r in con.execute(
                "SELECT status, reason FROM events WHERE event_type = 'ErasureTaskUpdated' "
                "AND holder = ? ORDER BY log_offset",
                [holder],
            ).fetchall()
        ]
    finally:
        con.close()


def by_holder(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["holder"]: t for t in plan["tasks"]}


def test_erasers_erase_everywhere_and_the_subject_is_forgotten(
    lineage: Lineage, api: HolderAPI
) -> None:
    shop(lineage)
    plan = lineage.json("erase", JANE, "--backoff", "0")
    assert {t["status"] for t in plan["tasks"]} == {"confirmed"}
    assert {t["executor"] for t in plan["tasks"]} == {"webhook"}
    assert dict(api.erased) == dict.fromkeys(HOLDERS, 1)
    body = api.bodies[0]
    assert body["identifiers"] == {"email": JANE} and body["request_id"] == plan["request_id"]
    assert lineage.json("who-has", JANE)["holders"] == []
    assert JANE not in (lineage.home / "log" / "00000000000000000000.seg").read_bytes().decode(
        "latin-1"
    )


def test_transient_failures_are_retried_until_success(lineage: Lineage, api: HolderAPI) -> None:
    shop(lineage)
    api.script["crm"] = [503, 429]
    plan = lineage.json("erase", JANE, "--backoff", "0.01")
    assert by_holder(plan)["crm"]["status"] == "confirmed"
    statuses = [s for s, _ in task_events(lineage, "crm")]
    assert statuses == [
        "planned",
        "notified",
        "failed",
        "notified",
        "failed",
        "notified",
        "confirmed",
    ]
    assert api.calls["crm"] == 3 and api.erased["crm"] == 1


@pytest.mark.parametrize(
    ("answers", "retries", "calls", "error"),
    [([401], 3, 1, "terminal"), ([500, 500], 2, 2, "transient")],
)
def test_failures_leave_the_task_open_with_the_error(
    lineage: Lineage,
    api: HolderAPI,
    answers: list[int],
    retries: int,
    calls: int,
    error: str,
) -> None:
    shop(lineage)
    api.script["crm"] = list(answers)
    plan = lineage.json("erase", JANE, "--retries", str(retries), "--backoff", "0")
    crm = by_holder(plan)["crm"]
    assert crm["status"] == "failed" and api.calls["crm"] == calls
    assert api.erased["crm"] == 0
    last_status, last_reason = task_events(lineage, "crm")[-1]
    assert last_status == "failed" and last_reason.startswith(error)
    assert str(answers[-1]) in last_reason
    (request,) = lineage.json("erasure", "status")["requests"]
    assert request["status"] == "open" and request["completed_at"] is None
    assert lineage.json("who-has", JANE)["holders"], "nothing forgotten while a task is open"


def test_refusal_is_recorded_with_the_reason(lineage: Lineage, api: HolderAPI) -> None:
    shop(lineage)
    api.script["mailchimp"] = [409]
    plan = lineage.json("erase", JANE)
    assert by_holder(plan)["mailchimp"]["status"] == "refused"
    assert task_events(lineage, "mailchimp")[-1][1].startswith("POST")


def test_a_hanging_holder_times_out_and_stays_open(lineage: Lineage, api: HolderAPI) -> None:
    shop(lineage)
    api.hang["crm"] = 2.0
    plan = lineage.json("erase", JANE, "--retries", "1", "--timeout", "0.2")
    assert by_holder(plan)["crm"]["status"] == "failed"
    assert "no answer within 0.2s" in task_events(lineage, "crm")[-1][1]
    assert by_holder(plan)["webshop-db"]["status"] == "confirmed"


def test_resume_needs_the_subjects_own_identifiers(lineage: Lineage, api: HolderAPI) -> None:
    shop(lineage)
    lineage.emit([collected("bo@example.com")], name="bo.jsonl")
    rid = lineage.json("erase", JANE, "--no-run")["request_id"]
    assert api.calls.total() == 0
    wrong = lineage("erasure", "run", rid, "--id", "email=bo@example.com")
    assert wrong.exit_code == 2 and "not the subject" in wrong.stderr
    assert api.calls.total() == 0
    done = lineage.json("erasure", "run", rid, "--id", f"email={JANE}")
    assert done["status"] == "completed"


def _read_request_id(home: Path) -> str:
    runner = Lineage(home)
    (request,) = runner.json("erasure", "status")["requests"]
    return str(request["request_id"])


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_does_each_task_once(lineage: Lineage, api: HolderAPI) -> None:
    shop(lineage)
    release = api.block["mailchimp"] = threading.Event()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lineage.cli.main",
            "--home",
            str(lineage.home),
            "erase",
            JANE,
            "--timeout",
            "30",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Tasks run deepest first, then by name: crm, mailchimp, webshop-db. Mailchimp has
        # erased and its answer is held back when the process is killed.
        assert api.entered["mailchimp"].wait(30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        release.set()
        proc.kill()
    assert api.calls == {"crm": 1, "mailchimp": 1}
    rid = _read_request_id(lineage.home)
    result = lineage.json("erasure", "run", rid, "--id", f"email={JANE}", "--backoff", "0")
    assert result["status"] == "completed"
    assert api.calls == {"crm": 1, "mailchimp": 2, "webshop-db": 1}, "crm not repeated"
    assert dict(api.erased) == dict.fromkeys(HOLDERS, 1), "each holder erased once"
    for holder in HOLDERS:
        statuses = [s for s, _ in task_events(lineage, holder)]
        assert statuses.count("confirmed") == 1, (holder, statuses)
    assert lineage.json("who-has", JANE)["holders"] == []


class Recorder:
    """An in-process eraser: erases in a dict, or raises what the test asks for."""

    name = "recorder"

    def __init__(self, fail: BaseException | None = None) -> None:
        self.calls: list[ErasureTarget] = []
        self.fail = fail

    def erase(self, target: ErasureTarget) -> Outcome:
        self.calls.append(target)
        if self.fail is not None:
            raise self.fail
        return Outcome("confirmed", f"erased {len(target.categories)} categories")


class Clock:
    def __init__(self, at: str) -> None:
        self.at = datetime.fromisoformat(at).replace(tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def test_an_eraser_that_raises_leaves_the_task_open(lineage: Lineage) -> None:
    shop(lineage)
    registry = EraserRegistry()
    registry.register("crm", Recorder(fail=RuntimeError("connection pool exhausted")))
    service = RequestService(App(resolve(lineage.home)), registry, backoff=0)
    req = service.open_request([("email", JANE)])
    service.execute(req, {"email": JANE})
    task = req.tasks[("crm", "erase")]
    assert task.status == "failed" and "RuntimeError: connection pool exhausted" in str(task.note)
    assert [s for s, _ in task_events(lineage, "crm")][-1] == "failed"


def test_retained_data_is_erased_when_its_retention_ends(lineage: Lineage) -> None:
    lineage.emit([collected(), shared()])  # e-conomic: legal obligation until 2029-01-15
    eraser = Recorder()
    registry = EraserRegistry()
    for holder in ("webshop-db", "e-conomic"):
        registry.register(holder, eraser)
    clock = Clock("2025-03-01T00:00:00")
    service = RequestService(App(resolve(lineage.home)), registry, clock=clock)
    req = service.open_request([("email", JANE)])
    service.execute(req, {"email": JANE})
    assert [t.holder for t in eraser.calls] == ["webshop-db"]
    assert req.status(clock()) == "retained" and service.due() == []
    assert not req.overdue(datetime(2026, 1, 1, tzinfo=UTC)), "answered in time"

    clock.at = datetime(2029, 2, 1, tzinfo=UTC)
    (due,) = service.due()
    assert due[1].holder == "e-conomic"
    assert json.loads(lineage.ok("erasure", "due", "--format", "json").stdout)["due"] == []
    done = service.run(req.request_id, [("email", JANE)])
    assert [t.holder for t in eraser.calls] == ["webshop-db", "e-conomic"]
    assert done.completed
    answer = lineage.json("who-has", JANE, "--as-of", "2029-03-01")
    assert answer["holders"] == [] and answer["requests"][0]["status"] == "completed"
