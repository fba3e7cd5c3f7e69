"""The Art. 15 access report and the Art. 19 recipients list, from the subject's events."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from lineage.catalog.catalog import Catalog
from lineage.projection.store import Store
from lineage.services import whohas

RIGHTS = [
    "access to your data and this information (Art. 15)",
    "rectification of inaccurate data (Art. 16)",
    "erasure (Art. 17)",
    "restriction of processing (Art. 18)",
    "data portability (Art. 20)",
    "objection, including to direct marketing (Art. 21)",
    "withdrawal of consent at any time, without affecting earlier processing (Art. 7(3))",
]
COMPLAINT = (
    "You may lodge a complaint with a supervisory authority, in particular in the EU/EEA "
    "state of your habitual residence, place of work or of the alleged infringement "
    "(Art. 77); in Denmark: Datatilsynet, www.datatilsynet.dk."
)
AUTOMATED = (
    "No automated decision-making, including profiling, is recorded for you "
    "(Art. 15(1)(h), Art. 22)."
)


def recipients(store: Store, refs: list[str], at: datetime) -> dict[str, Any]:
    """Everyone the subject's data was disclosed to (Art. 19, last sentence): holders that
    are not our own systems, with what they received and whether they still hold it."""
    s = whohas.subject(store, refs, at)
    found = whohas.answer(s, refs[0])
    out = [
        {
            "recipient": h["holder"],
            "role": h["role"],
            "country": h["country"],
            "categories": h["categories"],
            "erased_categories": h["erased_categories"],
            "since": h["since"],
            "path": h["path"],
            "status": h["status"],
        }
        for h in found["holders"]
        if not s.state.holdings[h["holder"]].own
    ]
    return {"subject": found["subject"], "as_of": found["as_of"], "recipients": out}


def access_report(
    store: Store, refs: list[str], at: datetime, catalog: Catalog | None = None
) -> dict[str, Any]:
    s = whohas.subject(store, refs, at, catalog)
    answer = whohas.answer(s, refs[0])
    purposes: dict[tuple[str, str | None], dict[str, Any]] = {}
    for h in answer["holders"]:
        for p in h["retention"]:
            key = (p["purpose"], p["legal_basis"])
            entry = purposes.setdefault(
                key,
                {
                    "purpose": p["purpose"],
                    "legal_basis": p["legal_basis"],
                    "categories": set(),
                    "holders": [],
                    "retain_until": None,
                },
            )
            entry["categories"] |= set(p["categories"])
            entry["holders"].append(h["holder"])
            until = p["retain_until"]
            if until and (entry["retain_until"] is None or until > entry["retain_until"]):
                entry["retain_until"] = until
        for p in h["purposes"]:
            if p.get("consent_withdrawn_at"):
                purposes[(p["purpose"], p["legal_basis"])]["consent_withdrawn_at"] = p[
                    "consent_withdrawn_at"
                ]
    sources = s.state.collected_from
    categories = sorted({c for h in answer["holders"] for c in h["categories"]})
    return {
        "subject": answer["subject"],
        "generated_at": answer["as_of"],
        "purposes": [{**p, "categories": sorted(p["categories"])} for p in purposes.values()],
        "categories": categories,
        "special_categories": sorted(
            {c for h in answer["holders"] for c in h["special_categories"]}
        ),
        "recipients": recipients(store, refs, at)["recipients"],
        "retention": [
            {"holder": h["holder"], "retain_until": h["retain_until"]}
            for h in answer["holders"]
            if h["categories"]
        ],
        "sources": [
            {"origin": origin, "systems": sorted(systems)} for origin, systems in sources.items()
        ],
        "transfers": [
            {"recipient": h["holder"], **h["transfer"]} for h in answer["holders"] if h["transfer"]
        ],
        "automated_decisions": AUTOMATED,
        "requests": answer["requests"],
        "rights": RIGHTS,
        "complaint": COMPLAINT,
    }


def _md_list(items: list[str]) -> str:
    return "\n".join(f"- {i}" for i in items) or "- none"


def to_markdown(rep: dict[str, Any]) -> str:
    parts = [
        "# Your personal data (Art. 15 GDPR)",
        f"Subject reference `{rep['subject']}`, as of {rep['generated_at']}.",
        "## Purposes and legal bases",
        _md_list(
            [
                f"{p['purpose']} ({p['legal_basis']}): {', '.join(p['categories'])}"
                + (f"; kept until {p['retain_until']}" if p["retain_until"] else "")
                for p in rep["purposes"]
            ]
        ),
        "## Categories of data",
        _md_list(rep["categories"]),
        "## Recipients",
        _md_list(
            [
                f"{x['recipient']} ({x['role']}, {x['country'] or '?'}): "
                f"{', '.join(x['categories']) or 'erased'}"
                for x in rep["recipients"]
            ]
        ),
        "## Retention",
        _md_list(
            [f"{x['holder']}: {x['retain_until'] or 'not recorded'}" for x in rep["retention"]]
        ),
        "## Source",
        _md_list([f"{s['origin']}: {', '.join(s['systems'])}" for s in rep["sources"]]),
        "## Transfers outside the EEA",
        _md_list(
            [
                f"{t['recipient']} in {t['country']} under {t['mechanism']} "
                f"({'valid' if t['valid'] else 'NOT valid'}: {t['reason']})"
                for t in rep["transfers"]
            ]
        ),
        "## Automated decisions",
        rep["automated_decisions"],
        "## Your rights",
        _md_list(rep["rights"]),
        rep["complaint"],
    ]
    return "\n\n".join(parts) + "\n"


def to_html(rep: dict[str, Any]) -> str:
    """The Markdown report as a standalone HTML page (headings, lists, paragraphs)."""
    body: list[str] = []
    in_list = False
    for line in to_markdown(rep).splitlines():
        text = html.escape(line)
        if line.startswith("- "):
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{text[2:]}</li>")
            continue
        if in_list:
            body.append("</ul>")
            in_list = False
        if line.startswith("## "):
            body.append(f"<h2>{text[3:]}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{text[2:]}</h1>")
        elif line.strip():
            body.append(f"<p>{text.replace('`', '')}</p>")
    if in_list:
        body.append("</ul>")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Your personal data</title></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
