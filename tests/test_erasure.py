"""Erasure requests through the CLI: plan, bad input, confirmations, deadlines, forgetting."""

from __future__ import annotations

from typing import Any

import duckdb

from tests.conftest import Lineage, collected, shared, transferred

JANE = "jane@example.com"


def company(email: str = JANE) -> list[dict[str, Any]]:
    """Own shop, an e-conomic processor with a sub-processor (bookkeeping 5 years), a
    Mailchimp processor in the US, and an independent gift supplier."""
    return [
        collected(email, subject={"email": email, "customer_number": "1042"}),
        shared(email, categories=["user.name", "user.contact.email"]),
        shared(
            email,
            occurred_at="2024-01-15T10:00:00Z",
            from_holder="e-conomic",
            recipient="visma-hosting",
            recipient_role="sub_processor",
            recipient_country="NO",
            purpose="essential.service",
            legal_basis="contract",
            retention=None,
        ),
        shared(
            email,
            recipient="gift-supplier",
            recipient_role="controller",
            purpose="essential.service",
            legal_basis="contract",
            retention=None,
        ),
        transferred(email),
    ]


def tasks(plan: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(t["holder"], t["action"]): t for t in plan["tasks"]}


def log_end(lineage: Lineage) -> Any:
    return lineage.json("status")["log"]["end"]


def test_plan_covers_every_holder_with_the_right_action(lineage: Lineage) -> None:
    lineage.emit(company())
    lineage.emit([collected("bo@example.com", system="other-db")], name="bo.jsonl")
    plan = lineage.json("erase", JANE, "--received-at", "2025-03-01T10:00:00Z")
    assert list(plan) == [
        "request_id",
        "kind",
        "purpose",
        "subject",
        "received_at",
        "deadline",
        "tasks",
    ]
    assert (plan["received_at"], plan["deadline"]) == (
        "2025-03-01T10:00:00Z",
        "2025-04-01T10:00:00Z",
    )
    by = tasks(plan)
    assert set(by) == {
        ("webshop-db", "erase"),
        ("e-conomic", "retain"),
        ("visma-hosting", "erase"),
        ("gift-supplier", "notify"),
        ("mailchimp", "erase"),
    }, "only this subject's flows: other-db holds someone else"
    keep = by[("e-conomic", "retain")]
    assert keep["retain_until"] == "2029-01-15T09:35:00Z"
    assert keep["status"] == "retained" and "17(3)(b)" in keep["reason"]
    assert keep["categories"] == ["user.contact.email", "user.name"]
    assert by[("gift-supplier", "notify")]["reason"].startswith("independent controller")
    assert all(
        set(t)
        == {
            "holder",
            "categories",
            "action",
            "reason",
            "reason_code",
            "reason_parts",
            "retain_until",
            "status",
            "executor",
            "note",
            "attempts",
            "channel",
            "step",
            "message_id",
        }
        for t in plan["tasks"]
    )
    assert keep["reason_code"] == "task.retain.legal_obligation"
    assert keep["reason_parts"][-1] == {
        "code": "task.retain.until",
        "params": {"date": "2029-01-15T09:35:00Z"},
    }
    assert all(t["executor"] is None for t in plan["tasks"]), "no erasers configured: manual"
    # Deepest first: the sub-processor before its processor and the own system last.
    order = [t["holder"] for t in plan["tasks"]]
    assert order.index("visma-hosting") < order.index("e-conomic") < order.index("webshop-db")
    who = {h["holder"]: h["status"] for h in lineage.json("who-has", JANE)["holders"]}
    assert who["e-conomic"] == "retained" and who["mailchimp"] == "erasure_pending"


def test_ended_legal_retention_is_erased_not_retained(lineage: Lineage) -> None:
    lineage.emit(
        [collected(occurred_at="2015-01-01T00:00:00Z"), shared(occurred_at="2015-01-02T00:00:00Z")]
    )
    assert {t["action"] for t in lineage.json("erase", JANE)["tasks"]} == {"erase"}


def test_dry_run_records_nothing(lineage: Lineage) -> None:
    lineage.emit(company())
    before = log_end(lineage)
    plan = lineage.json("erase", JANE, "--dry-run")
    assert plan["request_id"] is None and len(plan["tasks"]) == 5
    assert log_end(lineage) == before
    assert lineage.json("erasure", "status")["requests"] == []


def test_scope_limits_categories_and_holders(lineage: Lineage) -> None:
    lineage.emit(company())
    plan = lineage.json("erase", JANE, "--scope", "user.contact.email")
    assert {t["holder"] for t in plan["tasks"]} == {"webshop-db", "e-conomic", "mailchimp"}
    assert all(t["categories"] == ["user.contact.email"] for t in plan["tasks"])
    bad = lineage("erase", JANE, "--scope", "user.contact.emial")
    assert bad.exit_code == 2 and "--scope" in bad.stderr and "user.contact.email" in bad.stderr


def test_unknown_subject_is_recorded_with_no_tasks(lineage: Lineage) -> None:
    lineage.emit(company())
    plan = lineage.json("erase", "nobody@example.com")
    assert plan["tasks"] == [] and plan["request_id"]
    assert "nothing is held" in lineage.ok("erase", "nobody2@example.com").stdout
    (request,) = [
        q
        for q in lineage.json("erasure", "status")["requests"]
        if q["request_id"] == plan["request_id"]
    ]
    assert request["status"] == "completed"


def test_second_request_points_to_the_open_one(lineage: Lineage) -> None:
    lineage.emit(company())
    first = lineage.json("erase", JANE)
    before = log_end(lineage)
    again = lineage("erase", "--id", "customer_number=1042")  # same person, other identifier
    assert again.exit_code == 1
    assert first["request_id"] in again.stderr and again.stderr.count("\n") == 1
    assert log_end(lineage) == before


def test_unknown_request_and_holder(lineage: Lineage) -> None:
    lineage.emit(company())
    rid = lineage.json("erase", JANE)["request_id"]
    for args in (("status", "nope"), ("confirm", "nope", "--holder", "x"), ("run", "nope")):
        result = lineage("erasure", *args)
        assert result.exit_code == 2 and "no request 'nope'" in result.stderr
    result = lineage("erasure", "confirm", rid, "--holder", "nobody")
    assert result.exit_code == 2 and "webshop-db" in result.stderr
    early = lineage("erasure", "confirm", rid, "--holder", "e-conomic", "--action", "retain")
    assert early.exit_code == 2 and "2029-01-15" in early.stderr


def test_extend_needs_a_reason_and_stops_at_three_months(lineage: Lineage) -> None:
    lineage.emit(company())
    rid = lineage.json("erase", JANE)["request_id"]
    result = lineage("erasure", "extend", rid)
    assert result.exit_code == 2 and "reason" in result.stderr
    one = lineage.json("erasure", "extend", rid, "--reason", "archives", "--months", "1")
    received = one["received_at"]
    assert one["extensions"][0]["reason"] == "archives"
    two = lineage.json("erasure", "extend", rid, "--reason", "more archives")
    assert two["deadline"][:7] > one["deadline"][:7] > received[:7]
    third = lineage("erasure", "extend", rid, "--reason", "still more")
    assert third.exit_code == 2 and "two further months at most" in third.stderr


def test_overdue_and_late_extension(lineage: Lineage) -> None:
    lineage.emit(company())
    rid = lineage.json("erase", JANE, "--received-at", "2024-05-01T00:00:00Z")["request_id"]
    overdue = lineage("erasure", "status", "--overdue", "--format", "json")
    assert overdue.exit_code == 1 and rid in overdue.stdout
    late = lineage("erasure", "extend", rid, "--reason", "too late")
    assert late.exit_code == 2 and "within the first month" in late.stderr
    future = lineage("erase", "bo@example.com", "--received-at", "2999-01-01")
    assert future.exit_code == 2


def _lineage_rows(lineage: Lineage) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(lineage.home / "projection.duckdb"), read_only=True)
    try:
        return con.execute(
            "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()


def test_completed_erasure_forgets_the_subject_and_rebuild_agrees(lineage: Lineage) -> None:
    # Retention of the bookkeeping data has ended: everything can be erased.
    old = [{**e, "occurred_at": e["occurred_at"].replace("2024", "2015")} for e in company()]
    lineage.emit(old)
    lineage.emit([collected("bo@example.com")], name="bo.jsonl")
    plan = lineage.json("erase", JANE)
    rid = plan["request_id"]
    for t in plan["tasks"]:
        lineage.ok("erasure", "confirm", rid, "--holder", t["holder"], "--evidence", "ticket")
    (request,) = lineage.json("erasure", "status", rid)["requests"]
    assert request["status"] == "completed"
    assert {t["status"] for t in request["tasks"]} == {"confirmed", "notified"}
    for ident in ((JANE,), ("--id", "customer_number=1042")):
        answer = lineage.json("who-has", *ident)
        assert answer["holders"] == []
        assert [(q["request_id"], q["status"]) for q in answer["requests"]] == [(rid, "completed")]
    rows = dict(_lineage_rows(lineage))
    # Only bo's collection is left of the lineage; the accountability record stays.
    assert rows["DataCollected"] == 1 and "DataShared" not in rows and "DataErased" not in rows
    assert rows["ErasureRequested"] == 1 and rows["ErasureCompleted"] == 1
    before = lineage.json("who-has", JANE, "--as-of", "2030-01-01")
    lineage.ok("rebuild")
    assert _lineage_rows(lineage) == sorted(rows.items())
    assert lineage.json("who-has", JANE, "--as-of", "2030-01-01") == before
    assert lineage.json("who-has", "bo@example.com")["holders"]
    # A new request for the same person is possible once the first is completed.
    assert lineage.json("erase", JANE)["tasks"] == []
