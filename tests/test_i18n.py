"""Translations: one gettext catalog per language, read by Babel, used by templates."""

from __future__ import annotations

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


def test_templates_autoescape_and_translate(tmp_path: pytest.TempPathFactory) -> None:
    env = i18n.environment("da")
    out = env.from_string("<p>{{ _('Consent') }}: {{ text }}</p>").render(text="<b>x</b>")
    assert out == "<p>Samtykke: &lt;b&gt;x&lt;/b&gt;</p>"


def test_unknown_language_is_one_line() -> None:
    with pytest.raises(InputError, match="unknown language 'fr'"):
        i18n.check("fr")
