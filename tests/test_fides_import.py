"""``lineage catalog import-fides`` over manifests modelled on Fides' own samples: roles,
countries and transfer tools, DPIAs, retention in words, flows per purpose, and every field
that could not be mapped listed in the notes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lineage.catalog.loader import load_catalog
from lineage.catalog.retention import rule_from_text
from tests.conftest import Lineage

FIDES = Path(__file__).parent / "data" / "fides"


def imported(lineage: Lineage, tmp_path: Path, manifest: str, *args: str) -> tuple[Any, Any]:
    """The catalog as the loader reads it, and the import's JSON (notes included)."""
    out = tmp_path / "lineage.yaml"
    result = lineage.ok(
        "catalog", "import-fides", str(FIDES / manifest), "-o", str(out), "--format", "json", *args
    )
    lineage.ok("catalog", "validate", str(out))
    return load_catalog(out), json.loads(result.stdout)


def notes_at(data: dict[str, Any], where: str, field: str) -> list[dict[str, Any]]:
    return [n for n in data["notes"] if n["where"] == where and n["field"] == field]


def test_processors_keep_their_role_country_tool_and_dpia(lineage: Lineage, tmp_path: Path) -> None:
    catalog, _ = imported(lineage, tmp_path, "cookie_house.yml", "--holder-country", "stripe=US")
    roles = {k: (h.role, h.country) for k, h in catalog.holders.items()}
    assert roles == {
        "cookie_house": ("own", "DK"),
        "cookie_house_postgresql_database": ("own", "DK"),
        "mailchimp": ("processor", "US"),  # from its legal address
        "stripe": ("processor", "US"),  # from --holder-country
        "e_conomic": ("processor", "DK"),
        "visma_hosting": ("sub_processor", "NO"),
        "meta_pixel": ("controller", "IE"),  # another company's system: a vendor
    }
    mailchimp = catalog.holders["mailchimp"]
    assert mailchimp.transfer is not None and mailchimp.transfer.mechanism == "scc"
    assert "Supplementary Measures" in (mailchimp.transfer.ref or "")
    assert mailchimp.dpia is not None
    assert (mailchimp.dpia.required, mailchimp.dpia.progress) == (True, "Complete")
    assert mailchimp.dpia.location == "https://cookiehouse.example/dpia/mailchimp.pdf"
    assert mailchimp.name == "The Rocket Science Group LLC"
    stripe = catalog.holders["stripe"]
    assert stripe.transfer is not None and stripe.transfer.mechanism == "dpf"
    assert catalog.holders["e_conomic"].sub_processors == ["visma_hosting"]
    assert catalog.doc.dpo is not None and catalog.doc.dpo.name == "DataPro Tection"
    assert catalog.doc.representative is not None
    assert catalog.doc.controller.name == "Cookie House ApS"


def test_retention_in_words_becomes_the_rule_it_says(lineage: Lineage, tmp_path: Path) -> None:
    catalog, _ = imported(lineage, tmp_path, "cookie_house.yml", "--holder-country", "stripe=US")
    rules = {pid: str(rule) for pid, rule in catalog.rules.items()}
    assert rules["cookie_house-process-orders"] == "P5Y from collection"
    assert rules["cookie_house-newsletter"] == "until_consent_withdrawn"
    assert rules["cookie_house-bookkeeping"] == "P5Y from end_of_financial_year"
    assert rules["cookie_house_postgresql_database-store-orders"] == "P730D from collection"
    assert rules["mailchimp-send-the-newsletter"] == "until_consent_withdrawn"
    assert rules["meta_pixel-targeted-advertising"] == "P6M from collection"
    assert catalog.purposes["cookie_house-bookkeeping"].legal_basis == "legal_obligation"


def test_egress_goes_to_the_purposes_it_belongs_to(lineage: Lineage, tmp_path: Path) -> None:
    catalog, data = imported(lineage, tmp_path, "cookie_house.yml", "--holder-country", "stripe=US")
    recipients = {pid: p.recipients for pid, p in catalog.purposes.items()}
    # Named by the declaration, or carrying that declaration's categories: nowhere else.
    assert recipients["cookie_house-process-orders"] == ["stripe"]
    assert recipients["cookie_house-newsletter"] == ["mailchimp"]
    assert recipients["cookie_house-bookkeeping"] == ["e_conomic"]
    assert catalog.purposes["cookie_house-newsletter"].transfers[0].recipient == "mailchimp"
    assert catalog.purposes["cookie_house-bookkeeping"].transfers == []
    # A processor's own declaration is our purpose carried out there, fed by our system.
    newsletter = catalog.purposes["mailchimp-send-the-newsletter"]
    assert (newsletter.systems, newsletter.recipients) == (["cookie_house"], ["mailchimp"])
    measures = catalog.security_measures("mailchimp-send-the-newsletter")
    assert "SOC 2 Type II" in measures
    assert "Encryption at rest; single sign-on with MFA" in catalog.security_measures(
        "cookie_house-newsletter"
    )
    assert not [n for n in data["notes"] if n["field"] == "egress"]


def test_what_cannot_be_mapped_is_listed(lineage: Lineage, tmp_path: Path) -> None:
    out = tmp_path / "lineage.yaml"
    result = lineage.ok(
        "catalog", "import-fides", str(FIDES / "cookie_house.yml"), "-o", str(out),
        "--format", "json",
    )  # fmt: skip
    data = json.loads(result.stdout)
    stripe = notes_at(data, "system stripe", "country")
    assert stripe and stripe[0]["kind"] == "placeholder" and "stripe=CC" in stripe[0]["detail"]
    assert notes_at(data, "system mailchimp", "uses_cookies")
    assert notes_at(data, "system mailchimp", "cookie_max_age_seconds")
    assert notes_at(data, "system meta_pixel", "joint_controller_info")
    assert notes_at(data, "system meta_pixel, declaration 'Targeted advertising'", "third_parties")
    assert notes_at(data, "system cookie_house, declaration 'Bookkeeping'", "features")
    assert notes_at(data, "system cookie_house_postgresql_database", "dataset_references")
    assert notes_at(data, "organization", "description")
    # Every note is also at the top of the catalog, before the first key.
    head = out.read_text().split("\nversion:")[0]
    for note in data["notes"]:
        assert f"{note['where']}: {note['field']}:" in head


def test_an_older_danish_manifest(lineage: Lineage, tmp_path: Path) -> None:
    catalog, data = imported(lineage, tmp_path, "legacy_da.yml")
    rules = {pid: str(rule) for pid, rule in catalog.rules.items()}
    assert rules["analytics-analyze-customer-behaviour"] == "P26W from collection"
    assert rules["crm-kunder"] == "P5Y from contract_end"
    assert rules["crm-jobans-gere"] == "P6M from collection"
    assert rules["crm-nyhedsbrev"] == "until_consent_withdrawn"
    assert rules["base_crm-crm-hosting"] == "P5Y from collection"
    # Unreadable text is not turned into a period: a marked placeholder and a note.
    archive = notes_at(data, "system crm, declaration 'Arkiv'", "retention_period")
    assert archive and "så længe det er nødvendigt" in archive[0]["detail"]
    assert "placeholder" in (catalog.rules["crm-arkiv"].note or "")
    assert notes_at(data, "system crm, declaration 'Arkiv'", "legal_basis_for_processing")
    base = catalog.holders["base_crm"]
    assert (base.role, base.country) == ("processor", "US")  # third_country_transfers: USA
    assert base.transfer is not None and base.transfer.mechanism == "none"
    assert notes_at(data, "system base_crm", "legal_basis_for_transfers")
    analytics = catalog.holders["analytics"]
    assert (
        analytics.dpia is not None
        and analytics.dpia.location == "https://example.org/analytics_dpia"
    )
    assert notes_at(data, "system analytics", "third_country_transfers")  # no recipient named
    improve = notes_at(
        data, "system analytics, declaration 'Analyze customer behaviour'", "data_use"
    )
    assert improve and "custom key" in improve[0]["detail"]
    assert [c.key for c in catalog.doc.taxonomy.uses] == [
        "improve.system",
        "essential.service.bookkeeping_advice",
    ]
    lia = catalog.purposes["crm-jobans-gere"].legitimate_interest
    assert lia == "assessment: https://example.org/lia/recruitment"
    # The flow to Base names no purpose of the CRM's; Base's one declaration takes it.
    hosting = catalog.purposes["base_crm-crm-hosting"]
    assert (hosting.systems, hosting.recipients) == (["crm"], ["base_crm"])
    assert [t.recipient for t in hosting.transfers] == ["base_crm"]
    assert all(not p.recipients for pid, p in catalog.purposes.items() if pid.startswith("crm-"))


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("5 years", "P5Y from collection"),
        ("5 år", "P5Y from collection"),
        ("6 months", "P6M from collection"),
        ("26 weeks", "P26W from collection"),
        ("P2Y", "P2Y from collection"),
        ("30", "P30D from collection"),
        ("1 year and 6 months", "P1Y6M from collection"),
        ("until consent is withdrawn", "until_consent_withdrawn"),
        ("indtil samtykke trækkes tilbage", "until_consent_withdrawn"),
        ("5 år efter udløbet af regnskabsåret", "P5Y from end_of_financial_year"),
        ("2 år fra seneste kontakt", "P2Y from last_activity"),
        ("12 måneder efter at kundeforholdet er ophørt", "P12M from contract_end"),
        ("3 months after rejection", "P3M from request_closed"),
        ("P5Y from end_of_financial_year", "P5Y from end_of_financial_year"),
        ("as long as necessary", None),
        ("5 years after something else", None),
        ("0", None),
        ("", None),
    ],
)
def test_retention_text(text: str, rule: str | None) -> None:
    assert rule_from_text(text) == rule


def test_bad_input_writes_nothing(lineage: Lineage, tmp_path: Path) -> None:
    out = tmp_path / "lineage.yaml"
    manifest = str(FIDES / "cookie_house.yml")
    typo = lineage(
        "catalog", "import-fides", manifest, "-o", str(out), "--holder-country", "strpe=US"
    )
    assert typo.exit_code == 2 and "did you mean 'stripe'" in typo.stderr
    country = lineage("catalog", "import-fides", manifest, "--holder-country", "stripe=USA")
    assert country.exit_code == 2 and "--holder-country" in country.stderr
    broken = tmp_path / "broken.yml"
    # fideslang's own rule: a declaration's egress must be one of the system's flows.
    broken.write_text(
        "system:\n  - fides_key: shop\n    system_type: Service\n    privacy_declarations:\n"
        "      - {data_use: essential.service, data_categories: [user.name], egress: [nowhere]}\n"
    )
    bad = lineage("catalog", "import-fides", str(broken), "-o", str(out))
    assert bad.exit_code == 2 and "system shop" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert not out.exists()
