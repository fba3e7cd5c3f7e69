"""Translations: one gettext catalog per language, read by Babel, used by templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from lineage import i18n
from lineage.errors import InputError


def test_danish_catalog_translates_and_english_is_the_source() -> None:
    assert i18n.gettext("da")("Legal obligation") == "Retlig forpligtelse"
    assert i18n.gettext("en")("Legal obligation") == "Legal obligation"
    assert i18n.ngettext("da")("one subject", "%(num)d subjects", 3) % {"num": 3} == (
        "3 registrerede"
    )


def test_every_danish_message_is_translated() -> None:
    from babel.messages.pofile import read_po

    path = i18n.package_dir() / "locale" / "da" / "LC_MESSAGES" / "lineage.po"
    with path.open("rb") as fh:
        catalog = read_po(fh)
    missing = [m.id for m in catalog if m.id and not (m.string if isinstance(m.string, str)
                                                      else all(m.string))]  # fmt: skip
    assert missing == []


def test_no_message_is_defined_twice() -> None:
    # Babel keeps the last of two definitions without a word; gettext's msgfmt refuses the
    # file, and two translations of one text could silently disagree.
    import ast
    from collections import Counter

    path = i18n.package_dir() / "locale" / "da" / "LC_MESSAGES" / "lineage.po"
    keys: Counter[tuple[str, str]] = Counter()
    for entry in path.read_text(encoding="utf-8").split("\n\n"):
        text: dict[str, str] = {}
        field = ""
        for line in entry.splitlines():
            if line.startswith('"') and field:
                text[field] += ast.literal_eval(line)
            elif line.startswith(("msgctxt ", "msgid ")):
                field, _, quoted = line.partition(" ")
                text[field] = ast.literal_eval(quoted)
            else:
                field = ""
        if text.get("msgid"):
            keys[(text.get("msgctxt", ""), text["msgid"])] += 1
    twice = sorted(k for k, n in keys.items() if n > 1)
    assert len(keys) > 100 and not twice, twice


def test_templates_autoescape_and_translate(tmp_path: pytest.TempPathFactory) -> None:
    env = i18n.environment("da")
    out = env.from_string("<p>{{ _('Consent') }}: {{ text }}</p>").render(text="<b>x</b>")
    assert out == "<p>Samtykke: &lt;b&gt;x&lt;/b&gt;</p>"


def test_unknown_language_is_one_line() -> None:
    with pytest.raises(InputError, match="unknown language 'fr'"):
        i18n.check("fr")


def _extracted() -> set[str | tuple[str, ...]]:
    """Every message ``pybabel extract -F babel.cfg`` finds in the code and templates."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    root = Path(__file__).resolve().parent.parent
    with (root / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(root), method_map, options_map
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_every_message_in_code_and_templates_has_a_danish_translation() -> None:
    """A new message for people fails here until lineage/locale/da has its Danish."""
    from babel.messages.pofile import read_po

    path = i18n.package_dir() / "locale" / "da" / "LC_MESSAGES" / "lineage.po"
    with path.open("rb") as fh:
        catalog = read_po(fh)
    translated = {
        m.id if isinstance(m.id, str) else tuple(m.id)
        for m in catalog
        if m.id and (m.string if isinstance(m.string, str) else all(m.string))
    }
    extracted = _extracted()
    # Sanity: the extraction sees Python (rules, CLI), plural markers and templates.
    assert "%(mechanism)s was invalidated on %(date)s" in extracted
    assert ("%(num)d error", "%(num)d errors") in extracted
    assert "Whose data do we hold?" in extracted
    assert sorted(map(str, extracted - translated)) == []


def test_every_rule_text_renders_in_danish() -> None:
    """Each code of ``rules.reasons`` renders in Danish with its parameters filled."""
    import re

    from lineage.rules.reasons import TEMPLATES, Reason
    from lineage.services import plain

    for code, english in TEMPLATES.items():
        params = {name: f"<{name}>" for name in re.findall(r"%\((\w+)\)s", english)}
        danish = plain.text((Reason(code, params),), "da")
        assert all(v in danish for v in params.values()), code
        if english != "%(source)s":
            assert danish != english % params, f"{code} is not translated"


def test_the_bundled_fideslang_names_are_the_library_s() -> None:
    """Tables name categories and data uses from a bundled copy (no fideslang import at
    start); it must say what the installed fideslang says. ``REGENERATE_GOLDEN=1`` rewrites
    it after a fideslang upgrade."""
    import csv
    import io
    import os

    from fideslang import DEFAULT_TAXONOMY

    from lineage.resources import data_file

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["kind", "key", "name"])
    for kind, items in (("category", DEFAULT_TAXONOMY.data_category),
                        ("use", DEFAULT_TAXONOMY.data_use)):  # fmt: skip
        writer.writerows((kind, i.fides_key, i.name) for i in items if i.name)
    path = data_file("fideslang_names.csv")
    if os.environ.get("REGENERATE_GOLDEN") == "1":
        path.write_text(buf.getvalue(), encoding="utf-8")
    assert path.read_text(encoding="utf-8") == buf.getvalue()
