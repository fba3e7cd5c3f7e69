"""Plain words for the data subject (Art. 12(1): concise, intelligible, clear and plain
language), in English and Danish: legal bases, recipient roles, transfer tools, and the names
of taxonomy keys (the catalog's own names first, then fideslang's)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from lineage.i18n import N_, gettext

if TYPE_CHECKING:
    from lineage.catalog.catalog import Catalog


# Art. 6(1)(a)-(f), cited as the legal texts cite them (the Danish catalog cites Danish style).
LEGAL_BASES: dict[str, str] = {
    "consent": N_("your consent (Art. 6(1)(a))"),
    "contract": N_("a contract with you, or steps you asked for before one (Art. 6(1)(b))"),
    "legal_obligation": N_("a legal obligation (Art. 6(1)(c))"),
    "vital_interests": N_("vital interests (Art. 6(1)(d))"),
    "public_task": N_("a task in the public interest or official authority (Art. 6(1)(e))"),
    "legitimate_interests": N_("legitimate interests (Art. 6(1)(f))"),
}

# The bases' short names, for records kept by the company (Art. 30) rather than told to the
# subject.
BASIS_NAMES: dict[str, str] = {
    "consent": N_("Consent"),
    "contract": N_("Contract"),
    "legal_obligation": N_("Legal obligation"),
    "vital_interests": N_("Vital interests"),
    "public_task": N_("Public task"),
    "legitimate_interests": N_("Legitimate interests"),
}

ROLES: dict[str, str] = {
    "controller": N_("independent controller"),
    "joint_controller": N_("joint controller (Art. 26)"),
    "processor": N_("processor, acting on our behalf"),
    "sub_processor": N_("sub-processor, acting on our behalf"),
    "public_authority": N_("public authority"),
}

MECHANISMS: dict[str, str] = {
    "adequacy": N_("an adequacy decision (Art. 45)"),
    "dpf": N_("the EU-US Data Privacy Framework (Art. 45)"),
    "scc": N_("standard contractual clauses (Art. 46)"),
    "scc_2010": N_("the old standard contractual clauses of 2001/2010"),
    "bcr": N_("binding corporate rules (Art. 47)"),
    "derogation": N_("a derogation for a specific situation (Art. 49)"),
    "privacy_shield": N_("the EU-US Privacy Shield"),
    "safe_harbour": N_("the EU-US Safe Harbour"),
    "none": N_("no transfer tool"),
}

STATUSES: dict[str, str] = {
    "held": N_("held"),
    "overdue": N_("past retention"),
    "erased": N_("erased"),
    "erasure_pending": N_("erasure pending"),
    "retained": N_("retained under a legal obligation"),
    "restricted": N_("restricted"),
}


# Words of rights requests (``rules.requests``): their kinds, the tasks' actions and
# statuses, and the requests' statuses.
REQUEST_KINDS: dict[str, str] = {
    "erasure": N_("erasure"),
    "rectification": N_("rectification"),
    "restriction": N_("restriction"),
    "withdrawal": N_("withdrawal"),
}

ACTIONS: dict[str, str] = {
    "erase": N_("erase"),
    "retain": N_("retain"),
    "notify": N_("notify"),
}

TASK_STATUSES: dict[str, str] = {
    "planned": N_("planned"),
    "sending": N_("sending"),
    "notified": N_("notified"),
    "confirmed": N_("confirmed"),
    "refused": N_("refused"),
    "failed": N_("failed"),
    "retained": N_("retained"),
}

REQUEST_STATUSES: dict[str, str] = {
    "open": N_("open"),
    "overdue": N_("overdue"),
    "retained": N_("retained"),
    "completed": N_("completed"),
}

# The audit's severities.
SEVERITIES: dict[str, str] = {
    "error": N_("error"),
    "warning": N_("warning"),
    "info": N_("info"),
}


def _pick(table: dict[str, str], key: str | None, lang: str) -> str:
    if key is None:
        return "?"
    words = table.get(key)
    return gettext(lang)(words) if words else key


def legal_basis(key: str | None, lang: str = "en") -> str:
    return _pick(LEGAL_BASES, key, lang)


def basis_name(key: str | None, lang: str = "en") -> str:
    return _pick(BASIS_NAMES, key, lang)


def role(key: str | None, lang: str = "en") -> str:
    return _pick(ROLES, key, lang)


def mechanism(key: str | None, lang: str = "en") -> str:
    return _pick(MECHANISMS, key, lang)


def status(key: str | None, lang: str = "en") -> str:
    return _pick(STATUSES, key, lang)


def request_kind(key: str | None, lang: str = "en") -> str:
    return _pick(REQUEST_KINDS, key, lang)


def action(key: str | None, lang: str = "en") -> str:
    return _pick(ACTIONS, key, lang)


def task_status(key: str | None, lang: str = "en") -> str:
    return _pick(TASK_STATUSES, key, lang)


def request_status(key: str | None, lang: str = "en") -> str:
    return _pick(REQUEST_STATUSES, key, lang)


def severity(key: str | None, lang: str = "en") -> str:
    return _pick(SEVERITIES, key, lang)


@cache
def _fideslang_names() -> dict[str, str]:
    """fideslang's names of its categories and data uses, from a copy bundled with lineage
    (``lineage/data/fideslang_names.csv``; a test keeps it equal to the installed fideslang):
    a table command need not import fideslang's models to name a key."""
    import csv

    from lineage.resources import data_file

    with open(data_file("fideslang_names.csv"), newline="", encoding="utf-8") as fh:
        return {row["key"]: row["name"] for row in csv.DictReader(fh)}


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


def text(parts: Any, lang: str = "en", fallback: str | None = None) -> str:
    """A text the rules produced (``rules.reasons``: parts, or their JSON) in ``lang``;
    ``fallback`` (the English that JSON carries) when there are no parts to render."""
    from lineage.rules.reasons import TEMPLATES, Reason, from_json

    items = tuple(parts or ())
    if items and not isinstance(items[0], Reason):
        items = from_json(items)
    if not items:
        return fallback or ""
    _ = gettext(lang)
    return "; ".join(p.render(_(TEMPLATES[p.code]), lang) for p in items)
