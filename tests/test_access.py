"""The Art. 15 access report with and without a catalog, through the CLI on a real home:
who-has's retention (parity), the catalog's plain names, the controller's identity, the
supervisory authority of the controller's country, erased transfers as history."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from lineage.services.authorities import authorities, authority_for
from tests.conftest import Lineage, collected, erased, shared, transferred

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
JANE = "jane@example.com"
AS_OF = "2024-06-01T00:00:00Z"


def company(country: str, legal_basis: str = "legitimate_interests") -> str:
    """A generated controller established in ``country``, with a representative and a DPO."""
    return f"""\
controller:
  name: Acme {country}
  address: Main Street 1
  contact: privacy@acme.example
  country: "{country}"
representative: {{name: Rep Ltd, contact: rep@example.eu, country: IE}}
dpo: {{name: Dana DPO, contact: dpo@acme.example}}
holders:
  webshop-db: {{role: own, country: "{country}"}}
  e-conomic: {{role: processor, country: DK, dpa_signed: 2020-01-01, name: e-conomic A/S,
              description: Invoicing and bookkeeping}}
  mailchimp: {{role: processor, country: US, dpa_signed: 2020-01-01,
              transfer: {{mechanism: dpf}}, dpf_certified: true}}
purposes:
  orders:
    name: Orders and deliveries
    description: Taking and delivering your orders
    data_use: essential.service
    legal_basis: {legal_basis}
    legitimate_interest: Delivering what you ordered from us
    data_subjects: [customer]
    categories: [user.name, user.contact.email]
    retention: P2Y from last_activity
    systems: [webshop-db]
  bookkeeping:
    name: Invoicing and bookkeeping
    data_use: essential.legal_obligation
    legal_basis: legal_obligation
    data_subjects: [customer]
    categories: [user.name]
    retention: {{duration: P5Y, runs_from: end_of_financial_year}}
    systems: [webshop-db]
    recipients: [e-conomic]
  newsletter:
    name: Newsletter
    data_use: marketing.communications.email
    legal_basis: consent
    data_subjects: [customer]
    categories: [user.contact.email]
    retention: until_consent_withdrawn
    systems: [webshop-db]
    recipients: [mailchimp]
    transfers: [{{recipient: mailchimp}}]
"""


def catalog_for(tmp_path: Path, country: str, **kw: Any) -> str:
    path = tmp_path / f"lineage-{country}.yaml"
    path.write_text(company(country, **kw))
    return str(path)


def shop(lineage: Lineage) -> None:
    """Events without their own retention, so the catalog's rules decide."""
    lineage.emit(
        [
            collected(retention=None, legal_basis="legitimate_interests"),
            collected(
                retention=None,
                categories=["user.contact.email"],
                purpose="marketing.communications.email",
                legal_basis="consent",
            ),
            shared(retention=None),
            transferred(occurred_at="2024-01-16T10:00:00Z"),
        ]
    )


def report(lineage: Lineage, *args: str) -> Any:
    return lineage.json("access", JANE, "--as-of", AS_OF, *args)


def test_every_country_in_the_table_names_its_own_authority(
    lineage: Lineage, tmp_path: Path
) -> None:
    shop(lineage)
    countries = sorted({a.country for a in authorities()})
    for country in countries:
        expected = authority_for(country, date(2024, 6, 1))
        assert expected is not None
        rep = report(lineage, "--catalog", catalog_for(tmp_path, country))
        named = rep["supervisory_authority"]
        assert (named["country"], named["name_local"]) == (country, expected.name_local)
        assert expected.website in rep["complaint"] and "Art. 77" in rep["complaint"]
        others = {a.website for a in authorities() if a.country != country}
        assert not any(site in rep["complaint"] for site in others), country


@pytest.mark.parametrize(
    ("country", "authority", "website"),
    [
        ("DK", "Datatilsynet", "datatilsynet.dk"),
        ("NL", "Autoriteit Persoonsgegevens", "autoriteitpersoonsgegevens.nl"),
        ("ES", "Agencia Española de Protección de Datos", "aepd.es"),
        ("DE", "Bundesbeauftragte für den Datenschutz", "bfdi.bund.de"),
        ("NO", "Datatilsynet", "datatilsynet.no"),
    ],
)
def test_controller_country_decides_the_authority(
    lineage: Lineage, tmp_path: Path, country: str, authority: str, website: str
) -> None:
    shop(lineage)
    catalog = catalog_for(tmp_path, country)
    md = lineage.ok("access", JANE, "--catalog", catalog, "--format", "md").stdout
    complaints = md.split("## Complaints")[1]
    assert authority in complaints and website in complaints
    if country != "DK":
        assert "datatilsynet.dk" not in md, "a Danish authority for a foreign controller"
    if country == "DE":
        assert "Land" in complaints, "German private companies answer to their Land"
    da = lineage.ok("access", JANE, "--catalog", catalog, "--format", "md", "--lang", "da")
    assert "art. 77" in da.stdout and website in da.stdout


def test_renamed_authority_follows_the_date(lineage: Lineage, tmp_path: Path) -> None:
    lineage.emit([collected(occurred_at="2019-01-01T00:00:00Z")])
    catalog = catalog_for(tmp_path, "SE")
    early = lineage.json("access", JANE, "--catalog", catalog, "--as-of", "2020-06-01")
    late = lineage.json("access", JANE, "--catalog", catalog, "--as-of", "2022-06-01")
    assert early["supervisory_authority"]["name_local"] == "Datainspektionen"
    assert late["supervisory_authority"]["name_local"].startswith("Integritetsskyddsmyndigheten")


def test_without_a_catalog_no_authority_is_named(lineage: Lineage) -> None:
    shop(lineage)
    rep = report(lineage)
    assert rep["supervisory_authority"] is None and rep["controller"] is None
    assert "Art. 77" in rep["complaint"]
    assert not any(a.website in rep["complaint"] for a in authorities())
    md = lineage.ok("access", JANE, "--format", "md").stdout
    assert "Datatilsynet" not in md and "## Who is responsible" not in md
    # From the events alone it still answers: purposes by fideslang's names, recipients.
    assert {r["recipient"] for r in rep["recipients"]} == {"e-conomic", "mailchimp"}


def test_controller_representative_and_dpo_from_the_catalog(
    lineage: Lineage, tmp_path: Path
) -> None:
    shop(lineage)
    catalog = catalog_for(tmp_path, "NL")
    rep = report(lineage, "--catalog", catalog)
    assert rep["controller"]["name"] == "Acme NL"
    assert rep["representative"]["contact"] == "rep@example.eu"
    assert rep["dpo"]["name"] == "Dana DPO"
    md = lineage.ok("access", JANE, "--catalog", catalog, "--format", "md").stdout
    assert "Acme NL, Main Street 1, privacy@acme.example" in md
    assert "Representative in the EU (Art. 27): Rep Ltd" in md
    assert "Data protection officer (Art. 37): Dana DPO" in md


def test_plain_names_and_legal_bases(lineage: Lineage, tmp_path: Path) -> None:
    from fideslang import DEFAULT_TAXONOMY

    shop(lineage)
    catalog = catalog_for(tmp_path, "DK")
    rep = report(lineage, "--catalog", catalog)
    by_key = {p["purpose"]: p for p in rep["purposes"]}
    orders = by_key["essential.service"]
    assert (orders["name"], orders["description"]) == (
        "Orders and deliveries",
        "Taking and delivering your orders",
    )
    assert orders["legal_basis"] == "legitimate_interests", "JSON keeps the keys"
    assert orders["legal_basis_text"] == "legitimate interests (Art. 6(1)(f))"
    assert orders["legitimate_interest"] == "Delivering what you ordered from us"
    fides = {c.fides_key: c.name for c in DEFAULT_TAXONOMY.data_category}
    assert rep["category_names"]["user.contact.email"] == fides["user.contact.email"]
    md = lineage.ok("access", JANE, "--catalog", catalog, "--format", "md").stdout
    assert "Orders and deliveries" in md and "Invoicing and bookkeeping" in md
    assert fides["user.contact.email"] in md and "user.contact.email" not in md
    assert "our legitimate interest: Delivering what you ordered from us" in md
    da = lineage.ok("access", JANE, "--catalog", catalog, "--format", "html", "--lang", "da")
    page = da.stdout
    assert '<html lang="da">' in page and "<h2>Dine rettigheder</h2>" in page
    assert "legitime interesser (art. 6, stk. 1, litra f)" in page
    assert "indtil du trækker dit samtykke tilbage" in page
    # Without a catalog, fideslang's name of the data use stands in.
    plain = report(lineage)
    uses = {u.fides_key: u.name for u in DEFAULT_TAXONOMY.data_use}
    names = {p["purpose"]: p["name"] for p in plain["purposes"]}
    assert names["essential.service"] == uses["essential.service"]


def test_retention_until_consent_is_withdrawn_reads_as_such(
    lineage: Lineage, tmp_path: Path
) -> None:
    shop(lineage)
    catalog = catalog_for(tmp_path, "DK")
    rep = report(lineage, "--catalog", catalog)
    newsletter = next(p for p in rep["purposes"] if p["purpose"].startswith("marketing"))
    assert newsletter["open"] and newsletter["retain_until"] is None
    md = lineage.ok("access", JANE, "--catalog", catalog, "--format", "md").stdout
    retention = md.split("## How long your data is kept")[1].split("##")[0]
    assert "Newsletter until you withdraw your consent" in retention
    assert "not recorded" not in retention
    # Withdrawn: the date of withdrawal, not "open" any more.
    lineage.emit(
        [
            {
                "event_type": "ConsentWithdrawn",
                "occurred_at": "2024-03-01T08:00:00Z",
                "subject": {"email": JANE},
                "purpose": "marketing.communications.email",
            }
        ],
        name="withdrawn.jsonl",
    )
    rep = report(lineage, "--catalog", catalog)
    newsletter = next(p for p in rep["purposes"] if p["purpose"].startswith("marketing"))
    assert not newsletter["open"] and newsletter["retain_until"] == "2024-03-01T08:00:00Z"


def test_erased_transfer_is_history_not_an_alarm(lineage: Lineage) -> None:
    lineage.emit(
        [
            collected(),
            transferred(occurred_at="2019-05-01T00:00:00Z", mechanism="privacy_shield"),
            erased("mailchimp", occurred_at="2020-03-02T08:00:00Z"),
        ]
    )
    who = lineage.json("who-has", JANE, "--as-of", AS_OF)
    (mailchimp,) = [h for h in who["holders"] if h["holder"] == "mailchimp"]
    assert mailchimp["transfer"]["valid"] is False, "who-has still reports the tool"
    rep = report(lineage)
    assert rep["transfers"] == []
    (past,) = rep["past_transfers"]
    assert (past["recipient"], past["mechanism"], past["erased_at"]) == (
        "mailchimp",
        "privacy_shield",
        "2020-03-02T08:00:00Z",
    )
    assert past["categories"] == ["user.contact.email"] and "valid" not in past
    md = lineage.ok("access", JANE, "--as-of", AS_OF, "--format", "md").stdout
    assert "not valid" not in md.lower()
    assert "erased on 2020-03-02" in md.split("## Earlier transfers")[1]


_KEYS = ("purpose", "legal_basis", "retain_until", "rule", "source", "open", "estimated")


def _reckoning(holder_date: str | None, entries: list[dict[str, Any]]) -> Any:
    """A holder's date and its per-purpose reckoning, comparable between the two answers."""
    return holder_date, sorted(json.dumps({k: e.get(k) for k in _KEYS}) for e in entries)


@pytest.mark.parametrize("name", ["webshop", "intermail", "invokers"])
def test_retention_in_the_report_is_who_has_retention(lineage: Lineage, name: str) -> None:
    catalog = str(EXAMPLES / name / "lineage.yaml")
    events = EXAMPLES / name / "events.jsonl"
    lineage.ok("emit", "--catalog", catalog, "--file", str(events))
    subjects = [json.loads(line)["subject"] for line in events.read_text().splitlines()]
    emails = sorted({s["email"] for s in subjects if "email" in s})
    assert emails
    checked = 0
    for email in emails:
        for as_of in ("2021-01-01T00:00:00Z", "2025-06-01T00:00:00Z"):
            args = (email, "--catalog", catalog, "--as-of", as_of)
            who = lineage.json("who-has", *args)
            rep = lineage.json("access", *args)
            expected = {
                h["holder"]: _reckoning(h["retain_until"], h["retention"])
                for h in who["holders"]
                if h["categories"]
            }
            got = {
                x["holder"]: _reckoning(x["retain_until"], x["purposes"]) for x in rep["retention"]
            }
            assert got == expected, (email, as_of)
            checked += sum(1 for date, _ in got.values() if date)
    assert checked, "the examples give the report dates to compare"


def test_bad_input_is_one_line(lineage: Lineage, tmp_path: Path) -> None:
    shop(lineage)
    for args in (
        ("--lang", "fr"),
        ("--as-of", "yesterday"),
        ("--catalog", str(tmp_path / "missing.yaml")),
    ):
        result = lineage("access", JANE, *args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
