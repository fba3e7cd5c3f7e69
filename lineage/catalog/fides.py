"""Import a Fides manifest (fideslang YAML: ``system`` entries with privacy declarations,
optionally an ``organization``) as a lineage catalog.

Every Fides system becomes an own-system holder; every privacy declaration a purpose.
Fides' legal-basis and special-category enums map onto lineage's keys. What Fides leaves
open (countries, retention as free text, missing legal bases) gets a stated default and is
listed for review at the top of the output, so nothing is silently invented.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from lineage.errors import InputError

LEGAL_BASES = {
    "Consent": "consent",
    "Contract": "contract",
    "Legal obligations": "legal_obligation",
    "Vital interests": "vital_interests",
    "Public interest": "public_task",
    "Legitimate interests": "legitimate_interests",
}
ART9 = {
    "Explicit consent": "explicit_consent",
    "Employment, social security and social protection": "employment_social_security",
    "Vital interests": "vital_interests",
    "Not-for-profit bodies": "not_for_profit_body",
    "Made public by the data subject": "made_public_by_subject",
    "Legal claims or judicial acts": "legal_claims",
    "Reasons of substantial public interest (with a basis in law)": "substantial_public_interest",
    "Health or social care (with a basis in law)": "health_or_social_care",
    "Public health (with a basis in law)": "public_health",
    "Archiving, research and statistics (with a basis in law)": "archiving_research_statistics",
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "purpose"


def _party(contact: Any) -> dict[str, Any] | None:
    if not isinstance(contact, dict) or not contact.get("name"):
        return None
    out = {"name": contact["name"]}
    if contact.get("address"):
        out["address"] = contact["address"]
    if contact.get("email") or contact.get("phone"):
        out["contact"] = contact.get("email") or contact.get("phone")
    return out


def import_manifest(path: Path, *, controller: str | None = None, country: str = "DK") -> str:
    """The catalog as YAML text."""
    try:
        manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise InputError(f"YAML syntax: {exc.problem}", where) from None
    systems = manifest.get("system") if isinstance(manifest, dict) else None
    if not isinstance(systems, list) or not systems:
        raise InputError("not a Fides manifest: no 'system' list", f"{path}:1:1")
    review: list[str] = []
    org = (manifest.get("organization") or [{}])[0]
    ctrl = _party(org.get("controller")) or {}
    name = controller or ctrl.get("name") or org.get("name") or systems[0].get("legal_name")
    if not name:
        name = "Controller (review)"
        review.append("controller: the manifest names no controller; give --controller")
    catalog: dict[str, Any] = {"version": 1, "controller": {**ctrl, "name": name}}
    if _party(org.get("representative")):
        catalog["representative"] = _party(org.get("representative"))
    if _party(org.get("data_protection_officer")):
        catalog["dpo"] = _party(org.get("data_protection_officer"))
    holders: dict[str, Any] = {}
    purposes: dict[str, Any] = {}
    for system in systems:
        key = system["fides_key"]
        holder: dict[str, Any] = {"role": "own", "country": country, "name": system.get("name")}
        if system.get("description"):
            holder["description"] = system["description"]
        holders[key] = holder
        review.append(f"holders.{key}.country: {country} assumed (Fides has no country)")
        if system.get("dpo") and "dpo" not in catalog:
            catalog["dpo"] = {"name": system["dpo"]}
        egress = [e["fides_key"] for e in system.get("egress") or [] if e.get("type") == "system"]
        for decl in system.get("privacy_declarations") or []:
            pid = f"{key}-{_slug(decl.get('name') or decl['data_use'])}"
            basis = LEGAL_BASES.get(decl.get("legal_basis_for_processing") or "")
            if basis is None:
                basis = "legitimate_interests"
                review.append(f"purposes.{pid}.legal_basis: not given in Fides; check it")
            purpose: dict[str, Any] = {
                "name": decl.get("name") or decl["data_use"],
                "data_use": decl["data_use"],
                "legal_basis": basis,
                "data_subjects": list(decl.get("data_subjects") or []),
                "categories": list(decl.get("data_categories") or []),
                "retention": _retention(decl.get("retention_period"), f"purposes.{pid}", review),
                "systems": [key],
            }
            condition = ART9.get(decl.get("special_category_legal_basis") or "")
            if condition:
                purpose["art9_condition"] = condition
            recipients = [e for e in egress if e != key]
            if recipients:
                purpose["recipients"] = recipients
            if decl.get("third_parties"):
                purpose["description"] = f"Shared with: {decl['third_parties']}"
            purposes[pid] = purpose
    for purpose in purposes.values():
        for r in purpose.get("recipients", []):
            holders.setdefault(r, {"role": "processor", "country": country})
    catalog["holders"] = holders
    catalog["purposes"] = purposes
    head = [f"# Imported from the Fides manifest {path.name}.", "# Review:"]
    head += [f"#   {item}" for item in review] or ["#   nothing"]
    body = yaml.safe_dump(catalog, sort_keys=False, allow_unicode=True, width=96)
    return "\n".join(head) + "\n" + body


def _retention(value: Any, where: str, review: list[str]) -> str:
    text = str(value).strip() if value is not None else ""
    m = re.fullmatch(r"(\d+)(?:\s*days?)?", text)
    if m:
        return f"P{m.group(1)}D from collection"
    review.append(
        f"{where}.retention: P1Y assumed"
        + (f" (Fides says {text!r})" if text else " (Fides gives none)")
    )
    return "P1Y from collection"
