"""The erasure planner with the catalog's retention rules, and forgetting everywhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from lineage.config import resolve
from lineage.services.app import App
from lineage.services.erasure.service import RequestService
from tests.conftest import Lineage

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CATALOG = str(EXAMPLES / "webshop" / "lineage.yaml")
JANE = "jane.doe@example.dk"


class Clock:
    def __init__(self, at: str) -> None:
        self.at = datetime.fromisoformat(at).replace(tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def webshop(lineage: Lineage) -> None:
    events = str(EXAMPLES / "webshop" / "events.jsonl")
    lineage.ok("emit", "--catalog", CATALOG, "--file", events)


def service(lineage: Lineage, clock: Clock) -> RequestService:
    return RequestService(App(resolve(lineage.home), catalog_file=CATALOG), clock=clock)


def test_bookkeeping_retention_comes_from_the_catalog(lineage: Lineage) -> None:
    webshop(lineage)
    clock = Clock("2024-06-01T00:00:00")
    # Without the catalog the event says nothing: restricted until a period is declared.
    plain = RequestService(App(resolve(lineage.home)), clock=clock)
    dry = plain.open_request([("email", JANE)], dry_run=True)
    assert dry.tasks[("e-conomic", "retain")].retain_until is None
    svc = service(lineage, clock)
    req = svc.open_request([("email", JANE)])
    keep = req.tasks[("e-conomic", "retain")]
    # Shared 2019-08-08, no retention on the event: the catalog's bookkeeping purpose keeps
    # it 5 years from the end of the financial year 2019 (the controller's year ends 12-31).
    assert keep.retain_until == datetime(2025, 1, 1, tzinfo=UTC)
    assert keep.status == "retained"
    assert "Art. 17(3)(b) legal obligation" in str(keep.reason)
    assert "5 years from the end of the financial year" in str(keep.reason)
    assert "bookkeeping" in str(keep.reason)
    # In Danish the ground, the catalog's rule and the restriction are Danish, from the
    # same parts (as recorded in the log, read back by the fold).
    from lineage.services import plain as words

    (again,) = svc.requests(req.request_id)
    folded = again.tasks[("e-conomic", "retain")]
    assert folded.reason == keep.reason and folded.reason_parts == keep.reason_parts
    danish = words.text(folded.reason_parts, "da")
    assert "retlig forpligtelse" in danish and "bookkeeping: 5 år" in danish
    assert "begrænsning af behandling (art. 18) indtil" in danish
    # Its sub-processor holds the same bookkeeping data under the same rule.
    assert req.tasks[("visma-hosting", "retain")].retain_until == keep.retain_until
    assert ("e-conomic", "erase") not in req.tasks, "all it holds is bookkeeping data"

    clock.at = datetime(2024, 12, 31, tzinfo=UTC)
    assert svc.due() == []
    clock.at = datetime(2025, 1, 2, tzinfo=UTC)
    due = {t.holder for _, t in svc.due()}
    assert due == {"e-conomic", "visma-hosting"}
    # The command (clock: now, later than 2025-01-01) lists it too.
    listed = json.loads(lineage.ok("erasure", "due", "--format", "json").stdout)["due"]
    assert {(r["holder"], r["due_since"]) for r in listed} >= {
        ("e-conomic", "2025-01-01T00:00:00Z")
    }


def test_after_forgetting_no_answer_returns_the_subject(lineage: Lineage) -> None:
    webshop(lineage)
    # Both of her references (e-mail, customer number): answers name a person by either.
    refs = App(resolve(lineage.home)).refs_for([("email", JANE), ("customer_number", "10000")])
    as_of = "2025-09-01"

    def answers() -> dict[str, str]:
        ropa = lineage.ok("ropa", "--catalog", CATALOG, "--format", "json", "--as-of", as_of)
        audit = lineage("audit", "--catalog", CATALOG, "--format", "json", "--as-of", as_of)
        out = {
            "ropa": ropa.stdout,
            "audit": audit.stdout,
            "recipients": lineage.ok("recipients", JANE, "--format", "json").stdout,
            "who-has": lineage.ok("who-has", JANE, "--format", "json").stdout,
        }
        for holder in ("webshop-db", "e-conomic", "quickpay", "visma-hosting", "mailchimp"):
            for at in ("2019-09-01", "2024-01-01"):
                exposed = lineage.ok(
                    "exposed", "--holder", holder, "--at", at, "--format", "json", "--references"
                )
                out[f"exposed {holder} {at}"] = exposed.stdout
        return out

    before = answers()
    assert any(ref in before["exposed e-conomic 2019-09-01"] for ref in refs)
    ropa_before = {r["purpose_id"]: r for r in json.loads(before["ropa"])["controller_records"]}

    clock = Clock("2025-09-01T00:00:00")
    svc = service(lineage, clock)
    req = svc.open_request([("email", JANE)])
    for task in list(req.tasks.values()):
        svc.confirm(req.request_id, task.holder, "ticket 1", task.action)
    for task in list(req.tasks.values()):
        if task.action == "notify" and task.status == "notified":
            svc.confirm(req.request_id, task.holder, "ticket 2", task.action)
    (done,) = svc.requests(req.request_id)
    assert done.completed, {k: t.status for k, t in done.tasks.items()}

    after = answers()
    for name, text in after.items():
        if name == "who-has":
            # Asked about the subject itself: only the accountability record answers.
            answer = json.loads(text)
            assert answer["holders"] == [] and answer["requests"][0]["status"] == "completed"
        elif name == "recipients":
            assert json.loads(text)["recipients"] == [], text
        else:
            assert not any(ref in text for ref in refs), name
    ropa_after = {r["purpose_id"]: r for r in json.loads(after["ropa"])["controller_records"]}
    for pid, row in ropa_before.items():
        if row["subjects_observed"]:
            assert ropa_after[pid]["subjects_observed"] == row["subjects_observed"] - 1, pid
