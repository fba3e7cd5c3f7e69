"""Each example states what its policy (the Danish seeds the examples model) says: purposes,
legal bases, retention, recipients. The policy's words are quoted beside each assertion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lineage.catalog.catalog import Catalog
from lineage.catalog.loader import load_catalog
from tests.conftest import Lineage

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def catalog(name: str) -> Catalog:
    return load_catalog(EXAMPLES / name / "lineage.yaml")


def emitted(lineage: Lineage, name: str) -> str:
    path = str(EXAMPLES / name / "lineage.yaml")
    lineage.ok("emit", "--catalog", path, "--file", str(EXAMPLES / name / "events.jsonl"))
    return path


def rules(c: Catalog) -> dict[str, tuple[str, str]]:
    return {pid: (p.legal_basis, str(c.rules[pid])) for pid, p in c.purposes.items()}


def plan(lineage: Lineage, path: str, email: str) -> dict[tuple[str, str], dict[str, Any]]:
    out = lineage.json("erase", email, "--dry-run", "--catalog", path)
    return {(t["holder"], t["action"]): t for t in out["tasks"]}


def test_invokers_policy() -> None:
    c = catalog("invokers")
    assert rules(c) == {
        # "overholde den aftale/kontrakt vi har indgået"; confirmed once a year
        "customers": ("contract", "P1Y from last_activity"),
        # "yderligere 5 år ... (Bogføringsloven)": the Act counts from the financial year's end
        "bookkeeping": ("legal_obligation", "P5Y from end_of_financial_year"),
        # "Jobansøgeres oplysninger opbevares maksimum 6 måneder"
        "recruitment": ("legitimate_interests", "P6M from collection"),
        # "tilbagekalde dit samtykke ... afmeld-linket"
        "newsletter": ("consent", "until_consent_withdrawn"),
    }
    # "E-conomic, MailChimp og Base (CRM system) ... i forbindelse med fakturering og
    # udsendelse af mail": processors, e-conomic for invoicing.
    processors = {k for k, h in c.holders.items() if h.role == "processor"}
    assert processors == {"e-conomic", "mailchimp", "base-crm"}
    assert c.purposes["bookkeeping"].recipients[0] == "e-conomic"
    assert "e-conomic" not in c.holders_of("customers")
    assert "mailchimp" in c.purposes["newsletter"].recipients
    assert c.doc.controller.name == "Invokers A/S" and c.doc.dpo is None  # no DPO stated


def test_invokers_erasure_keeps_the_accounting_records(lineage: Lineage) -> None:
    path = emitted(lineage, "invokers")
    tasks = plan(lineage, path, "kim.kunde@customer.example")
    # Invoiced 2023-09-01: the financial year ends 2023-12-31, so kept until 2029-01-01.
    for holder in ("e-conomic", "invokers-systems"):
        kept = tasks[(holder, "retain")]
        assert kept["categories"] == ["user.contact.email", "user.name"]
        assert kept["retain_until"] == "2029-01-01T00:00:00Z"
        assert "17(3)(b)" in kept["reason"]
    # What only the contract needed goes now: the CRM copy and the rest at our systems.
    assert tasks[("base-crm", "erase")]["retain_until"] is None
    assert tasks[("invokers-systems", "erase")]["categories"] == [
        "user.contact.phone_number",
        "user.job_title",
    ]
    assert ("e-conomic", "erase") not in tasks


def test_webshop_policy() -> None:
    c = catalog("webshop")
    r = rules(c)
    assert r["contact-form"][1] == "P2Y from last_activity"  # "2 år fra seneste kontakt"
    assert r["other-contact"][1] == "P5Y from last_activity"  # "op til 5 år fra seneste kontakt"
    assert r["customer"] == (
        "contract",
        "P5Y from contract_end",
    )  # "5 år fra kundeforholdets afslutning"
    assert r["newsletter"] == ("consent", "until_consent_withdrawn")  # "til du selv afmelder"
    assert r["bookkeeping"] == ("legal_obligation", "P5Y from end_of_financial_year")
    # "kreditkortnummer, udløbsdato og sikkerhedskode ... videregives til vores betalingsgateway"
    assert "user.financial.credit_card" in c.purposes["payment"].categories
    assert [c.holders[h].role for h in c.purposes["payment"].recipients] == ["processor"]
    # "adresse oplysninger kan deles med den eller de leverandører som sender ... velkomst gave"
    gift = c.purposes["welcome-gift"]
    assert gift.categories == ["user.name", "user.contact.address"]
    assert [c.holders[h].role for h in gift.recipients] == ["controller"]
    # "Google, Facebook, Linkedin, Instagram, Twitter ... pixel", given by accepting cookies
    pixels = c.purposes["ad-pixels"]
    assert pixels.legal_basis == "consent"
    names = " ".join(c.holders[h].description or "" for h in pixels.recipients).lower()
    for network in ("google", "facebook", "linkedin", "instagram", "twitter"):
        assert network in names
    # "til offentlige myndigheder, hvis det kræves af lovgivningen"
    assert c.holders["public-authorities"].role == "public_authority"
    assert c.doc.dpo is None  # the policy names none: "kontakte os"


def test_intermail_policy() -> None:
    c = catalog("intermail")
    assert rules(c) == {
        "website-visitors": ("legitimate_interests", "P26W from collection"),  # "26 uger"
        "enquiries": (
            "legitimate_interests",
            "P12M from last_activity",
        ),  # "12 måneder efter sidste behandling"
        "webinar": ("legitimate_interests", "P1M from request_closed"),  # "senest 1 måned efter"
        "newsletter": ("consent", "until_consent_withdrawn"),
        "social-media": ("legitimate_interests", "P12M from last_activity"),
        "product": ("contract", "P12M from contract_end"),  # "inden 12 måneder efter ... ophørt"
        # "samt under legitim interesse ... information og nyheder om vores tjenester"
        "product-news": ("legitimate_interests", "P12M from contract_end"),
        "bookkeeping": ("legal_obligation", "P5Y from end_of_financial_year"),
        "support": ("contract", "P12M from contract_end"),
        "sales": ("legitimate_interests", "P12M from last_activity"),
        "recruitment": (
            "legitimate_interests",
            "P3M from request_closed",
        ),  # "3 måneder efter ... afslag"
    }
    # "Afholdes webinarret i samarbejde med 3. part ... typisk navn og e-mail"
    assert c.holders["webinar-partner"].role == "controller"
    # "Vi anvender kun databehandlere i EU/EØS": every processor is in the EEA.
    assert {h.country for h in c.holders.values() if h.role == "processor"} == {"DK"}


def test_intermail_crm_is_our_own_system(lineage: Lineage) -> None:
    # An enquiry that lands in the CRM is ours to erase, not a third party's to be told.
    path = emitted(lineage, "intermail")
    tasks = plan(lineage, path, "lars.lead@example.dk")
    assert set(tasks) == {("website", "erase"), ("crm", "erase")}
    carl = plan(lineage, path, "carl.customer@example.dk")
    # Invoice of 2025-04-30: "indtil 5 år efter udløbet af regnskabsåret".
    assert carl[("accounting", "retain")]["retain_until"] == "2031-01-01T00:00:00Z"
