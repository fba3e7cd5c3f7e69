"""The Art. 15 report for the subject: Markdown and HTML, in English or Danish.

The fixed sentences are here per language; what varies (names, dates, rules) comes from the
report built by ``services.access``.
"""

from __future__ import annotations

from typing import Any

from lineage.i18n import N_, gettext
from lineage.services import plain

# The report's fixed sentences in English, the catalog's source language.
MESSAGES: dict[str, Any] = {
    "title": N_("Your personal data (Art. 15 GDPR)"),
    "subject": N_("As of {date}."),
    "controller": N_("Who is responsible for your data"),
    "representative": N_("Representative in the EU (Art. 27)"),
    "dpo": N_("Data protection officer (Art. 37)"),
    "purposes": N_("Purposes and legal bases"),
    "categories": N_("Categories of data"),
    "recipients": N_("Recipients"),
    "retention": N_("How long your data is kept"),
    "source": N_("Where your data came from"),
    "transfers": N_("Transfers outside the EEA"),
    "past_transfers": N_("Earlier transfers outside the EEA (data since erased there)"),
    "automated": N_("Automated decisions"),
    "your_rights": N_("Your rights"),
    "complaints": N_("Complaints"),
    "none": N_("none"),
    "basis": N_("legal basis: {basis}"),
    "interest": N_("our legitimate interest: {interest}"),
    "data": N_("data: {categories}"),
    "until": N_("until {date}"),
    "estimated": N_("estimated"),
    "until_withdrawn": N_("until you withdraw your consent"),
    "not_recorded": N_("not recorded"),
    "withdrawn": N_("you withdrew your consent on {date}"),
    "special": N_("special category (Art. {article})"),
    "erased_on": N_("erased on {date}"),
    "erased": N_("erased"),
    "in_country": N_("{recipient} in {country} under {mechanism}"),
    "valid": N_("valid"),
    "not_valid": N_("not valid"),
    "origin": {"data_subject": N_("from you"), "third_party": N_("from a third party")},
    "no_automated": N_(
        "No automated decision-making, including profiling, is recorded for you "
        "(Art. 15(1)(h), Art. 22)."
    ),
    "rights": [
        N_("access to your data and this information (Art. 15)"),
        N_("rectification of inaccurate data (Art. 16)"),
        N_("erasure (Art. 17)"),
        N_("restriction of processing (Art. 18)"),
        N_("data portability (Art. 20)"),
        N_("objection, including to direct marketing (Art. 21)"),
        N_("withdrawal of consent at any time, without affecting earlier processing (Art. 7(3))"),
    ],
    "complaint": N_(
        "You may lodge a complaint with a supervisory authority, in particular in the "
        "EU/EEA member state where you live, where you work or where the alleged "
        "infringement took place (Art. 77)."
    ),
    "authority": N_(
        "{controller} is established in {country}; the supervisory authority there is "
        "{authority}, {website}."
    ),
}


def texts(lang: str) -> dict[str, Any]:
    """``MESSAGES`` in ``lang``, from the gettext catalog."""
    _ = gettext(lang)

    def tr(value: Any) -> Any:
        if isinstance(value, str):
            return _(value)
        if isinstance(value, list):
            return [tr(v) for v in value]
        return {k: tr(v) for k, v in value.items()}

    return {k: tr(v) for k, v in MESSAGES.items()}


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


def _transfer(t: dict[str, Any], x: dict[str, Any], past: bool, lang: str) -> str:
    head = t["in_country"].format(
        recipient=x["recipient"], country=x["country"], mechanism=x["mechanism_text"]
    )
    if past:
        return f"{head}: {t['erased_on'].format(date=_day(x['erased_at']))}"
    verdict = t["valid"] if x["valid"] else t["not_valid"]
    reason = plain.text(x.get("reason_parts"), lang, x["reason"])
    return f"{head}: {verdict} ({reason})"


def sections(rep: dict[str, Any]) -> dict[str, Any]:
    """The report's text in its language: the title, the date line, the controller block and
    the sections (a heading with a list of items or a paragraph), for the templates."""
    lang = rep.get("lang", "en")
    t = texts(lang)
    who = []
    if rep.get("controller"):
        who.append(_party(rep["controller"]) or "")
        for key in ("representative", "dpo"):
            if rep.get(key):
                who.append(f"{t[key]}: {_party(rep[key])}")
    parts: list[dict[str, Any]] = []
    if who:
        parts.append({"heading": t["controller"], "items": who})
    parts += [
        {"heading": t["purposes"], "items": [_purpose(t, rep, p) for p in rep["purposes"]]},
        {"heading": t["categories"], "items": [_category(t, rep, c) for c in rep["categories"]]},
        {
            "heading": t["recipients"],
            "items": [_recipient(t, rep, x, lang) for x in rep["recipients"]],
        },
        {
            "heading": t["retention"],
            "items": [_holder_retention(t, rep, x) for x in rep["retention"]],
        },
        {
            "heading": t["source"],
            "items": [
                f"{t['origin'].get(s['origin'], s['origin'])}: {', '.join(s['systems'])}"
                for s in rep["sources"]
            ],
        },
        {
            "heading": t["transfers"],
            "items": [_transfer(t, x, past=False, lang=lang) for x in rep["transfers"]],
        },
    ]
    if rep.get("past_transfers"):
        parts.append(
            {
                "heading": t["past_transfers"],
                "items": [_transfer(t, x, past=True, lang=lang) for x in rep["past_transfers"]],
            }
        )
    parts += [
        {"heading": t["automated"], "text": rep["automated_decisions"]},
        {"heading": t["your_rights"], "items": rep["rights"]},
        {"heading": t["complaints"], "text": rep["complaint"]},
    ]
    return {
        "title": t["title"],
        "date_line": t["subject"].format(date=_day(rep["generated_at"])),
        "none": t["none"],
        "sections": parts,
    }


def _render(template: str, rep: dict[str, Any]) -> str:
    from lineage.i18n import package_dir, render

    css = (package_dir() / "templates" / "documents" / "print.css").read_text()
    return render(f"documents/{template}", rep.get("lang", "en"), css=css, **sections(rep))


def to_markdown(rep: dict[str, Any]) -> str:
    return _render("access.md", rep)


def to_html(rep: dict[str, Any]) -> str:
    """A standalone page (autoescaped template) with a print stylesheet."""
    return _render("access.html", rep)
