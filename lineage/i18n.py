"""Translations for every text lineage shows people: the web UI, the documents (access report,
Art. 30 records), e-mails to recipients and the CLI's human output.

The source language is English; other languages are gettext catalogs under
``lineage/locale/<lang>/LC_MESSAGES/lineage.po``, read with Babel at first use (no compile
step, so an edited catalog takes effect at once). Templates under ``lineage/templates/`` are
rendered by Jinja2 with autoescaping and the i18n extension (``{% trans %}``, ``_()``).

To find new messages: ``pybabel extract -F babel.cfg -o lineage.pot .`` then
``pybabel update -i lineage.pot -d lineage/locale -D lineage``. Mark messages with ``_``/
``N_`` (``NP_`` for a plural) on a literal outside f-strings, or the extraction misses them;
``tests/test_i18n.py`` extracts the same way and fails on any message without its Danish.
"""

from __future__ import annotations

import gettext as _gettext
import io
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from lineage.errors import InputError
from lineage.resources import package_dir

__all__ = [
    "LANGUAGES",
    "NP_",
    "N_",
    "check",
    "environment",
    "gettext",
    "ngettext",
    "package_dir",
    "render",
    "translations",
]

if TYPE_CHECKING:
    import jinja2

LANGUAGES = ("en", "da")
DOMAIN = "lineage"


def N_(text: str) -> str:
    """Marks a message for the catalog (``pybabel extract`` finds it); it is translated where
    it is shown, in that reader's language."""
    return text


def NP_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a message with a plural (``babel.cfg`` names ``NP_`` as a keyword); ``ngettext``
    picks the form where it is shown."""
    return singular, plural


def check(lang: str) -> str:
    if lang not in LANGUAGES:
        raise InputError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    return lang


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The catalog of ``lang`` (English: the messages as written)."""
    check(lang)
    path = package_dir() / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == "en" or not path.exists():
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def gettext(lang: str) -> Callable[[str], str]:
    return translations(lang).gettext


def ngettext(lang: str) -> Callable[[str, str, int], str]:
    return translations(lang).ngettext


@cache
def environment(lang: str) -> jinja2.Environment:
    """Templates in ``lang``: autoescaped HTML (and text, for templates ending ``.txt``)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lineage", "templates"),
        autoescape=jinja2.select_autoescape(("html", "xml")),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals["lang"] = lang
    return env


def render(template: str, lang: str, **context: Any) -> str:
    return environment(check(lang)).get_template(template).render(**context)
