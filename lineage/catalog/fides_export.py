"""Export a catalog as a Fides manifest (fideslang YAML), the way ``fides.py`` imports one.

The mapping is the import's read backwards, so lineage → Fides → lineage keeps what both sides
can say:

- controller, representative and DPO are the ``organization``'s contacts (a contact with an
  ``@`` is the e-mail, the other part the phone);
- each holder is a system: ``responsibility`` from its role (another company's system carries
  its ``legal_name``, which is what tells Fides it is not ours), a recipient's country as its
  ``legal_address``, the transfer tool in ``legal_basis_for_transfers``, the DPIA in
  ``requires_data_protection_assessments`` / ``dpa_progress`` / ``dpa_location``, a
  processor's sub-processors as its data flows;
- each purpose is one privacy declaration on its first own system (or, with none, its first
  recipient), naming the flows to its other systems and recipients in ``egress``;
- the catalog's own taxonomy keys are ``data_category``, ``data_use`` and ``data_subject``.

What Fides has no field for is listed as a note, and at the top of the YAML.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from lineage.catalog.catalog import OWN, Catalog
from lineage.catalog.fides_terms import ART9, LEGAL_BASES, FidesDocument, Note
from lineage.catalog.model import Party
from lineage.catalog.retention import UNTIL_WITHDRAWN
from lineage.rules.transfers import in_eea

ORGANIZATION = "default_organization"
_RESPONSIBILITY = {
    OWN: "Controller",
    "processor": "Processor",
    "sub_processor": "Sub-Processor",
    "controller": "Controller",
    "joint_controller": "Controller",
    "public_authority": "Controller",
}
# The wording the import's reader (``fides_terms.mechanism_of``) takes back to the same tool.
_TOOLS = {
    "adequacy": "Adequacy Decision",
    "dpf": "Data Privacy Framework",
    "scc": "SCCs",
    "scc_2010": "SCCs",
    "bcr": "BCRs",
    "derogation": "Derogation (Art. 49)",
    "privacy_shield": "Privacy Shield",
    "safe_harbour": "Safe Harbour",
}
_BASES = {lineage: fides for fides, lineage in LEGAL_BASES.items()}
_ART9 = {lineage: fides for fides, lineage in ART9.items()}


def _contact(p: Party | None) -> dict[str, str] | None:
    if p is None:
        return None
    out = {"name": p.name}
    if p.address:
        out["address"] = p.address
    for part in (p.contact or "").split(","):
        part = part.strip()
        if part:
            out.setdefault("email" if "@" in part else "phone", part)
    return out


def _country_name(code: str) -> str:
    import pycountry

    found = pycountry.countries.get(alpha_2=code)
    return str(found.name) if found else code


class _Exporter:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.notes: list[Note] = []
        self.today = date.today()

    def note(self, where: str, field_name: str, detail: str) -> None:
        self.notes.append(Note(where, field_name, "unmapped", detail))

    def run(self) -> dict[str, Any]:
        doc = self.catalog.doc
        manifest: dict[str, Any] = {"organization": [self._organization()]}
        taxonomy = self._taxonomy()
        systems = {key: self._system(key) for key in self.catalog.holders}
        for pid in doc.purposes:
            self._declaration(pid, systems)
        self._ingress(systems)
        manifest["system"] = list(systems.values())
        manifest.update(taxonomy)
        if doc.processor_activities:
            self.note(
                "processor_activities", "processor_activities",
                f"{len(doc.processor_activities)} Art. 30(2) record(s): Fides has no place for "
                "processing done for another controller",
            )  # fmt: skip
        return manifest

    def _organization(self) -> dict[str, Any]:
        doc = self.catalog.doc
        c = doc.controller
        org: dict[str, Any] = {"fides_key": ORGANIZATION, "name": c.name}
        for key, party in (
            ("controller", c),
            ("representative", doc.representative),
            ("data_protection_officer", doc.dpo),
        ):
            if (contact := _contact(party)) is not None:
                org[key] = contact
            if party is not None and party.registration:
                self.note(key, "registration", f"{party.registration!r}: no Fides field")
        if c.financial_year_end != "12-31":
            self.note("controller", "financial_year_end", f"{c.financial_year_end}: no Fides field")
        if doc.security_measures:
            self.note(
                "security_measures", "security_measures",
                "Fides' organization takes a security policy URL only: written as the "
                "data_security_practices of each system holding a purpose",
            )  # fmt: skip
        return org

    def _taxonomy(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        ext = self.catalog.doc.taxonomy
        for section, keys in (
            ("data_category", ext.categories),
            ("data_use", ext.uses),
            ("data_subject", ext.subjects),
        ):
            for custom in keys:
                entry: dict[str, Any] = {"fides_key": custom.key}
                if "." in custom.key and section != "data_subject":
                    entry["parent_key"] = custom.key.rsplit(".", 1)[0]
                for k in ("name", "description"):
                    if value := getattr(custom, k):
                        entry[k] = value
                out.setdefault(section, []).append(entry)
                if getattr(custom, "special", None):
                    self.note(
                        f"taxonomy {custom.key}", "special",
                        f"{custom.special}: fideslang marks no category special",
                    )  # fmt: skip
        return out

    def _system(self, key: str) -> dict[str, Any]:
        h = self.catalog.holders[key]
        own = h.role == OWN
        where = f"holder {key}"
        system: dict[str, Any] = {
            "fides_key": key,
            "organization_fides_key": ORGANIZATION,
            "name": h.name or key,
            "system_type": "Service",
            "responsibility": [_RESPONSIBILITY.get(h.role, "Controller")],
        }
        if h.description:
            system["description"] = h.description
        if own:
            if h.country != self.catalog.doc.controller.country:
                self.note(where, "country", f"{h.country}: Fides places own systems nowhere")
            if h.contact:
                self.note(where, "contact", "an own system's contact has no Fides field")
        else:
            if h.role in ("controller", "joint_controller", "public_authority"):
                system["legal_name"] = h.name or key
            elif h.name:
                system["legal_name"] = h.name
            system["legal_address"] = _country_name(h.country)
            if h.contact:
                system["dpo"] = h.contact
            if h.role in ("joint_controller", "public_authority"):
                self.note(where, "role", f"{h.role}: Fides knows only Controller")
        outside = not in_eea(h.country, self.today)
        if h.transfer is not None and h.transfer.mechanism != "none":
            system["legal_basis_for_transfers"] = [_TOOLS[h.transfer.mechanism]]
            if h.transfer.mechanism == "scc_2010":
                self.note(
                    where, "transfer", "scc_2010: Fides says SCCs, read back as the 2021 ones"
                )
        if (h.transfer is not None or outside) and not own:
            system["does_international_transfers"] = True
        if h.transfer is not None and h.transfer.ref:
            self.note(where, "transfer.ref", f"{h.transfer.ref!r}: no Fides field")
        if h.dpia is not None:
            if h.dpia.required is not None:
                system["requires_data_protection_assessments"] = h.dpia.required
            if h.dpia.progress:
                system["dpa_progress"] = h.dpia.progress
            if h.dpia.location:
                system["dpa_location"] = h.dpia.location
        if h.sub_processors:
            system["egress"] = [{"fides_key": s, "type": "system"} for s in h.sub_processors]
        for name, value in (
            ("dpa_signed", h.dpa_signed),
            ("contract", h.contract),
            ("dpf_certified", h.dpf_certified or None),
            ("eraser", h.eraser),
        ):
            if value is not None:
                self.note(where, name, f"{value}: no Fides field")
        system["privacy_declarations"] = []
        return system

    def _ingress(self, systems: dict[str, dict[str, Any]]) -> None:
        """A declaration that names no ingress takes every flow into its system (the
        import's reading, and Fides'): name none, and list the flows on the system, which
        fideslang requires of a declaration that names its ingress."""
        inbound: dict[str, list[str]] = {}
        for key, system in systems.items():
            for flow in system.get("egress", []):
                inbound.setdefault(flow["fides_key"], []).append(key)
        for key, sources in inbound.items():
            system = systems[key]
            if system["privacy_declarations"]:
                system["ingress"] = [{"fides_key": s, "type": "system"} for s in sources]
                for decl in system["privacy_declarations"]:
                    decl["ingress"] = []

    def _declaration(self, pid: str, systems: dict[str, dict[str, Any]]) -> None:
        catalog = self.catalog
        p = catalog.purposes[pid]
        where = f"purpose {pid}"
        reach = list(
            dict.fromkeys([*p.systems, *p.recipients, *(t.recipient for t in p.transfers)])
        )
        if not reach:
            self.note(where, "systems", "names no system or recipient: no Fides system to hold it")
            return
        host, *targets = reach
        rule = catalog.rules[pid]
        decl: dict[str, Any] = {
            "name": p.name,
            "data_use": p.data_use,
            "data_categories": list(p.categories),
            "data_subjects": list(p.data_subjects),
            "legal_basis_for_processing": _BASES[p.legal_basis],
            "retention_period": (
                "until consent is withdrawn" if str(rule) == UNTIL_WITHDRAWN else str(rule)
            ),
        }
        if any(catalog.special(c) for c in p.categories):
            decl["processes_special_category_data"] = True
        if targets:
            decl["egress"] = targets
        if p.art9_condition in _ART9:
            decl["special_category_legal_basis"] = _ART9[p.art9_condition]
        elif p.art9_condition:
            self.note(where, "art9_condition", f"{p.art9_condition}: not a fideslang Art. 9 basis")
        system = systems[host]
        flows = system.setdefault("egress", [])
        for target in targets:
            if all(f["fides_key"] != target for f in flows):
                flows.append({"fides_key": target, "type": "system"})
        system["privacy_declarations"].append(decl)
        # Fides keeps security practices per system; the import gives them to its purposes.
        measures = "; ".join(catalog.security_measures(pid))
        if measures and system.setdefault("data_security_practices", measures) != measures:
            self.note(where, "security_measures", f"differ from those of {host}'s other purposes")
        for name in (
            "description", "legitimate_interest", "source", "automated_decisions",
        ):  # fmt: skip
            if getattr(p, name):
                self.note(where, name, "no field on a Fides privacy declaration")
        for t in p.transfers:
            if t.country or t.mechanism or t.ref or t.safeguards:
                self.note(
                    where, "transfers",
                    f"{t.recipient}: Fides states a transfer's country and tool per system only",
                )  # fmt: skip
        if rule.note:
            self.note(where, "retention.note", f"{rule.note!r}: no Fides field")


def export_manifest(catalog: Catalog) -> FidesDocument:
    """The Fides manifest the catalog says, validated with fideslang's own models."""
    from fideslang.models import Taxonomy
    from pydantic import ValidationError

    from lineage.errors import InputError

    exporter = _Exporter(catalog)
    manifest = exporter.run()
    try:
        Taxonomy.model_validate(manifest)
    except ValidationError as exc:  # a mapping bug must never write a manifest Fides rejects
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(f"the exported manifest does not validate: {loc}: {err['msg']}") from None
    return FidesDocument(catalog.path, "manifest", manifest, exporter.notes)
