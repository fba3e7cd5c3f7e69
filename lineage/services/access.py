"""The Art. 15 access report and the Art. 19 recipients list, from the subject's events.

Every legal answer comes from who-has (the rulebook): holders, purposes, retention per holder
and per purpose (and per category when who-has reports it), transfer validity. This module
only selects and words it for the subject; with a catalog it adds the catalog's plain names,
the controller's identity, representative and DPO, and the supervisory authority of the
controller's establishment (``services.authorities``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from lineage.events.taxonomy import special_category
from lineage.projection.store import Store
from lineage.services import plain
from lineage.services.access_render import texts, to_html, to_markdown
from lineage.services.authorities import authority_for
from lineage.services.whohas import Subject, answer, subject
from lineage.timeutil import iso

if TYPE_CHECKING:
    from lineage.catalog.catalog import Catalog
    from lineage.catalog.model import Party

__all__ = ["access_report", "recipients", "to_html", "to_markdown"]

# The fields of a who-has retention entry that the report passes on unchanged.
_RETENTION_FIELDS = ("retain_until", "rule", "source", "open", "estimated", "catalog_purposes")


def recipients(
    store: Store, refs: list[str], at: datetime, catalog: Catalog | None = None
) -> dict[str, Any]:
    """Everyone the subject's data was disclosed to (Art. 19, last sentence): holders that
    are not our own systems, with what they received and whether they still hold it."""
    s = subject(store, refs, at, catalog)
    found = answer(s, refs[0])
    return {
        "subject": found["subject"],
        "as_of": found["as_of"],
        "recipients": _recipients(found, s, catalog),
    }


def _recipients(found: dict[str, Any], s: Subject, catalog: Catalog | None) -> list[dict[str, Any]]:
    erased_at = _erased_at(s)
    out = []
    for h in found["holders"]:
        if s.state.holdings[h["holder"]].own:
            continue
        declared = catalog.holders.get(h["holder"]) if catalog else None
        entry = {
            "recipient": h["holder"],
            "role": h["role"],
            "country": h["country"],
            "categories": h["categories"],
            "erased_categories": h["erased_categories"],
            "since": h["since"],
            "path": h["path"],
            "status": h["status"],
        }
        if declared is not None:
            entry.update(name=declared.name, description=declared.description)
        if h["status"] == "erased":
            entry["erased_at"] = erased_at.get(h["holder"])
        out.append(entry)
    return out


def _erased_at(s: Subject) -> dict[str, str | None]:
    """When each holder last erased data of the subject (the fold keeps when each category
    was erased)."""
    return {name: iso(max(h.erased.values())) for name, h in s.state.holdings.items() if h.erased}


def _party(p: Party | None) -> dict[str, Any] | None:
    return None if p is None else p.model_dump(exclude_none=True, exclude={"financial_year_end"})


def _catalog_purposes(
    catalog: Catalog | None, entry: dict[str, Any] | None, use: str, holder: str
) -> list[str]:
    """The catalog purposes behind one of who-has's purposes: those who-has matched for its
    retention, else the catalog's own lookup (an event that carried its own retention)."""
    if catalog is None:
        return []
    if entry and entry.get("catalog_purposes"):
        return list(entry["catalog_purposes"])
    return catalog.purposes_for(use, holder)


def _rule_text(catalog: Catalog | None, pids: list[str], lang: str) -> str | None:
    if catalog is None or not pids:
        return None
    return "; ".join(catalog.rules[pid].describe(lang) for pid in pids if pid in catalog.rules)


def _retention_entry(
    e: dict[str, Any], holder: str, catalog: Catalog | None, lang: str
) -> dict[str, Any]:
    out = {"holder": holder, "purpose": e["purpose"], "legal_basis": e["legal_basis"]}
    out.update({k: e[k] for k in _RETENTION_FIELDS if k in e})
    if text := _rule_text(catalog, list(e.get("catalog_purposes") or []), lang):
        out["rule_text"] = text
    return out


def _purposes(found: dict[str, Any], catalog: Catalog | None, lang: str) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str | None], dict[str, Any]] = {}
    for h in found["holders"]:
        reckoned = {(e["purpose"], e["legal_basis"]): e for e in h["retention"]}
        for p in h["purposes"]:
            key = (p["purpose"], p["legal_basis"])
            g = groups.setdefault(
                key,
                {
                    "purpose": p["purpose"],
                    "legal_basis": p["legal_basis"],
                    "legal_basis_text": plain.legal_basis(p["legal_basis"], lang),
                    "categories": set(),
                    "holders": [],
                    "retention": [],
                    "catalog_purposes": [],
                },
            )
            e = reckoned.get(key)
            g["categories"] |= set(e["categories"] if e else ())
            g["holders"].append(h["holder"])
            if e is not None:
                g["retention"].append(_retention_entry(e, h["holder"], catalog, lang))
            for pid in _catalog_purposes(catalog, e, p["purpose"], h["holder"]):
                if pid not in g["catalog_purposes"]:
                    g["catalog_purposes"].append(pid)
            if p.get("consent_withdrawn_at"):
                g["consent_withdrawn_at"] = p["consent_withdrawn_at"]
    return [_finish(g, catalog, lang) for g in groups.values()]


def _finish(g: dict[str, Any], catalog: Catalog | None, lang: str) -> dict[str, Any]:
    """Names from the catalog, and the purpose's date over its holders: who-has's dates, the
    latest of them, or open while one holder keeps it until consent is withdrawn."""
    g["categories"] = sorted(g["categories"])
    declared = [catalog.purposes[pid] for pid in g["catalog_purposes"]] if catalog else []
    g["name"] = " / ".join(d.name for d in declared) or plain.key_name(g["purpose"], catalog, lang)
    g["description"] = " ".join(d.description for d in declared if d.description) or None
    interests = [d.legitimate_interest for d in declared if d.legitimate_interest]
    if g["legal_basis"] == "legitimate_interests" and interests:
        g["legitimate_interest"] = "; ".join(interests)
    g["automated_decisions"] = (
        "; ".join(d.automated_decisions for d in declared if d.automated_decisions) or None
    )
    dates = [e["retain_until"] for e in g["retention"] if e.get("retain_until")]
    g["open"] = any(e.get("open") for e in g["retention"])
    g["estimated"] = any(e.get("estimated") for e in g["retention"])
    g["retain_until"] = None if g["open"] else max(dates, default=None)
    return g


def _retention(
    found: dict[str, Any], purposes: list[dict[str, Any]], catalog: Catalog | None, lang: str
) -> list[dict[str, Any]]:
    """Per holder, who-has's date and its reckoning per purpose (and per category, when
    who-has reports that grain)."""
    names = {p["purpose"]: p["name"] for p in purposes}
    out = []
    for h in found["holders"]:
        if not h["categories"]:
            continue
        entries = [_retention_entry(e, h["holder"], catalog, lang) for e in h["retention"]]
        for e in entries:
            e["name"] = names.get(e["purpose"], e["purpose"])
        item: dict[str, Any] = {
            "holder": h["holder"],
            "retain_until": h["retain_until"],
            "open": any(e.get("open") for e in entries),
            "purposes": entries,
        }
        item["categories"] = h["retention_by_category"]
        out.append(item)
    return out


def _transfers(
    found: dict[str, Any], s: Subject, lang: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Current transfers, and past ones: data since erased at that recipient is history,
    listed with its erasure date, not a current transfer to judge."""
    erased_at = _erased_at(s)
    current, past = [], []
    for h in found["holders"]:
        if not h["transfer"]:
            continue
        t = {
            "recipient": h["holder"],
            **h["transfer"],
            "mechanism_text": plain.mechanism(h["transfer"]["mechanism"], lang),
        }
        if h["transfer"]["current"]:
            current.append(t)
        else:
            for key in ("valid", "reason", "reason_code", "reason_parts", "current"):
                del t[key]
            past.append(
                {**t, "erased_at": erased_at.get(h["holder"]), "categories": h["erased_categories"]}
            )
    return current, past


def access_report(
    store: Store,
    refs: list[str],
    at: datetime,
    catalog: Catalog | None = None,
    lang: str = "en",
) -> dict[str, Any]:
    text = texts(lang)
    s = subject(store, refs, at, catalog)
    found = answer(s, refs[0])
    purposes = _purposes(found, catalog, lang)
    sources = s.state.collected_from
    categories = sorted({c for h in found["holders"] for c in h["categories"]})
    mentioned = set(categories) | {c for p in purposes for c in p["categories"]}
    current, past = _transfers(found, s, lang)
    doc = catalog.doc if catalog else None
    authority = authority_for(doc.controller.country, at.date()) if doc else None
    automated = [
        f"{p['name']}: {p['automated_decisions']}" for p in purposes if p["automated_decisions"]
    ]
    return {
        "subject": found["subject"],
        "generated_at": found["as_of"],
        "lang": lang,
        "controller": _party(doc.controller) if doc else None,
        "representative": _party(doc.representative) if doc else None,
        "dpo": _party(doc.dpo) if doc else None,
        "purposes": purposes,
        "categories": categories,
        "category_names": {c: plain.key_name(c, catalog, lang) for c in sorted(mentioned)},
        "special_categories": sorted(
            {c for h in found["holders"] for c in h["special_categories"]}
        ),
        "special_articles": {c: a for c in categories if (a := _special(catalog, c))},
        "recipients": _recipients(found, s, catalog),
        "retention": _retention(found, purposes, catalog, lang),
        "sources": [
            {"origin": origin, "systems": sorted(systems)} for origin, systems in sources.items()
        ],
        "transfers": current,
        "past_transfers": past,
        "automated_decisions": "; ".join(automated) if automated else text["no_automated"],
        "requests": found["requests"],
        "rights": text["rights"],
        "supervisory_authority": authority.to_json(lang) if authority else None,
        "complaint": _complaint(text, authority, doc.controller.name if doc else None, lang),
    }


def _special(catalog: Catalog | None, category: str) -> str | None:
    """Art. 9 or 10, for fideslang's special keys and the catalog's own (trade union)."""
    return catalog.special(category) if catalog else special_category(category)


def _complaint(text: dict[str, Any], authority: Any, controller: str | None, lang: str) -> str:
    """Art. 77: the subject may complain where they live or work or where the infringement
    happened; with a catalog, the authority of the controller's establishment is named too."""
    sentence = str(text["complaint"])
    if authority is None:
        return sentence
    named = str(text["authority"]).format(
        controller=controller,
        country=authority.country_name(lang),
        authority=authority.name(),
        website=authority.website,
    )
    note = authority.note(lang)
    return " ".join(s for s in (sentence, named, note) if s)
