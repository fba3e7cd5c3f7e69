"""The Art. 15 report for the subject: Markdown and HTML, in English or Danish.

The fixed sentences are here per language; what varies (names, dates, rules) comes from the
report built by ``services.access``.
"""

from __future__ import annotations

import html
from typing import Any

from lineage.services import plain

TEXTS: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Your personal data (Art. 15 GDPR)",
        "subject": "Subject reference `{subject}`, as of {date}.",
        "controller": "Who is responsible for your data",
        "representative": "Representative in the EU (Art. 27)",
        "dpo": "Data protection officer (Art. 37)",
        "purposes": "Purposes and legal bases",
        "categories": "Categories of data",
        "recipients": "Recipients",
        "retention": "How long your data is kept",
        "source": "Where your data came from",
        "transfers": "Transfers outside the EEA",
        "past_transfers": "Earlier transfers outside the EEA (data since erased there)",
        "automated": "Automated decisions",
        "your_rights": "Your rights",
        "complaints": "Complaints",
        "none": "none",
        "basis": "legal basis: {basis}",
        "interest": "our legitimate interest: {interest}",
        "data": "data: {categories}",
        "until": "until {date}",
        "estimated": "estimated",
        "until_withdrawn": "until you withdraw your consent",
        "not_recorded": "not recorded",
        "withdrawn": "you withdrew your consent on {date}",
        "special": "special category (Art. {article})",
        "erased_on": "erased on {date}",
        "erased": "erased",
        "in_country": "{recipient} in {country} under {mechanism}",
        "valid": "valid",
        "not_valid": "not valid",
        "origin": {"data_subject": "from you", "third_party": "from a third party"},
        "no_automated": (
            "No automated decision-making, including profiling, is recorded for you "
            "(Art. 15(1)(h), Art. 22)."
        ),
        "rights": [
            "access to your data and this information (Art. 15)",
            "rectification of inaccurate data (Art. 16)",
            "erasure (Art. 17)",
            "restriction of processing (Art. 18)",
            "data portability (Art. 20)",
            "objection, including to direct marketing (Art. 21)",
            "withdrawal of consent at any time, without affecting earlier processing (Art. 7(3))",
        ],
        "complaint": (
            "You may lodge a complaint with a supervisory authority, in particular in the "
            "EU/EEA member state where you live, where you work or where the alleged "
            "infringement took place (Art. 77)."
        ),
        "authority": (
            "{controller} is established in {country}; the supervisory authority there is "
            "{authority}, {website}."
        ),
    },
    "da": {
        "title": "Dine personoplysninger (databeskyttelsesforordningens art. 15)",
        "subject": "Reference for den registrerede `{subject}`, pr. {date}.",
        "controller": "Hvem er ansvarlig for dine oplysninger",
        "representative": "Repræsentant i EU (art. 27)",
        "dpo": "Databeskyttelsesrådgiver (art. 37)",
        "purposes": "Formål og behandlingsgrundlag",
        "categories": "Kategorier af oplysninger",
        "recipients": "Modtagere",
        "retention": "Hvor længe dine oplysninger opbevares",
        "source": "Hvor dine oplysninger kommer fra",
        "transfers": "Overførsler til lande uden for EØS",
        "past_transfers": "Tidligere overførsler uden for EØS (oplysningerne er siden slettet dér)",
        "automated": "Automatiske afgørelser",
        "your_rights": "Dine rettigheder",
        "complaints": "Klage",
        "none": "ingen",
        "basis": "behandlingsgrundlag: {basis}",
        "interest": "vores legitime interesse: {interest}",
        "data": "oplysninger: {categories}",
        "until": "indtil {date}",
        "estimated": "anslået",
        "until_withdrawn": "indtil du trækker dit samtykke tilbage",
        "not_recorded": "ikke registreret",
        "withdrawn": "du trak dit samtykke tilbage den {date}",
        "special": "følsom oplysning (art. {article})",
        "erased_on": "slettet den {date}",
        "erased": "slettet",
        "in_country": "{recipient} i {country} på grundlag af {mechanism}",
        "valid": "gyldigt",
        "not_valid": "ikke gyldigt",
        "origin": {"data_subject": "fra dig", "third_party": "fra tredjemand"},
        "no_automated": (
            "Der er ikke registreret automatiske afgørelser, herunder profilering, om dig "
            "(art. 15, stk. 1, litra h, og art. 22)."
        ),
        "rights": [
            "indsigt i dine oplysninger og i disse informationer (art. 15)",
            "berigtigelse af urigtige oplysninger (art. 16)",
            "sletning (art. 17)",
            "begrænsning af behandlingen (art. 18)",
            "dataportabilitet (art. 20)",
            "indsigelse, herunder mod direkte markedsføring (art. 21)",
            "at trække dit samtykke tilbage når som helst, uden at det berører den "
            "behandling, der er sket forinden (art. 7, stk. 3)",
        ],
        "complaint": (
            "Du kan klage til en tilsynsmyndighed, navnlig i den EU/EØS-medlemsstat, hvor du "
            "bor, hvor du arbejder, eller hvor den påståede overtrædelse har fundet sted "
            "(art. 77)."
        ),
        "authority": (
            "{controller} er etableret i {country}; tilsynsmyndigheden dér er "
            "{authority}, {website}."
        ),
    },
}


def _day(value: str | None) -> str:
    return (value or "")[:10]


def _md_list(items: list[str], none: str) -> str:
    return "\n".join(f"- {i}" for i in items) or f"- {none}"


def _party(p: dict[str, Any] | None) -> str | None:
    if not p:
        return None
    return ", ".join(str(p[k]) for k in ("name", "address", "registration", "contact") if p.get(k))


def _kept(t: dict[str, Any], entry: dict[str, Any]) -> str:
    """One retention as the subject reads it: a date, "until you withdraw your consent", or
    "not recorded"; with the rule in words where the catalog gives one."""
    if entry.get("open"):
        return str(t["until_withdrawn"])  # consent still given: no date exists yet
    if entry.get("retain_until"):
        text = t["until"].format(date=_day(entry["retain_until"]))
        if entry.get("estimated"):
            text += f" ({t['estimated']})"
    else:
        text = str(t["not_recorded"])
    rules = sorted({e["rule_text"] for e in entry.get("retention", [entry]) if e.get("rule_text")})
    return text + (f": {'; '.join(rules)}" if rules else "")


def _names(rep: dict[str, Any], keys: list[str]) -> str:
    return ", ".join(rep["category_names"].get(k, k) for k in keys)


def _purpose(t: dict[str, Any], rep: dict[str, Any], p: dict[str, Any]) -> str:
    parts = [t["basis"].format(basis=p["legal_basis_text"])]
    if p.get("legitimate_interest"):
        parts.append(t["interest"].format(interest=p["legitimate_interest"]))
    parts.append(t["data"].format(categories=_names(rep, p["categories"])))
    parts.append(_kept(t, p))
    if p.get("consent_withdrawn_at"):
        parts.append(t["withdrawn"].format(date=_day(p["consent_withdrawn_at"])))
    head = p["name"] + (f" ({p['description']})" if p.get("description") else "")
    return f"{head}: " + "; ".join(parts)


def _category(t: dict[str, Any], rep: dict[str, Any], key: str) -> str:
    name = rep["category_names"].get(key, key)
    if article := rep["special_articles"].get(key):
        name += f" ({t['special'].format(article=article.removeprefix('art'))})"
    return name


def _recipient(t: dict[str, Any], rep: dict[str, Any], x: dict[str, Any], lang: str) -> str:
    who = x.get("name") or x["recipient"]
    if x.get("description"):
        who += f" ({x['description']})"
    where = ", ".join(s for s in (plain.role(x["role"], lang), x["country"]) if s)
    if x["categories"]:
        held = _names(rep, x["categories"])
    elif x.get("erased_at"):
        held = t["erased_on"].format(date=_day(x["erased_at"]))
    else:
        held = str(t["erased"])
    return f"{who} — {where}: {held}"


def _holder_retention(t: dict[str, Any], rep: dict[str, Any], x: dict[str, Any]) -> str:
    per_purpose = [f"{e['name']} {_kept(t, e)}" for e in x["purposes"]]
    per_category = [
        f"{rep['category_names'].get(c['category'], c['category'])} {_kept(t, c)}"
        for c in x.get("categories") or []
        if isinstance(c, dict) and "category" in c
    ]
    return f"{x['holder']}: " + "; ".join(per_purpose + per_category or [_kept(t, x)])


def _transfer(t: dict[str, Any], x: dict[str, Any], past: bool) -> str:
    head = t["in_country"].format(
        recipient=x["recipient"], country=x["country"], mechanism=x["mechanism_text"]
    )
    if past:
        return f"{head}: {t['erased_on'].format(date=_day(x['erased_at']))}"
    verdict = t["valid"] if x["valid"] else t["not_valid"]
    return f"{head}: {verdict} ({x['reason']})"


def to_markdown(rep: dict[str, Any]) -> str:
    lang = rep.get("lang", "en")
    t = TEXTS[lang]
    none = str(t["none"])
    parts = [
        f"# {t['title']}",
        t["subject"].format(subject=rep["subject"], date=_day(rep["generated_at"])),
    ]
    if rep.get("controller"):
        who = [_party(rep["controller"]) or ""]
        for key in ("representative", "dpo"):
            if rep.get(key):
                who.append(f"{t[key]}: {_party(rep[key])}")
        parts += [f"## {t['controller']}", _md_list(who, none)]
    parts += [
        f"## {t['purposes']}",
        _md_list([_purpose(t, rep, p) for p in rep["purposes"]], none),
        f"## {t['categories']}",
        _md_list([_category(t, rep, c) for c in rep["categories"]], none),
        f"## {t['recipients']}",
        _md_list([_recipient(t, rep, x, lang) for x in rep["recipients"]], none),
        f"## {t['retention']}",
        _md_list([_holder_retention(t, rep, x) for x in rep["retention"]], none),
        f"## {t['source']}",
        _md_list(
            [
                f"{t['origin'].get(s['origin'], s['origin'])}: {', '.join(s['systems'])}"
                for s in rep["sources"]
            ],
            none,
        ),
        f"## {t['transfers']}",
        _md_list([_transfer(t, x, past=False) for x in rep["transfers"]], none),
    ]
    if rep.get("past_transfers"):
        parts += [
            f"## {t['past_transfers']}",
            _md_list([_transfer(t, x, past=True) for x in rep["past_transfers"]], none),
        ]
    parts += [
        f"## {t['automated']}",
        rep["automated_decisions"],
        f"## {t['your_rights']}",
        _md_list(rep["rights"], none),
        f"## {t['complaints']}",
        rep["complaint"],
    ]
    return "\n\n".join(parts) + "\n"


def to_html(rep: dict[str, Any]) -> str:
    """The Markdown report as a standalone HTML page (headings, lists, paragraphs)."""
    lang = rep.get("lang", "en")
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
    title = html.escape(str(TEXTS[lang]["title"]))
    return (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
