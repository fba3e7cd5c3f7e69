"""The vocabulary of a Fides import: fideslang's values as lineage's keys, the notes an
import lists, and small readers for countries and transfer tools."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

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
ROLES = {"Processor": "processor", "Sub-Processor": "sub_processor", "Controller": "controller"}
# fideslang leaves legal_basis_for_transfers open text; these are the tools lineage knows.
# "SCCs" today are the 2021 clauses (the old ones have had no effect since 2022-12-27).
_MECHANISMS = (
    (r"adequacy", "adequacy"),
    (r"data privacy framework|\bdpf\b", "dpf"),
    (r"\bsccs?\b|standard contractual clauses", "scc"),
    (r"\bbcrs?\b|binding corporate rules", "bcr"),
    (r"privacy shield", "privacy_shield"),
    (r"safe harbou?r", "safe_harbour"),
    (r"derogation|art(icle)?\.? ?49", "derogation"),
)
# Placeholders written where the catalog needs a value Fides does not give: each is a note.
PLACEHOLDER_RETENTION = "P1D from collection"  # nothing is kept longer on a guess
PLACEHOLDER_BASIS = "legitimate_interests"  # with no interest stated, the audit flags it
PLACEHOLDER_SUBJECT = "customer"
PLACEHOLDER_CATEGORY = "user"

# Identifiers and Fides' own bookkeeping: they carry nothing a record of processing needs.
STRUCTURAL = {"fides_key", "organization_fides_key", "system_type", "fidesctl_meta"}
SYSTEM_MAPPED = {
    "name", "description", "egress", "ingress", "privacy_declarations", "responsibility",
    "data_responsibility_title", "legal_name", "legal_address", "vendor_id", "dpo",
    "administrating_department", "does_international_transfers", "legal_basis_for_transfers",
    "third_country_transfers", "requires_data_protection_assessments", "dpa_location",
    "dpa_progress", "data_protection_impact_assessment", "data_security_practices",
    "uses_profiling", "legal_basis_for_profiling", "legitimate_interest_disclosure_url",
    "processes_personal_data", "joint_controller_info", "joint_controller",
}  # fmt: skip
DECLARATION_MAPPED = {
    "name", "data_use", "data_categories", "data_subjects", "legal_basis_for_processing",
    "retention_period", "special_category_legal_basis", "processes_special_category_data",
    "egress", "ingress", "data_shared_with_third_parties", "third_parties",
    "shared_categories", "impact_assessment_location",
}  # fmt: skip
# Keys of older fideslang versions that the import still reads (or lists): not unknown.
LEGACY_SYSTEM = {
    "data_responsibility_title", "third_country_transfers", "data_protection_impact_assessment",
    "joint_controller", "system_dependencies", "cookies",
}  # fmt: skip
LEGACY_DECLARATION = {"cookies", "data_qualifier"}
TAXONOMY_SECTIONS = {"data_category": "categories", "data_use": "uses", "data_subject": "subjects"}


@dataclass(frozen=True)
class Note:
    """A Fides field lineage could not map (``unmapped``), or a value the catalog needs
    that Fides does not state (``placeholder``: what was written instead)."""

    where: str
    field: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.detail}"


@dataclass
class FidesDocument:
    """What a Fides import (``kind`` ``catalog``) or export (``manifest``) produced, with the
    notes a person reviews before using it."""

    source: str
    kind: str
    document: dict[str, Any]
    notes: list[Note] = field(default_factory=list)

    def yaml(self) -> str:
        if self.kind == "catalog":
            head = [f"Imported from the Fides manifest {self.source}."]
            title = "Review ({}): what could not be mapped, and placeholders"
        else:
            head = [f"Fides manifest exported from the lineage catalog {self.source}."]
            title = "Not expressible in fideslang ({}):"
        if self.notes:
            head.append(title.format(len(self.notes)))
            head += [f"  {note}" for note in self.notes]
        elif self.kind == "catalog":
            head.append("Everything in the manifest was mapped.")
        return commented_yaml(head, self.document)

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "notes": [vars(n) for n in self.notes],
                self.kind: self.document}  # fmt: skip


def commented_yaml(head: list[str], data: dict[str, Any]) -> str:
    """``data`` as YAML in its written order, after ``head`` as comment lines: what a person
    reviews before using the document."""
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=96) if data else ""
    return "".join(f"# {line}\n" for line in head) + body


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "purpose"


def alpha2(value: Any) -> str | None:
    """An ISO 3166 alpha-2 code from a code (alpha-2 or alpha-3) or a country name."""
    import pycountry

    text = str(value or "").strip().strip(".")
    if not text:
        return None
    try:
        found = pycountry.countries.lookup(text)
    except LookupError:
        return None
    return str(found.alpha_2)


def address_country(address: str | None) -> str | None:
    for part in reversed((address or "").split(",")):
        if (code := alpha2(part)) is not None:
            return code
    return None


def mechanism_of(basis: str) -> str | None:
    for pattern, mechanism in _MECHANISMS:
        if re.search(pattern, basis, re.IGNORECASE):
            return mechanism
    return None


def party_of(contact: Any) -> dict[str, Any] | None:
    if not isinstance(contact, dict) or not contact.get("name"):
        return None
    out = {"name": contact["name"]}
    if contact.get("address"):
        out["address"] = contact["address"]
    reach = [str(contact[k]) for k in ("email", "phone") if contact.get(k)]
    if reach:
        out["contact"] = ", ".join(reach)
    return out


def covers(a: str, b: str) -> bool:
    """Either key covers the other in the fideslang hierarchy (``user.contact`` and
    ``user.contact.email``)."""
    return a == b or b.startswith(a + ".") or a.startswith(b + ".")


def stated(raw: dict[str, Any], key: str, model: Any) -> bool:
    """Whether the manifest states ``key`` with something other than fideslang's default."""
    value = raw.get(key)
    if value in (None, "", [], {}):
        return False
    info = model.model_fields.get(key) if model is not None else None
    if info is not None and not info.is_required():
        default = info.get_default(call_default_factory=True)
        if value == default:
            return False
    return True


def enum_value(member: Any) -> str:
    """An enum member's value (fideslang's declarations keep members, systems values)."""
    return str(getattr(member, "value", member) or "")


def shortened(value: Any) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(str(text).split())
    return repr(text if len(text) <= 60 else text[:57] + "...")
