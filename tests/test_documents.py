"""The documents for people, rendered from their templates in both languages and compared
with golden files: the access report (Art. 15) of a generated company and the webshop's
Art. 30 record. ``REGENERATE_GOLDEN=1`` rewrites the files (review the diff)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lineage.catalog.loader import load_catalog
from lineage.services.ropa import build
from lineage.services.ropa_export import render
from tests.conftest import Lineage
from tests.test_access import AS_OF, JANE, catalog_for, shop

GOLDEN = Path(__file__).resolve().parent / "golden" / "documents"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# Read before the autouse fixture clears LINEAGE_* variables; not one of lineage's settings.
REGENERATE = os.environ.get("REGENERATE_GOLDEN") == "1"


def same_as_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        path.write_text(text)
    assert path.exists(), f"no golden {name}: run with REGENERATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} differs from its golden file"


@pytest.mark.parametrize("lang", ["en", "da"])
def test_access_report(lineage: Lineage, tmp_path: Path, lang: str) -> None:
    shop(lineage)
    base = ["access", JANE, "--as-of", AS_OF, "--catalog", catalog_for(tmp_path, "DK")]
    md = lineage.ok(*base, "--lang", lang, "--format", "md").stdout
    page = lineage.ok(*base, "--lang", lang, "--format", "html").stdout
    same_as_golden(f"access-{lang}.md", md)
    same_as_golden(f"access-{lang}.html", page)
    assert "@media print" in page and "<script" not in page
    assert "dpo@acme.example" in md  # the DPO's contact
    assert "marketing.communications.email" not in md and "legitimate_interests" not in md
    if lang == "da":
        assert "E-mailadresse" in md and "dit samtykke" in md and "databehandler" in md


@pytest.mark.parametrize("lang", ["en", "da"])
def test_ropa(lang: str) -> None:
    catalog = load_catalog(EXAMPLES / "webshop" / "lineage.yaml")
    records = build(catalog, None, datetime(2025, 1, 1, tzinfo=UTC), lang)
    records.header["catalog"] = "examples/webshop/lineage.yaml"  # not this machine's path
    md = render(records, "markdown", lang).decode()
    page = render(records, "html", lang).decode()
    same_as_golden(f"ropa-{lang}.md", md)
    same_as_golden(f"ropa-{lang}.html", page)
    assert "@media print" in page and "max-width: 1100px" in page


def test_templates_escape_what_the_catalog_says(tmp_path: Path) -> None:
    text = (EXAMPLES / "webshop" / "lineage.yaml").read_text()
    path = tmp_path / "lineage.yaml"
    path.write_text(text.replace("Nordlys Webshop ApS", "<script>alert(1)</script> ApS"))
    records = build(load_catalog(path), None, datetime(2025, 1, 1, tzinfo=UTC), "en")
    page = render(records, "html", "en").decode()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; ApS" in page


def test_every_marked_message_has_a_danish_translation() -> None:
    """What the code and the templates mark for translation is in the Danish catalog (a
    message added without one would show in English on a Danish page)."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parent.parent
    method_map = [
        ("lineage/**.py", "python"),
        ("lineage/templates/**.html", "jinja2"),
        ("lineage/templates/**.md", "jinja2"),
    ]
    marked = {
        msg if isinstance(msg, str) else msg[0]
        for _file, _line, msg, _comments, _context in extract_from_dir(
            root, method_map, options_map={"**.html": {}, "**.md": {}}
        )
    }
    path = root / "lineage" / "locale" / "da" / "LC_MESSAGES" / "lineage.po"
    with path.open("rb") as fh:
        danish = read_po(fh)
    assert sorted(m for m in marked if m not in danish) == []
