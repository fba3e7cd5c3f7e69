"""Art. 15, 16, 18, 19 and breach impact, through the CLI."""

from __future__ import annotations

import csv
import io

from tests.conftest import Lineage, collected, erased, shared, transferred

JANE = "jane@example.com"


def shop(lineage: Lineage) -> None:
    lineage.emit(
        [
            collected(subject={"email": JANE, "customer_number": "1042"}),
            shared(),
            transferred(),
            collected(
                "bo@example.com",
                categories=["user.name", "user.health_and_medical"],
                system="clinic-db",
                purpose="essential.service",
                legal_basis="consent",
            ),
            shared(
                "bo@example.com",
                categories=["user.name", "user.health_and_medical"],
                from_holder="clinic-db",
                purpose="essential.service",
                legal_basis="consent",
                occurred_at="2024-02-01T00:00:00Z",
            ),
            erased("e-conomic", "bo@example.com", occurred_at="2024-04-01T00:00:00Z"),
        ]
    )


def test_exposed_counts_subjects_categories_and_bases_at_that_moment(lineage: Lineage) -> None:
    shop(lineage)
    at_march = lineage.json("exposed", "--holder", "e-conomic", "--at", "2024-03-01")
    assert at_march["subjects"] == 2
    cats = {c["category"]: c for c in at_march["categories"]}
    assert cats["user.name"]["subjects"] == 2
    assert cats["user.health_and_medical"]["special"] == "art9"
    assert at_march["special_categories"] == ["user.health_and_medical"]
    assert {b["legal_basis"] for b in at_march["legal_bases"]} == {"legal_obligation", "consent"}
    assert "references" not in at_march
    # Bo's data was erased there on 2024-04-01; before January nothing was there.
    after = lineage.json("exposed", "--holder", "e-conomic", "--at", "2024-05-01", "--references")
    assert after["subjects"] == 1 and len(after["references"]) == 1
    before = lineage.json("exposed", "--holder", "e-conomic", "--at", "2023-12-01")
    assert before["subjects"] == 0
    out = lineage.ok("exposed", "--holder", "e-conomic", "--at", "2024-03-01", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert {r["category"] for r in rows} == {"user.name", "user.health_and_medical"}
    bad = lineage("exposed", "--holder", "e-conomic", "--at", "yesterday")
    assert bad.exit_code == 2


def test_forgotten_subjects_are_not_exposed(lineage: Lineage) -> None:
    lineage.emit([collected(), shared(occurred_at="2015-01-01T00:00:00Z")])
    plan = lineage.json("erase", JANE)
    for t in plan["tasks"]:
        lineage.ok("erasure", "confirm", plan["request_id"], "--holder", t["holder"])
    for holder in ("webshop-db", "e-conomic"):
        assert lineage.json("exposed", "--holder", holder, "--at", "2024-06-01")["subjects"] == 0


def test_recipients_and_restriction_notify_every_recipient(lineage: Lineage) -> None:
    shop(lineage)
    names = {r["recipient"] for r in lineage.json("recipients", JANE)["recipients"]}
    assert names == {"e-conomic", "mailchimp"}, "own systems are not recipients"
    plan = lineage.json("restrict", JANE)
    assert {(t["holder"], t["action"]) for t in plan["tasks"]} == {
        ("e-conomic", "notify"),
        ("mailchimp", "notify"),
    }
    status = {h["holder"]: h["status"] for h in lineage.json("who-has", JANE)["holders"]}
    # webshop-db keeps its data past the events' own P2Y: not restricted, but overdue.
    assert status["e-conomic"] == "restricted" and status["webshop-db"] == "overdue"
    for t in plan["tasks"]:
        lineage.ok("erasure", "confirm", plan["request_id"], "--holder", t["holder"])
    (req,) = lineage.json("erasure", "status", plan["request_id"])["requests"]
    assert req["kind"] == "restriction" and req["status"] == "completed"
    assert lineage.json("who-has", JANE)["holders"], "a restriction forgets nothing"


def test_rectification_notifies_only_holders_of_the_corrected_categories(
    lineage: Lineage,
) -> None:
    shop(lineage)
    plan = lineage.json("rectify", JANE, "--categories", "user.contact.email")
    assert [t["holder"] for t in plan["tasks"]] == ["mailchimp"]
    assert plan["tasks"][0]["categories"] == ["user.contact.email"]
    missing = lineage("rectify", JANE)
    assert missing.exit_code == 2 and "--categories" in missing.stderr


def test_access_report_in_three_formats(lineage: Lineage) -> None:
    shop(lineage)
    rep = lineage.json("access", "--id", "customer_number=1042")
    purposes = {p["purpose"]: p for p in rep["purposes"]}
    assert purposes["essential.legal_obligation"]["retain_until"] == "2029-01-15T09:35:00Z"
    assert purposes["essential.service"]["categories"] == ["user.contact.email", "user.name"]
    assert {r["recipient"] for r in rep["recipients"]} == {"e-conomic", "mailchimp"}
    assert rep["sources"] == [{"origin": "data_subject", "systems": ["webshop-db"]}]
    (transfer,) = rep["transfers"]
    assert (transfer["recipient"], transfer["mechanism"], transfer["valid"]) == (
        "mailchimp",
        "dpf",
        True,
    )
    assert "Art. 77" in rep["complaint"] and rep["automated_decisions"]
    assert JANE not in str(rep)
    md = lineage.ok("access", JANE, "--format", "md").stdout
    assert "## Recipients" in md and "mailchimp" in md
    page = lineage.ok("access", JANE, "--format", "html").stdout
    assert page.startswith("<!doctype html>") and "<h2>Transfers outside the EEA</h2>" in page
