"""The catalog: loading, every bad-input path with file:line:column, the Fides import."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Lineage

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MINIMAL = """\
controller:
  name: Acme ApS
  country: DK
holders:
  shop-db: {role: own, country: DK}
  visma-hosting: {role: sub_processor, country: NO, dpa_signed: 2020-01-01}
  mailer:
    role: processor
    country: DK
    dpa_signed: 2020-01-01
    sub_processors: [visma-hosting]
purposes:
  newsletter:
    name: Newsletter
    data_use: marketing.communications.email
    legal_basis: consent
    data_subjects: [customer]
    categories: [user.contact.email]
    retention: until_consent_withdrawn
    systems: [shop-db]
    recipients: [mailer]
  orders:
    name: Orders
    data_use: essential.service
    legal_basis: contract
    data_subjects: [customer]
    categories: [user.name, user.contact.email]
    retention: {duration: P5Y, runs_from: end_of_financial_year}
    systems: [shop-db]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lineage.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["webshop", "intermail", "invokers"])
def test_examples_are_valid(lineage: Lineage, name: str) -> None:
    out = lineage.ok("catalog", "validate", str(EXAMPLES / name / "lineage.yaml")).stdout
    assert "valid" in out


def test_norway_stays_a_country(lineage: Lineage, tmp_path: Path) -> None:
    # YAML 1.1 would read the unquoted NO of visma-hosting as false.
    assert lineage("catalog", "validate", str(write(tmp_path, MINIMAL))).exit_code == 0


BAD = [
    ("broken YAML", MINIMAL.replace("  name: Acme ApS", "  name: [Acme"), r"YAML syntax"),
    (
        "unknown key",
        MINIMAL.replace(
            "    legal_basis: contract", "    legal_basis: contract\n    legal_bsis: x"
        ),
        r"unknown key 'legal_bsis'; did you mean 'legal_basis'\?",
    ),
    (
        "unknown taxonomy key",
        MINIMAL.replace("[user.contact.email]", "[user.contact.emial]"),
        r"unknown data category 'user.contact.emial'; did you mean 'user.contact.email'\?",
    ),
    (
        "bad duration",
        MINIMAL.replace("duration: P5Y", "duration: 5 years"),
        r"'5 years' is not an ISO 8601 duration",
    ),
    (
        "unknown holder",
        MINIMAL.replace("recipients: [mailer]", "recipients: [mailr]"),
        r"unknown holder 'mailr': did you mean 'mailer'\?",
    ),
    (
        "unknown retention start",
        MINIMAL.replace("end_of_financial_year", "end_of_year"),
        r"unknown retention start 'end_of_year'",
    ),
]


@pytest.mark.parametrize(("case", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_file_line_column(
    lineage: Lineage, tmp_path: Path, case: str, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    result = lineage("catalog", "validate", str(path))
    assert result.exit_code == 2, case
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    m = re.match(rf"^{re.escape(str(path))}:(\d+):(\d+): (.*)$", lines[0])
    assert m, lines[0]
    line, col = int(m[1]), int(m[2])
    # The position points at the offending text.
    source = text.splitlines()[line - 1]
    assert source[col - 1 :].strip(), (line, col, source)
    assert re.search(message, m[3]), m[3]
    # Any command that needs the catalog fails the same way, with nothing exported.
    out = tmp_path / "ropa.csv"
    run = lineage("ropa", "--catalog", str(path), "--format", "csv", "-o", str(out))
    assert run.exit_code == 2 and f"{path}:{line}:{col}" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_unknown_key_points_at_the_key(lineage: Lineage, tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "  shop-db: {role: own, country: DK}", "  shop-db: {role: own, cuntry: DK}"
    )
    result = lineage("catalog", "validate", str(write(tmp_path, text)))
    line = text.splitlines().index("  shop-db: {role: own, cuntry: DK}") + 1
    col = "  shop-db: {role: own, cuntry: DK}".index("cuntry") + 1
    assert f":{line}:{col}: holders.shop-db: unknown key 'cuntry'" in result.stderr


def test_every_problem_is_listed(lineage: Lineage, tmp_path: Path) -> None:
    text = (
        MINIMAL.replace("legal_basis: consent", "legal_basis: consnet")
        .replace("recipients: [mailer]", "recipients: [nobody]")
        .replace("runs_from: end_of_financial_year", "runs_from: whenever")
    )
    result = lineage("catalog", "validate", str(write(tmp_path, text)), "--format", "json")
    assert result.exit_code == 2
    import json

    problems = json.loads(result.stdout)["problems"]
    assert len(problems) == 3
    assert [p["line"] for p in problems] == sorted(p["line"] for p in problems)


def test_custom_category_is_accepted_and_special(lineage: Lineage, tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "holders:",
        "taxonomy:\n  categories:\n    - {key: user.trade_union, special: art9}\nholders:",
    ).replace("categories: [user.name, user.contact.email]", "categories: [user.trade_union]")
    from lineage.catalog.loader import load_catalog

    catalog = load_catalog(write(tmp_path, text))
    assert catalog.special("user.trade_union") == "art9"
    assert catalog.special("user.name") is None
    bad = text.replace("special: art9", "special: art99")
    assert (
        "special must be art9 or art10"
        in lineage("catalog", "validate", str(write(tmp_path, bad))).stderr
    )


def test_fides_import_gives_a_valid_catalog(lineage: Lineage, tmp_path: Path) -> None:
    out = tmp_path / "imported.yaml"
    manifest = Path(__file__).parent / "data" / "fides-manifest.yml"
    lineage.ok("catalog", "import-fides", str(manifest), "-o", str(out))
    lineage.ok("catalog", "validate", str(out))
    from lineage.catalog.loader import load_catalog

    catalog = load_catalog(out)
    assert catalog.doc.controller.name == "Demo Org ApS"
    orders = catalog.purposes["checkout-process-orders"]
    assert orders.legal_basis == "contract"
    assert str(catalog.rules["checkout-process-orders"]) == "P30D from collection"
    health = catalog.purposes["checkout-health-questionnaire"]
    assert health.art9_condition == "explicit_consent"
    # Two declarations and a flow that names neither: it is listed, not copied onto both.
    assert orders.recipients == [] and health.recipients == []
    text = out.read_text()
    assert "system checkout: egress: the flow to 'payments_vendor' names no purpose" in text
    assert "'Health questionnaire': retention_period: none given" in text


def test_fides_import_broken_yaml(lineage: Lineage, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("system:\n  - fides_key: [x\n")
    result = lineage("catalog", "import-fides", str(bad))
    assert result.exit_code == 2 and re.search(
        rf"{re.escape(str(bad))}:\d+:\d+: YAML", result.stderr
    )
