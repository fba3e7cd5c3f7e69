"""Plain words for the data subject (Art. 12(1): concise, intelligible, clear and plain
language), in English and Danish: legal bases, recipient roles, transfer tools, and the names
of taxonomy keys (the catalog's own names first, then fideslang's)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from lineage.i18n import gettext

if TYPE_CHECKING:
    from lineage.catalog.catalog import Catalog

LANGS = ("en", "da")

# Art. 6(1)(a)-(f), cited as each language's legal texts cite them.
LEGAL_BASES: dict[str, tuple[str, str]] = {
    "consent": ("your consent (Art. 6(1)(a))", "dit samtykke (art. 6, stk. 1, litra a)"),
    "contract": (
        "a contract with you, or steps you asked for before one (Art. 6(1)(b))",
        "en kontrakt med dig, eller skridt før en kontrakt på din anmodning "
        "(art. 6, stk. 1, litra b)",
    ),
    "legal_obligation": (
        "a legal obligation (Art. 6(1)(c))",
        "en retlig forpligtelse (art. 6, stk. 1, litra c)",
    ),
    "vital_interests": (
        "vital interests (Art. 6(1)(d))",
        "vitale interesser (art. 6, stk. 1, litra d)",
    ),
    "public_task": (
        "a task in the public interest or official authority (Art. 6(1)(e))",
        "en opgave i samfundets interesse eller offentlig myndighedsudøvelse "
        "(art. 6, stk. 1, litra e)",
    ),
    "legitimate_interests": (
        "legitimate interests (Art. 6(1)(f))",
        "legitim interesse (art. 6, stk. 1, litra f)",
    ),
}

ROLES: dict[str, tuple[str, str]] = {
    "controller": ("independent controller", "selvstændig dataansvarlig"),
    "joint_controller": ("joint controller (Art. 26)", "fælles dataansvarlig (art. 26)"),
    "processor": ("processor, acting on our behalf", "databehandler, på vores vegne"),
    "sub_processor": ("sub-processor, acting on our behalf", "underdatabehandler, på vores vegne"),
    "public_authority": ("public authority", "offentlig myndighed"),
}

MECHANISMS: dict[str, tuple[str, str]] = {
    "adequacy": ("an adequacy decision (Art. 45)", "en tilstrækkelighedsafgørelse (art. 45)"),
    "dpf": (
        "the EU-US Data Privacy Framework (Art. 45)",
        "EU-US Data Privacy Framework (art. 45)",
    ),
    "scc": ("standard contractual clauses (Art. 46)", "standardkontraktbestemmelser (art. 46)"),
    "scc_2010": (
        "the old standard contractual clauses of 2001/2010",
        "de gamle standardkontraktbestemmelser fra 2001/2010",
    ),
    "bcr": ("binding corporate rules (Art. 47)", "bindende virksomhedsregler (art. 47)"),
    "derogation": (
        "a derogation for a specific situation (Art. 49)",
        "en undtagelse i en specifik situation (art. 49)",
    ),
    "privacy_shield": ("the EU-US Privacy Shield", "EU-US Privacy Shield"),
    "safe_harbour": ("the EU-US Safe Harbour", "EU-US Safe Harbour"),
    "none": ("no transfer tool", "intet overførselsgrundlag"),
}


def _pick(table: dict[str, tuple[str, str]], key: str | None, lang: str) -> str:
    if key is None:
        return "?"
    words = table.get(key)
    return words[LANGS.index(lang)] if words else key


def legal_basis(key: str | None, lang: str = "en") -> str:
    return _pick(LEGAL_BASES, key, lang)


def role(key: str | None, lang: str = "en") -> str:
    return _pick(ROLES, key, lang)


def mechanism(key: str | None, lang: str = "en") -> str:
    return _pick(MECHANISMS, key, lang)


@cache
def _fideslang_names() -> dict[str, str]:
    from fideslang import DEFAULT_TAXONOMY

    items = [*DEFAULT_TAXONOMY.data_category, *DEFAULT_TAXONOMY.data_use]
    return {item.fides_key: item.name for item in items if item.name}


def key_name(key: str, catalog: Catalog | None = None, lang: str = "en") -> str:
    """A category's or data use's name: the catalog's for its custom keys, else fideslang's
    (translated where the catalog has it), else the key itself."""
    if catalog is not None:
        tax = catalog.doc.taxonomy
        for custom in (*tax.categories, *tax.uses):
            if custom.key == key and custom.name:
                return custom.name
    name = _fideslang_names().get(key)
    return gettext(lang)(name) if name else key
