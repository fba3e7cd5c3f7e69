"""who-has semantics, through the CLI's JSON output (the contract users script against)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Lineage, collected, shared, transferred


def holders(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {h["holder"]: h for h in answer["holders"]}


def test_issue_example_answer(lineage: Lineage) -> None:
    assert lineage.emit([collected(), shared(), transferred()]).exit_code == 0
    answer = lineage.json("who-has", "jane@example.com")
    by = holders(answer)
    assert set(by) == {"webshop-db", "e-conomic", "mailchimp"}
    eco = by["e-conomic"]
    assert eco == {
        **eco,
        "role": "processor",
        "country": "DK",
        "categories": ["user.name"],
        "purposes": [{"purpose": "essential.legal_obligation", "legal_basis": "legal_obligation"}],
        "since": "2024-01-15T09:35:00Z",
        "retain_until": "2029-01-15T09:35:00Z",
        "transfer": None,
        "path": ["webshop-db", "e-conomic"],
        "status": "held",
    }
    assert by["webshop-db"]["role"] == "controller"
    assert by["webshop-db"]["path"] == ["webshop-db"]
    mc = by["mailchimp"]["transfer"]
    assert (mc["country"], mc["mechanism"], mc["valid"]) == ("US", "dpf", True)
    assert len(answer["subject"]) == 64 and "jane" not in str(answer)


def test_unknown_subject_is_empty_not_an_error(lineage: Lineage) -> None:
    lineage.emit([collected()])
    assert lineage.json("who-has", "nobody@example.com")["holders"] == []


def test_erasure_removes_categories_at_one_holder(lineage: Lineage) -> None:
    erased = {
        "event_type": "DataErased",
        "occurred_at": "2024-03-01T00:00:00Z",
        "subject": {"email": "jane@example.com"},
        "holder": "mailchimp",
        "categories": ["user.contact.email"],
    }
    lineage.emit([collected(), transferred(), erased])
    by = holders(lineage.json("who-has", "jane@example.com", "--as-of", "2025-06-01"))
    assert by["mailchimp"]["status"] == "erased" and by["mailchimp"]["categories"] == []
    assert by["webshop-db"]["status"] == "held"
    # P2Y from collection: held past that (and nothing erased it) is overdue.
    late = holders(lineage.json("who-has", "jane@example.com", "--as-of", "2026-02-01"))
    assert late["webshop-db"]["status"] == "overdue"
    assert late["webshop-db"]["overdue_categories"] == ["user.contact.email", "user.name"]
    before = holders(lineage.json("who-has", "jane@example.com", "--as-of", "2024-02-01"))
    assert before["mailchimp"]["status"] == "held"


def test_identity_link_joins_identifiers(lineage: Lineage) -> None:
    first = collected(subject={"email": "jane@example.com", "customer_number": "1042"})
    later = shared(subject={"customer_number": "1042"})
    lineage.emit([first, later])
    by_email = lineage.json("who-has", "jane@example.com")
    by_number = lineage.json("who-has", "--id", "customer_number=1042")
    assert by_email["holders"] == by_number["holders"]
    assert {h["holder"] for h in by_email["holders"]} == {"webshop-db", "e-conomic"}


def test_onward_chain_path(lineage: Lineage) -> None:
    sub = shared(
        occurred_at="2024-01-15T10:00:00Z",
        from_holder="e-conomic",
        recipient="visma-hosting",
        recipient_role="sub_processor",
        recipient_country="NO",
    )
    lineage.emit([collected(), shared(), sub])
    by = holders(lineage.json("who-has", "jane@example.com"))
    assert by["visma-hosting"]["path"] == ["webshop-db", "e-conomic", "visma-hosting"]
    assert by["visma-hosting"]["role"] == "sub_processor"


def test_as_of_hides_later_events(lineage: Lineage) -> None:
    lineage.emit([collected(), shared(occurred_at="2024-06-01T00:00:00Z")])
    early = lineage.json("who-has", "jane@example.com", "--as-of", "2024-02-01T00:00:00Z")
    assert [h["holder"] for h in early["holders"]] == ["webshop-db"]
    assert lineage.json("who-has", "jane@example.com", "--as-of", "2024-01-01")["holders"] == []


def test_privacy_shield_valid_until_schrems_ii(lineage: Lineage) -> None:
    lineage.emit(
        [
            collected(occurred_at="2019-01-01T00:00:00Z"),
            transferred(occurred_at="2019-03-01T00:00:00Z", mechanism="privacy_shield"),
        ]
    )

    def valid(as_of: str) -> bool:
        answer = lineage.json("who-has", "jane@example.com", "--as-of", as_of)
        return bool(holders(answer)["mailchimp"]["transfer"]["valid"])

    assert valid("2020-01-01")
    assert not valid("2020-07-16")


def test_dpf_before_it_existed_is_invalid(lineage: Lineage) -> None:
    lineage.emit([transferred(occurred_at="2021-03-01T00:00:00Z", mechanism="dpf")])
    assert (
        holders(lineage.json("who-has", "jane@example.com"))["mailchimp"]["transfer"]["valid"]
        is False
    )


def test_old_sccs_lapse_after_2022_12_27(lineage: Lineage) -> None:
    lineage.emit([transferred(occurred_at="2020-03-01T00:00:00Z", mechanism="scc_2010")])

    def valid(as_of: str) -> bool:
        answer = lineage.json("who-has", "jane@example.com", "--as-of", as_of)
        return bool(holders(answer)["mailchimp"]["transfer"]["valid"])

    assert valid("2022-12-27T12:00:00Z")
    assert not valid("2022-12-28")


def test_shared_outside_eea_without_transfer_is_flagged(lineage: Lineage) -> None:
    lineage.emit([shared(recipient="helpdesk", recipient_country="US")])
    t = holders(lineage.json("who-has", "jane@example.com"))["helpdesk"]["transfer"]
    assert (t["country"], t["mechanism"], t["valid"]) == ("US", "none", False)
