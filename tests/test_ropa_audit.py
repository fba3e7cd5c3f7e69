"""Art. 30 records and the audit over the three example companies (catalog + events)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Lineage, collected

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
AS_OF = "2025-09-01"


def load(lineage: Lineage, name: str) -> str:
    catalog = str(EXAMPLES / name / "lineage.yaml")
    lineage.ok("emit", "--catalog", catalog, "--file", str(EXAMPLES / name / "events.jsonl"))
    return catalog


def records(lineage: Lineage, catalog: str) -> dict[str, Any]:
    out = lineage.ok("ropa", "--catalog", catalog, "--format", "json", "--as-of", AS_OF)
    return json.loads(out.stdout)


def by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["purpose_id"]: r for r in doc["controller_records"]}


def findings(lineage: Lineage, catalog: str, *extra: str) -> tuple[int, list[dict[str, Any]]]:
    result = lineage("audit", "--catalog", catalog, "--format", "json", "--as-of", AS_OF, *extra)
    return result.exit_code, json.loads(result.stdout)["findings"]


def test_webshop_records_say_what_the_policy_says(lineage: Lineage) -> None:
    rows = by_id(records(lineage, load(lineage, "webshop")))
    assert (
        rows["contact-form"]["retention_rule"] == "P2Y from last_activity"
    )  # 2 år fra seneste kontakt
    assert (
        rows["customer"]["retention_rule"] == "P5Y from contract_end"
    )  # 5 år fra kundeforholdets afslutning
    assert rows["newsletter"]["retention_rule"] == "until_consent_withdrawn"  # til du afmelder
    assert rows["newsletter"]["legal_basis"] == "consent"
    assert rows["bookkeeping"]["legal_basis"] == "legal_obligation"
    assert "5 years from the end of the financial year" in rows["bookkeeping"]["erasure"]
    assert any("QuickPay" in r or "quickpay" in r for r in rows["payment"]["recipients_processors"])
    assert rows["customer"]["recipients_authorities"] == ["public-authorities (DK)"]
    assert any(
        "US: mailchimp under the EU-US Data Privacy Framework" in t
        for t in rows["newsletter"]["transfers"]
    )
    # Evidence from the events: the payment gateway did receive data.
    assert rows["payment"]["subjects_observed"] > 0
    assert "quickpay" in rows["payment"]["recipients_observed"]
    assert rows["customer"]["first_seen"] <= rows["customer"]["last_seen"]


def test_webshop_audit_catches_privacy_shield(lineage: Lineage) -> None:
    code, found = findings(lineage, load(lineage, "webshop"))
    assert code == 1
    invalid = [f for f in found if f["rule"] == "transfer-invalid"]
    shield = [f for f in invalid if f["holder"] == "desk-support-inc"]
    assert shield and all(f["severity"] == "error" for f in shield)
    assert any("privacy_shield" in f["message"] for f in shield)
    # Mailchimp moved to the DPF and is certified: no finding for it.
    assert not [f for f in found if f["holder"] == "mailchimp" and f["rule"].startswith("transfer")]


def test_intermail_records_and_consent_after_withdrawal(lineage: Lineage) -> None:
    catalog = load(lineage, "intermail")
    rows = by_id(records(lineage, catalog))
    assert rows["website-visitors"]["retention_rule"] == "P26W from collection"  # 26 uger
    assert rows["recruitment"]["retention_rule"] == "P3M from request_closed"  # 3 mdr efter afslag
    assert rows["bookkeeping"]["retention_rule"] == "P5Y from end_of_financial_year"
    assert rows["newsletter"]["legal_basis"] == "consent"
    assert rows["support"]["legal_basis"] == "contract"
    assert all(r["automated_decisions"] == "none" for r in rows.values())
    assert all(r["transfers"] == [] for r in rows.values())  # processors only in the EU/EEA
    _, found = findings(lineage, catalog)
    consent = [f for f in found if f["rule"] == "consent-withdrawn"]
    assert [(f["holder"], f["purpose"]) for f in consent] == [
        ("eu-processor", "marketing.communications.email")
    ]
    assert any(f["rule"] == "processor-without-dpa" for f in found)


def test_invokers_transfers_without_a_tool_and_special_category(lineage: Lineage) -> None:
    catalog = load(lineage, "invokers")
    rows = by_id(records(lineage, catalog))
    assert rows["recruitment"]["retention_rule"] == "P6M from collection"  # maks. 6 måneder
    # Invoicing is the Bookkeeping Act's purpose: e-conomic serves it, not the contract.
    assert "e-conomic (DK)" in rows["bookkeeping"]["recipients_processors"]
    assert any("US" in t and "no transfer tool" in t for t in rows["newsletter"]["transfers"])
    code, found = findings(lineage, catalog)
    assert code == 1
    observed = {(f["holder"], f["rule"]) for f in found if f["purpose"]}
    assert ("mailchimp", "transfer-invalid") in observed
    assert ("base-crm", "transfer-invalid") in observed
    assert ("invokers-systems", "special-category-no-condition") in observed


def test_fail_on_threshold(lineage: Lineage, tmp_path: Path) -> None:
    # Only a warning: a legitimate-interests purpose without the interest stated.
    catalog = tmp_path / "lineage.yaml"
    catalog.write_text(
        "controller: {name: Acme ApS}\n"
        "holders:\n  webshop-db: {role: own, country: DK}\n"
        "purposes:\n  p:\n    name: P\n    data_use: essential.service\n"
        "    legal_basis: legitimate_interests\n    data_subjects: [customer]\n"
        "    categories: [user.name, user.contact.email]\n    retention: P2Y\n"
        "    systems: [webshop-db]\n"
    )
    lineage.emit([collected(retention=None, purpose="essential.service")])
    code, found = findings(lineage, str(catalog))
    assert [f["rule"] for f in found] == ["legitimate-interest-missing"] and code == 0
    code, _ = findings(lineage, str(catalog), "--fail-on", "warning")
    assert code == 1


def test_retention_from_catalog_in_who_has(lineage: Lineage) -> None:
    catalog = load(lineage, "intermail")
    answer = json.loads(
        lineage.ok(
            "who-has", "carl.customer@example.dk", "--catalog", catalog, "--as-of", AS_OF,
            "--format", "json",
        ).stdout
    )  # fmt: skip
    by = {h["holder"]: h for h in answer["holders"]}
    # Invoice of 2025-04-30: 5 years from the end of that financial year.
    assert by["accounting"]["retain_until"] == "2031-01-01T00:00:00Z"
    assert by["accounting"]["retention"][0]["rule"] == "P5Y from end_of_financial_year"
    news = json.loads(
        lineage.ok(
            "who-has", "nina.news@example.dk", "--catalog", catalog, "--as-of", "2024-06-01",
            "--format", "json",
        ).stdout
    )  # fmt: skip
    crm = {h["holder"]: h for h in news["holders"]}["crm"]
    assert crm["retain_until"] is None  # until consent is withdrawn: still given
    after = json.loads(
        lineage.ok(
            "who-has", "nina.news@example.dk", "--catalog", catalog, "--as-of", AS_OF,
            "--format", "json",
        ).stdout
    )  # fmt: skip
    assert {h["holder"]: h for h in after["holders"]}["crm"]["retain_until"] == (
        "2025-02-03T12:00:00Z"
    )


@pytest.mark.parametrize("lang", ["en", "da"])
def test_formats(lineage: Lineage, tmp_path: Path, lang: str) -> None:
    catalog = load(lineage, "webshop")
    base = ["ropa", "--catalog", catalog, "--lang", lang, "--as-of", AS_OF]
    heading = "Formål med behandlingen" if lang == "da" else "Purpose of the processing"
    table = list(csv.reader(io.StringIO(lineage.ok(*base, "--format", "csv").stdout)))
    assert table[0][0] == heading and len(table) == 1 + 8  # one row per purpose
    md = lineage.ok(*base, "--format", "markdown").stdout
    assert "Nordlys Webshop ApS" in md and f"| {heading} |" in md
    page = lineage.ok(*base, "--format", "html").stdout
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "<script" not in page
    assert "http" not in page.split("<body>")[0]  # self-contained: nothing fetched
    out = tmp_path / "ropa.xlsx"
    lineage.ok(*base, "--format", "xlsx", "-o", str(out))
    from openpyxl import load_workbook

    ws = load_workbook(out).active
    assert ws is not None
    assert "Nordlys Webshop ApS" in str(ws["B2"].value)
    head_row = next(r for r in range(1, 20) if ws.cell(r, 1).value == heading)
    assert ws.freeze_panes == f"B{head_row + 1}"
    assert ws.cell(head_row + 1, 1).alignment.wrap_text
    assert ws.column_dimensions["A"].width >= 12
    assert ws.max_row == head_row + 8
    # Filters on the heading row, and a print setup a DPO can send to the printer.
    last = ws.cell(head_row, ws.max_column).column_letter
    assert ws.auto_filter.ref == f"A{head_row}:{last}{head_row + 8}"
    assert ws.print_title_rows == f"${head_row}:${head_row}"
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
    assert ws.title == ("Art. 30, stk. 1" if lang == "da" else "Art. 30(1)")
    if lang == "da":  # values in Danish too, not only the headings
        assert "legitimate_interests" not in md.split("| Behandlingsgrundlag (nøgle) |")[0]
        assert "Legitime interesser" in md and "databehandleraftale indgået" in md
        assert "DPA signed" not in md and " under " not in md and "E-mailadresse" in md


def test_xlsx_needs_output(lineage: Lineage) -> None:
    result = lineage(
        "ropa", "--catalog", str(EXAMPLES / "webshop" / "lineage.yaml"), "--format", "xlsx"
    )
    assert result.exit_code == 2 and "--output" in result.stderr


def test_transfer_validity_is_judged_on_each_moves_own_date(lineage: Lineage) -> None:
    """One subject sent under the DPF before it existed must not make the audit report every
    later, valid DPF transfer to the same recipient as invalid."""
    from tests.conftest import transferred

    catalog = str(EXAMPLES / "webshop" / "lineage.yaml")
    early = transferred("early@example.com", occurred_at="2023-03-01T00:00:00Z")
    later = [
        transferred(f"p{i}@example.com", occurred_at=f"2024-01-0{i + 1}T00:00:00Z")
        for i in range(3)
    ]
    lineage.ok(
        "emit",
        "--catalog",
        catalog,
        "--file",
        "-",
        input="\n".join(json.dumps(e) for e in [early, *later]),
    )
    _, found = findings(lineage, catalog)
    invalid = [f for f in found if f["rule"] == "transfer-invalid" and f["holder"] == "mailchimp"]
    assert len(invalid) == 1
    assert invalid[0]["message"].startswith("data of 1 subject(s) went to mailchimp")
    assert "dpf did not exist yet on 2023-03-01" in invalid[0]["message"]
