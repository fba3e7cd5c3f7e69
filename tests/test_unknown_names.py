"""A misspelt holder, request id, resource or category is an error with the closest names,
never a silent empty answer (exit code 2, one line, nothing recorded)."""

from __future__ import annotations

import pytest
from click.testing import Result

from tests.conftest import Lineage, collected, shared, transferred

JANE = "jane@example.com"
CATALOG = """\
controller: {name: Acme ApS, country: DK}
taxonomy:
  categories:
    - {key: user.demographic.trade_union_membership, special: art9}
holders:
  webshop-db: {role: own, country: DK}
  e-conomic: {role: processor, country: DK, dpa_signed: 2020-01-01}
  quickpay: {role: processor, country: DK, dpa_signed: 2020-01-01}
purposes:
  orders:
    name: Orders
    data_use: essential.service
    legal_basis: contract
    data_subjects: [customer]
    categories: [user.name, user.demographic.trade_union_membership]
    retention: P2Y
    systems: [webshop-db]
    recipients: [e-conomic, quickpay]
"""


@pytest.fixture
def company(lineage: Lineage) -> Lineage:
    result = lineage.emit([collected(JANE), shared(JANE), transferred(JANE)])
    assert result.exit_code == 0, result.output
    (lineage.home / "lineage.yaml").write_text(CATALOG)
    return lineage


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_exposed_unknown_holder_suggests_the_closest(company: Lineage) -> None:
    err = one_line_error(company("exposed", "--holder", "mailchimpp", "--at", "2024-06-01"))
    assert "--holder" in err and "unknown holder 'mailchimpp'" in err
    assert "did you mean 'mailchimp'" in err


def test_exposed_holder_known_from_the_catalog_only_is_an_answer(company: Lineage) -> None:
    # quickpay is declared but received nothing: "0 subjects" is then the true answer.
    out = company.json("exposed", "--holder", "quickpay", "--at", "2024-06-01")
    assert out["subjects"] == 0
    # Without the catalog lineage knows quickpay from nothing: an error again.
    (company.home / "lineage.yaml").unlink()
    err = one_line_error(company("exposed", "--holder", "quickpay", "--at", "2024-06-01"))
    assert "unknown holder 'quickpay'" in err


def test_erasure_confirm_unknown_holder_suggests_the_requests_holders(company: Lineage) -> None:
    rid = company.json("erase", JANE, "--no-run")["request_id"]
    before = company.json("erasure", "status", rid)
    err = one_line_error(company("erasure", "confirm", rid, "--holder", "mailchimpp"))
    assert "--holder" in err and "did you mean 'mailchimp'" in err
    assert company.json("erasure", "status", rid) == before  # nothing recorded


@pytest.mark.parametrize(
    "command",
    [
        ("erasure", "status", "{rid}"),
        ("erasure", "run", "{rid}"),
        ("erasure", "confirm", "{rid}", "--holder", "mailchimp"),
        ("erasure", "extend", "{rid}", "--reason", "many systems"),
    ],
)
def test_request_id_typo_suggests_the_request(company: Lineage, command: tuple[str, ...]) -> None:
    rid = company.json("erase", JANE, "--no-run")["request_id"]
    typo = rid[:-1] + ("0" if rid[-1] != "0" else "1")
    for given in (typo, rid[:8]):  # a typo, and an id shortened as people copy it
        err = one_line_error(company(*(part.format(rid=given) for part in command)))
        assert f"no request {given!r}" in err and f"did you mean '{rid}'" in err


def test_scope_typo_is_an_error_and_catalog_keys_are_accepted(company: Lineage) -> None:
    err = one_line_error(company("erase", JANE, "--scope", "user.nmae", "--dry-run"))
    assert "--scope" in err and "user.name" in err
    # The catalog's own key is a category like any other.
    plan = company.json(
        "erase", JANE, "--scope", "user.demographic.trade_union_membership", "--dry-run"
    )
    assert plan["request_id"] is None
    err = one_line_error(company("rectify", JANE, "--categories", "user.contact.emial"))
    assert "--categories" in err and "user.contact.email" in err


def test_connector_resource_typo_suggests_the_resource(
    lineage: Lineage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEAGE_MAILCHIMP_API_KEY", "0123456789abcdef-us19")
    monkeypatch.setenv("LINEAGE_MAILCHIMP_LIST_ID", "a1b2c3")
    err = one_line_error(lineage("connector", "run", "mailchimp", "--resource", "membrs"))
    assert "--resource" in err and "did you mean 'members'" in err
    err = one_line_error(lineage("connector", "run", "mailchimpp"))
    assert "did you mean 'mailchimp'" in err
