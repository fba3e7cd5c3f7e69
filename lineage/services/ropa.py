"""Article 30 records of processing: the catalog as skeleton, the events as evidence.

Art. 30(1): one row per purpose, with the columns of the supervisory authorities' templates
(the Danish Datatilsynet's among them). Art. 30(2): one row per controller served when the
company also acts as a processor. Each 30(1) row carries what the events show: subjects
observed, first and last seen, recipients actually observed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lineage.catalog.catalog import ART9_LETTERS, OWN, Catalog
from lineage.catalog.model import Party, TransferDecl
from lineage.i18n import N_, gettext
from lineage.projection.store import Store
from lineage.rules.transfers import dpf_certified, in_eea, validity
from lineage.services import plain
from lineage.services.evidence import observed_flows, purpose_evidence
from lineage.timeutil import iso

# (key, heading; translated through the catalog). Order is the template's. Taxonomy keys and
# the legal basis's key stay in their own columns for machines; the named ones are for people.
COLUMNS_30_1: tuple[tuple[str, str], ...] = (
    ("purpose", N_("Purpose of the processing")),
    ("purpose_id", N_("Purpose id")),
    ("data_use", N_("Data use (fideslang)")),
    ("legal_basis_name", N_("Legal basis (Art. 6)")),
    ("art9_condition", N_("Art. 9/10 condition")),
    ("legitimate_interest", N_("Legitimate interests")),
    ("data_subjects", N_("Categories of data subjects")),
    ("category_names", N_("Categories of personal data")),
    ("special_categories", N_("Special categories (Art. 9/10)")),
    ("recipients_internal", N_("Recipients: internal")),
    ("recipients_processors", N_("Recipients: processors")),
    ("recipients_sub_processors", N_("Recipients: sub-processors")),
    ("recipients_third_parties", N_("Recipients: third parties")),
    ("recipients_authorities", N_("Recipients: authorities")),
    ("transfers", N_("Third countries and safeguards")),
    ("erasure", N_("Time limits for erasure")),
    ("security_measures", N_("Security measures (Art. 32)")),
    ("source", N_("Source of the data")),
    ("location", N_("Location of the data")),
    ("automated_decisions", N_("Automated decisions")),
    ("processor_contracts", N_("Processor contracts")),
    ("subjects_observed", N_("Subjects observed")),
    ("first_seen", N_("First seen")),
    ("last_seen", N_("Last seen")),
    ("recipients_observed", N_("Recipients observed")),
    ("categories", N_("Category keys (fideslang)")),
    ("legal_basis", N_("Legal basis (key)")),
)

COLUMNS_30_2: tuple[tuple[str, str], ...] = (
    ("controller", N_("Controller served")),
    ("controller_contact", N_("Controller contact")),
    ("representative", N_("Representative")),
    ("processing", N_("Categories of processing")),
    ("categories", N_("Categories of personal data")),
    ("sub_processors", N_("Sub-processors")),
    ("transfers", N_("Third countries and safeguards")),
    ("security_measures", N_("Security measures (Art. 32)")),
)

HEADER_LABELS: dict[str, str] = {
    "title": N_("Record of processing activities (GDPR Art. 30)"),
    "controller": N_("Controller"),
    "joint_controllers": N_("Joint controllers (Art. 26)"),
    "representative": N_("Representative"),
    "dpo": N_("Data protection officer"),
    "as_of": N_("Evidence as of"),
    "catalog": N_("Catalog"),
    "records_30_1": N_("Art. 30(1) controller records"),
    "records_30_2": N_("Art. 30(2) processor records"),
}


@dataclass
class Records:
    header: dict[str, str | None]
    controller_records: list[dict[str, Any]] = field(default_factory=list)
    processor_records: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "header": self.header,
            "controller_records": self.controller_records,
            "processor_records": self.processor_records,
        }


def party(p: Party | None) -> str | None:
    if p is None:
        return None
    parts = [p.name, p.address, p.registration, p.contact]
    return ", ".join(x for x in parts if x)


def build(catalog: Catalog, store: Store | None, as_of: datetime, lang: str = "en") -> Records:
    evidence: dict[str, dict[str, Any]] = {}
    if store is not None:
        flows = observed_flows(store, as_of)
        evidence = purpose_evidence(store, catalog, flows, as_of)
    doc = catalog.doc
    joint = [
        _holder_label(catalog, n) + (f", {h.contact}" if h.contact else "")
        for n, h in catalog.holders.items()
        if h.role == "joint_controller"
    ]
    header = {
        "controller": party(doc.controller),
        "joint_controllers": "; ".join(joint) or None,
        "representative": party(doc.representative),
        "dpo": party(doc.dpo),
        "as_of": iso(as_of),
        "catalog": catalog.path,
        "catalog_digest": catalog.digest,
    }
    records = Records(header)
    for pid in doc.purposes:
        records.controller_records.append(_row(catalog, pid, evidence.get(pid), as_of, lang))
    for act in doc.processor_activities:
        records.processor_records.append(
            {
                "controller": act.controller.name,
                "controller_contact": party(act.controller),
                "representative": party(act.representative),
                "processing": list(act.processing),
                "categories": list(act.categories),
                "sub_processors": [_holder_label(catalog, s) for s in act.sub_processors],
                "transfers": transfers(catalog, act.transfers, act.sub_processors, as_of, lang),
                "security_measures": (
                    list(act.security_measures)
                    if act.security_measures is not None
                    else list(doc.security_measures)
                ),
            }
        )
    return records


def _holder_label(catalog: Catalog, name: str) -> str:
    h = catalog.holders[name]
    label = h.name or name
    return f"{label} ({h.country})"


def _transfer(
    catalog: Catalog, t: TransferDecl, as_of: datetime, lang: str, via: str | None = None
) -> str:
    """One Art. 30(1)(e) entry: country, recipient, tool and safeguards, and whether the tool
    is valid as of the record's date (the rulebook's ``validity``)."""
    _ = gettext(lang)
    h = catalog.holders[t.recipient]
    country = t.country or h.country
    mechanism = t.mechanism or (h.transfer.mechanism if h.transfer else None)
    ref = t.ref or (h.transfer.ref if h.transfer else None)
    name = h.name or t.recipient
    if via:
        name += " " + _("(sub-processor of {holder})").format(holder=via)
    tool = plain.mechanism(mechanism or "none", lang)
    text = _("{country}: {recipient} under {mechanism}").format(
        country=country, recipient=name, mechanism=tool
    )
    if ref:
        text += f" ({ref})"
    if t.safeguards:
        text += "; " + _("safeguards: {safeguards}").format(safeguards=t.safeguards)
    v = validity(mechanism, country, as_of, as_of)
    if not v.valid:
        text += "; " + _("NOT VALID: {reason}").format(reason=plain.text(v.parts, lang))
    elif mechanism == "dpf" and not dpf_certified(catalog, t.recipient):
        text += "; " + _("NOT VALID: {holder} is not marked DPF-certified").format(
            holder=t.recipient
        )
    return text


def transfers(
    catalog: Catalog,
    declared: list[TransferDecl],
    recipients: list[str],
    as_of: datetime,
    lang: str = "en",
) -> list[str]:
    """The declared transfers, then every recipient outside the EEA the data reaches that
    they do not list: direct ones, and onward ones through a processor's sub-processors
    (Art. 30(1)(e) names third countries wherever the data goes)."""
    out = [_transfer(catalog, t, as_of, lang) for t in declared]
    listed = {t.recipient for t in declared}
    seen: set[str] = set()
    todo: list[tuple[str, str | None]] = [(r, None) for r in recipients]
    while todo:
        name, via = todo.pop(0)
        if name in seen or name not in catalog.holders:
            continue
        seen.add(name)
        h = catalog.holders[name]
        if name not in listed and not in_eea(h.country, as_of.date()):
            out.append(_transfer(catalog, TransferDecl(recipient=name), as_of, lang, via))
        todo += [(sub, name) for sub in h.sub_processors]
    return out


def _contract(catalog: Catalog, name: str, lang: str) -> str:
    _ = gettext(lang)
    h = catalog.holders[name]
    signed = (
        _("DPA signed {date}").format(date=h.dpa_signed) if h.dpa_signed else _("no DPA recorded")
    )
    return f"{h.name or name}: {signed}" + (f", {h.contract}" if h.contract else "")


def _row(
    catalog: Catalog, pid: str, ev: dict[str, Any] | None, as_of: datetime, lang: str
) -> dict[str, Any]:
    p = catalog.purposes[pid]
    rule = catalog.rules[pid]
    groups: dict[str, list[str]] = {
        "internal": [],
        "processor": [],
        "sub_processor": [],
        "third": [],
        "authority": [],
    }
    contracts = []
    extra = [t.recipient for t in p.transfers if t.recipient not in p.recipients]
    recipients = [*p.recipients, *extra]
    subs: list[str] = []
    for r in recipients:
        h = catalog.holders[r]
        group = {
            OWN: "internal",
            "processor": "processor",
            "sub_processor": "sub_processor",
            "public_authority": "authority",
        }.get(h.role, "third")
        groups[group].append(_holder_label(catalog, r))
        subs.extend(s for s in h.sub_processors if s not in subs)
        if h.role in ("processor", "sub_processor"):
            contracts.append(_contract(catalog, r, lang))
    for s in subs:
        label = _holder_label(catalog, s)
        if label not in groups["sub_processor"]:
            groups["sub_processor"].append(label)
        contracts.append(_contract(catalog, s, lang))
    found = transfers(catalog, list(p.transfers), recipients, as_of, lang)
    special = [c for c in p.categories if catalog.special(c)]
    art9 = p.art9_condition
    if art9:
        letter = ART9_LETTERS.get(art9)
        art9 = f"{art9} (Art. 9(2)({letter}))" if letter else f"{art9} (Art. 10)"
    return {
        "purpose": p.name,
        "purpose_id": pid,
        "data_use": p.data_use,
        "legal_basis": p.legal_basis,
        "legal_basis_name": plain.basis_name(p.legal_basis, lang),
        "art9_condition": art9,
        "legitimate_interest": p.legitimate_interest,
        "data_subjects": list(p.data_subjects),
        "categories": list(p.categories),
        "category_names": [plain.key_name(c, catalog, lang) for c in p.categories],
        "special_categories": [
            f"{plain.key_name(c, catalog, lang)} ({catalog.special(c)})" for c in special
        ],
        "recipients_internal": groups["internal"],
        "recipients_processors": groups["processor"],
        "recipients_sub_processors": groups["sub_processor"],
        "recipients_third_parties": groups["third"],
        "recipients_authorities": groups["authority"],
        "transfers": found,
        "erasure": rule.describe(lang),
        "retention_rule": str(rule),
        "security_measures": catalog.security_measures(pid),
        "source": p.source,
        "location": [_holder_label(catalog, s) for s in p.systems],
        "automated_decisions": p.automated_decisions or gettext(lang)("none"),
        "processor_contracts": contracts,
        "subjects_observed": ev["subjects"] if ev else 0,
        "first_seen": iso(ev["first_seen"]) if ev else None,
        "last_seen": iso(ev["last_seen"]) if ev else None,
        "recipients_observed": ev["recipients"] if ev else [],
    }
