"""Every audit rule, positive and negative: a clean company gives no finding at all; each
mutation of it gives the one rule it breaks."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lineage.services.audit import CATALOG_RULES, EVENT_RULES
from tests.conftest import Lineage

AS_OF = "2025-01-01T00:00:00Z"
JANE = {"email": "jane@example.com"}

CATALOG: dict[str, Any] = {
    "version": 1,
    "controller": {"name": "Clean ApS", "country": "DK"},
    "holders": {
        "shop": {"role": "own", "country": "DK"},
        "books": {
            "role": "processor",
            "country": "DK",
            "dpa_signed": "2020-01-01",
            "channel": {"kind": "email", "email": "privacy@books.example"},
        },
        "mailer": {
            "role": "processor",
            "country": "US",
            "dpa_signed": "2020-01-01",
            "channel": {"kind": "manual"},
            "transfer": {"mechanism": "dpf"},
            "dpf_certified": True,
        },
    },
    "purposes": {
        "customer": {
            "name": "Customers",
            "data_use": "essential.service",
            "legal_basis": "contract",
            "data_subjects": ["customer"],
            "categories": ["user.name", "user.contact"],
            "retention": "P5Y from last_activity",
            "systems": ["shop"],
            "recipients": ["books"],
        },
        "news": {
            "name": "Newsletter",
            "data_use": "marketing.communications.email",
            "legal_basis": "consent",
            "data_subjects": ["customer"],
            "categories": ["user.contact.email"],
            "retention": "until_consent_withdrawn",
            "systems": ["shop"],
            "recipients": ["mailer"],
            "transfers": [{"recipient": "mailer"}],
        },
    },
}


def _events() -> list[dict[str, Any]]:
    return [
        # Under a descendant of the declared data use, with descendants of declared categories.
        ev("DataCollected", "2024-01-01T10:00:00Z", system="shop",
           purpose="essential.service.operations", legal_basis="contract",
           categories=["user.name", "user.contact.address"], data_subject="customer"),
        ev("DataShared", "2024-01-02T10:00:00Z", from_holder="shop", recipient="books",
           recipient_role="processor", recipient_country="DK",
           purpose="essential.service.operations", legal_basis="contract",
           categories=["user.name"]),
        ev("ConsentGiven", "2024-01-03T10:00:00Z", purpose="marketing.communications.email"),
        ev("DataCollected", "2024-01-03T10:00:01Z", system="shop",
           purpose="marketing.communications.email", legal_basis="consent",
           categories=["user.contact.email"], data_subject="customer"),
        ev("DataTransferred", "2024-02-01T10:00:00Z", from_holder="shop", recipient="mailer",
           recipient_role="processor", destination_country="US", mechanism="dpf",
           purpose="marketing.communications.email", legal_basis="consent",
           categories=["user.contact.email"]),
    ]  # fmt: skip


def ev(kind: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"event_type": kind, "occurred_at": at, "source": "test", "subject": JANE, **fields}


Mutation = Callable[[dict[str, Any], list[dict[str, Any]]], None]


def _privacy_shield(c: dict[str, Any], e: list[dict[str, Any]]) -> None:
    e[-1]["mechanism"] = "privacy_shield"


def _uncertified(c: dict[str, Any], e: list[dict[str, Any]]) -> None:
    c["holders"]["mailer"]["dpf_certified"] = False


def _short_retention(c: dict[str, Any], e: list[dict[str, Any]]) -> None:
    c["purposes"]["customer"]["retention"] = "P6M from collection"


def _flow_after_withdrawal(c: dict[str, Any], e: list[dict[str, Any]]) -> None:
    e.append(ev("ConsentWithdrawn", "2024-03-01T00:00:00Z", purpose="marketing"))
    again = copy.deepcopy(e[4])
    again["occurred_at"] = "2024-04-01T00:00:00Z"
    e.append(again)
    # Withdrawal made the newsletter data overdue too; erase it there and at home after.
    e.append(ev("DataErased", "2024-04-02T00:00:00Z", holder="mailer"))
    e.append(ev("DataErased", "2024-04-02T00:00:00Z", holder="shop",
                categories=["user.contact.email"]))  # fmt: skip


def _no_dpa(c: dict[str, Any], e: list[dict[str, Any]]) -> None:
    del c["holders"]["books"]["dpa_signed"]


def _no_channel(c: dict[str, Any], e: list[dict[str, Any]]) -> None:
    del c["holders"]["books"]["channel"]


def _special(c: dict[str, Any], e: list[dict[str, Any]]) -> None:
    c["purposes"]["customer"]["categories"].append("user.health_and_medical")


def _undeclared_purpose(c: dict[str, Any], e: list[dict[str, Any]]) -> None:
    e.append(ev("DataCollected", "2024-05-01T00:00:00Z", system="shop",
                purpose="analytics.reporting", legal_basis="legitimate_interests",
                categories=["user.name"], data_subject="customer"))  # fmt: skip


def _undeclared_recipient(c: dict[str, Any], e: list[dict[str, Any]]) -> None:
    e.append(ev("DataShared", "2024-05-01T00:00:00Z", from_holder="shop", recipient="partner",
                recipient_role="processor", recipient_country="DK",
                purpose="essential.service", legal_basis="contract",
                categories=["user.name"]))  # fmt: skip


def _undeclared_category(c: dict[str, Any], e: list[dict[str, Any]]) -> None:
    e[0]["categories"].append("user.financial.credit_card")


def _no_interest(c: dict[str, Any], e: list[dict[str, Any]]) -> None:
    c["purposes"]["customer"]["legal_basis"] = "legitimate_interests"


def _never_observed(c: dict[str, Any], e: list[dict[str, Any]]) -> None:
    c["purposes"]["news"]["recipients"].append("books")


def _open_request(c: dict[str, Any], e: list[dict[str, Any]]) -> None:
    rid = "7d3c6a70-0c55-4c09-9a4e-7a8a1fd8f001"
    e.append(
        ev(
            "ErasureRequested",
            "2024-06-01T00:00:00Z",
            request_id=rid,
            received_at="2024-06-01T00:00:00Z",
        )
    )
    e.append(ev("ErasureTaskUpdated", "2024-06-01T00:00:01Z", request_id=rid, holder="books",
                status="planned", action="erase"))  # fmt: skip


def _failed_withdrawal_notice(c: dict[str, Any], e: list[dict[str, Any]]) -> None:
    rid = "7d3c6a70-0c55-4c09-9a4e-7a8a1fd8f002"
    e.append({**ev("ErasureRequested", "2024-12-20T00:00:00Z", request_id=rid,
                   received_at="2024-12-20T00:00:00Z", purpose="marketing"),
              "kind": "withdrawal"})  # fmt: skip
    e.append(ev("ErasureTaskUpdated", "2024-12-20T00:00:01Z", request_id=rid, holder="mailer",
                status="failed", action="notify", channel="email",
                reason="terminal: recipient refused: 550"))  # fmt: skip


MUTATIONS: dict[str, Mutation] = {
    "transfer-invalid": _privacy_shield,
    "transfer-dpf-uncertified": _uncertified,
    "retention-overdue": _short_retention,
    "consent-withdrawn": _flow_after_withdrawal,
    "processor-without-dpa": _no_dpa,
    "processor-without-channel": _no_channel,
    "special-category-no-condition": _special,
    "undeclared-purpose": _undeclared_purpose,
    "undeclared-recipient": _undeclared_recipient,
    "undeclared-category": _undeclared_category,
    "legitimate-interest-missing": _no_interest,
    "recipient-never-observed": _never_observed,
    "erasure-overdue": _open_request,
    "withdrawal-notice-failed": _failed_withdrawal_notice,
}


def run(lineage: Lineage, catalog: dict[str, Any] | None, events: list[dict[str, Any]]) -> Any:
    lineage.emit(events)
    args = ["audit", "--format", "json", "--as-of", AS_OF, "--fail-on", "info"]
    if catalog is not None:
        path = lineage.home.parent / "lineage.yaml"
        path.write_text(yaml.safe_dump(catalog, sort_keys=False))
        args += ["--catalog", str(path)]
    result = lineage(*args)
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_every_rule_is_listed_once() -> None:
    assert set(MUTATIONS) == set(EVENT_RULES) | set(CATALOG_RULES)
    assert not set(EVENT_RULES) & set(CATALOG_RULES)


def test_a_clean_company_has_no_finding(lineage: Lineage) -> None:
    code, doc, _ = run(lineage, CATALOG, _events())
    assert doc["findings"] == [] and code == 0


@pytest.mark.parametrize("rule", sorted(MUTATIONS))
def test_each_rule_fires_on_what_breaks_it(lineage: Lineage, rule: str) -> None:
    catalog, events = copy.deepcopy(CATALOG), _events()
    MUTATIONS[rule](catalog, events)
    code, doc, _ = run(lineage, catalog, events)
    assert {f["rule"] for f in doc["findings"]} == {rule}, doc["findings"]
    assert code == 1, "--fail-on info: any finding fails"


def test_without_a_catalog_the_event_rules_run(lineage: Lineage, tmp_path: Path) -> None:
    events = _events()
    for mutate in (_flow_after_withdrawal, _open_request):
        mutate({}, events)
    events.append(ev("DataTransferred", "2024-05-01T00:00:00Z", from_holder="shop",
                     recipient="desk", recipient_role="processor", destination_country="US",
                     mechanism="privacy_shield", purpose="essential.service",
                     legal_basis="contract", categories=["user.name"]))  # fmt: skip
    events[0]["retention"] = "P6M"  # the event's own retention: overdue by the as-of time
    code, doc, stderr = run(lineage, None, events)
    rules = {f["rule"]: f for f in doc["findings"]}
    assert set(rules) == {"transfer-invalid", "consent-withdrawn", "erasure-overdue",
                          "retention-overdue"}  # fmt: skip
    assert rules["retention-overdue"]["holder"] == "shop"
    assert rules["transfer-invalid"]["holder"] == "desk"
    assert doc["catalog"] is None and doc["skipped_rules"] == list(CATALOG_RULES)
    assert "no catalog" in stderr and code == 1


def test_without_a_catalog_dpf_is_a_warning_and_no_findings_pass(lineage: Lineage) -> None:
    code, doc, _ = run(lineage, None, _events())
    assert [(f["severity"], f["rule"]) for f in doc["findings"]] == [
        ("warning", "transfer-dpf-uncertified")
    ]
    assert code == 1, "--fail-on info"
    result = lineage("audit", "--as-of", AS_OF)
    assert result.exit_code == 0, "a missing catalog alone never fails the audit"


def _request(rid: str, received: str, *tasks: tuple[str, str, str]) -> list[dict[str, Any]]:
    out = [ev("ErasureRequested", received, request_id=rid, received_at=received)]
    for holder, action, status in tasks:
        out.append(ev("ErasureTaskUpdated", received, request_id=rid, holder=holder,
                      action=action, status=status))  # fmt: skip
    return out


def _overdue(lineage: Lineage, as_of: str) -> tuple[set[str], set[str]]:
    """Overdue request ids by the audit and by ``erasure status``."""
    result = lineage("audit", "--format", "json", "--as-of", as_of)
    audit = {
        f["evidence"]["request_id"]
        for f in json.loads(result.stdout)["findings"]
        if f["rule"] == "erasure-overdue"
    }
    status = lineage.json("erasure", "status", "--as-of", as_of)["requests"]
    return audit, {q["request_id"] for q in status if q["status"] == "overdue"}


def test_erasure_deadlines_count_extensions_and_notified_controllers(lineage: Lineage) -> None:
    extended, notified, late = (f"00000000-0000-4000-8000-00000000000{i}" for i in (1, 2, 3))
    events = _events()
    events += _request(extended, "2024-06-01T00:00:00Z", ("books", "erase", "planned"))
    events.append(ev("ErasureExtended", "2024-06-10T00:00:00Z", request_id=extended,
                     reason="many archives", deadline="2024-09-01T00:00:00Z"))  # fmt: skip
    # An independent controller told of the erasure (Art. 19) decides itself: done.
    events += _request(notified, "2024-06-01T00:00:00Z", ("partner", "notify", "notified"))
    events += _request(late, "2024-06-01T00:00:00Z", ("books", "erase", "failed"))
    lineage.emit(events)
    assert _overdue(lineage, "2024-07-15T00:00:00Z") == ({late}, {late})
    assert _overdue(lineage, "2024-09-02T00:00:00Z") == ({late, extended}, {late, extended})


def test_a_failed_task_shows_its_reason(lineage: Lineage) -> None:
    rid = "00000000-0000-4000-8000-0000000000aa"
    events = _events() + _request(rid, "2024-06-01T00:00:00Z", ("books", "erase", "planned"))
    events.append(ev("ErasureTaskUpdated", "2024-06-02T00:00:00Z", request_id=rid,
                     holder="books", action="erase", status="failed",
                     reason="terminal: no API key configured for books"))  # fmt: skip
    lineage.emit(events)
    (task,) = lineage.json("erasure", "status", rid)["requests"][0]["tasks"]
    assert task["status"] == "failed" and "no API key" in task["note"]
    assert "no API key" in lineage.ok("erasure", "status", rid).stdout
