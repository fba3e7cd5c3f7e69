"""Import a Fides manifest (fideslang YAML: ``organization``, ``system`` entries with
privacy declarations, custom taxonomy keys) as a lineage catalog.

Systems and declarations are read with fideslang's own models; what they say maps as follows.

- ``organization``: controller, representative and DPO; ``security_policy`` a security measure.
- A system is a holder. Its ``responsibility`` (``data_responsibility_title`` in older
  manifests) gives the role: ``Processor`` and ``Sub-Processor`` are recipients with those
  roles; ``Controller`` is an own system, or an independent controller when the system is
  another company's (a ``vendor_id``, or a ``legal_name`` other than the controller's).
- Fides has no country field. Own systems are in ``--country``. A recipient's country comes
  from ``--holder-country``, else its ``legal_address``, else the single country of its
  ``third_country_transfers`` (older manifests).
- ``legal_basis_for_transfers`` is the recipient's transfer tool; ``dpa_location``,
  ``dpa_progress`` and ``requires_data_protection_assessments`` (fideslang's "data
  protection assessment") its ``dpia``; ``data_security_practices`` a security measure of
  the purposes it serves; ``uses_profiling`` their automated decisions.
- Each privacy declaration is a purpose. Data flows (``egress``/``ingress``) are per system:
  a flow belongs to the declarations that name it, else to the system's only declaration,
  else to the declarations whose categories it carries. A flow that cannot be placed is
  listed, never copied onto every purpose.
- ``retention_period`` is read as a rule (``"5 years"``, ``"5 år"``, ``"until consent is
  withdrawn"``, a number of days, ``P2Y``...).

Nothing is silently invented. Every field that could not be mapped, and every value the
catalog needs but Fides does not state (then a marked placeholder is written), is a note,
listed at the top of the output and in ``--format json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lineage.catalog.fides_terms import (
    ART9,
    DECLARATION_MAPPED,
    LEGACY_DECLARATION,
    LEGACY_SYSTEM,
    LEGAL_BASES,
    PLACEHOLDER_BASIS,
    PLACEHOLDER_CATEGORY,
    PLACEHOLDER_RETENTION,
    PLACEHOLDER_SUBJECT,
    ROLES,
    STRUCTURAL,
    SYSTEM_MAPPED,
    TAXONOMY_SECTIONS,
    FidesDocument,
    Note,
    address_country,
    alpha2,
    covers,
    enum_value,
    mechanism_of,
    party_of,
    shortened,
    slug,
    stated,
)
from lineage.catalog.retention import rule_from_text
from lineage.errors import InputError


@dataclass
class _System:
    key: str
    raw: dict[str, Any]
    model: Any
    role: str  # own, processor, sub_processor, controller
    where: str


@dataclass
class _Flow:
    source: str
    target: str
    categories: list[str] | None  # None: the flow does not say which
    placed: bool = False


class _Importer:
    def __init__(
        self, path: Path, controller: str | None, country: str, countries: dict[str, str]
    ) -> None:
        self.path = path
        self.controller_name = controller
        self.country = country
        self.countries = countries
        self.notes: list[Note] = []

    def note(self, where: str, field_name: str, kind: str, detail: str) -> None:
        self.notes.append(Note(where, field_name, kind, detail))

    def unmapped(self, where: str, raw: dict[str, Any], mapped: set[str], model: Any) -> None:
        for key in raw:
            if key in mapped or key in STRUCTURAL or not stated(raw, key, model):
                continue
            self.note(where, key, "unmapped", f"{shortened(raw[key])} has no place in the catalog")

    # -- the manifest ---------------------------------------------------------------------
    def run(self, manifest: dict[str, Any]) -> FidesDocument:
        from fideslang.models import Organization

        raw_systems = manifest.get("system")
        if not isinstance(raw_systems, list) or not raw_systems:
            raise InputError("not a Fides manifest: no 'system' list", f"{self.path}:1:1")
        for top in manifest:
            if top not in ("organization", "system", *TAXONOMY_SECTIONS):
                count = len(manifest[top]) if isinstance(manifest[top], list) else 1
                self.note(
                    "manifest", top, "unmapped", f"{count} resource(s) not imported into a catalog"
                )
        org_raw = self._organization(manifest.get("organization"), raw_systems)
        org = Organization.model_validate(org_raw) if org_raw else None
        catalog: dict[str, Any] = {"version": 1, "controller": self._controller(org_raw)}
        for key, label in (
            ("representative", "representative"),
            ("data_protection_officer", "dpo"),
        ):
            if party := party_of(org_raw.get(key)):
                catalog[label] = party
        measures: list[str] = []
        if org is not None and org.security_policy:
            measures.append(f"Security policy: {org.security_policy}")
        if org_raw:
            mapped = {"name", "controller", "representative", "data_protection_officer"}
            self.unmapped("organization", org_raw, mapped | {"security_policy"}, Organization)
        if measures:
            catalog["security_measures"] = measures
        self.measures = measures
        read = [self._system(i, raw) for i, raw in enumerate(raw_systems)]
        systems = [s for s in read if s is not None]
        self.systems = {s.key: s for s in systems}
        self._check_countries()
        self.flows = self._flows(systems)
        taxonomy: dict[str, list[dict[str, Any]]] = {}
        self.custom = self._custom_taxonomy(manifest, taxonomy)
        holders = {s.key: self._holder(s, catalog) for s in systems}
        purposes: dict[str, Any] = {}
        for s in systems:
            self._purposes(s, holders, purposes, taxonomy)
        for flow in self.flows:
            if not flow.placed:
                self.note(
                    self.systems[flow.source].where,
                    "egress",
                    "unmapped",
                    f"the flow to {flow.target!r} names no purpose and its categories match none"
                    " of the system's declarations: add it to the right purpose's recipients",
                )
        if taxonomy:
            catalog["taxonomy"] = taxonomy
        catalog["holders"] = holders
        catalog["purposes"] = purposes
        return FidesDocument(self.path.name, "catalog", catalog, self.notes)

    def _organization(self, orgs: Any, systems: list[Any]) -> dict[str, Any]:
        if not isinstance(orgs, list) or not orgs:
            return {}
        wanted = {s.get("organization_fides_key", "default_organization") for s in systems}
        chosen = next((o for o in orgs if o.get("fides_key") in wanted), orgs[0])
        for other in orgs:
            if other is not chosen:
                self.note(
                    f"organization {other.get('fides_key')!r}", "organization", "unmapped",
                    "a catalog has one controller: only the systems' organization was imported",
                )  # fmt: skip
        return dict(chosen)

    def _controller(self, org: dict[str, Any]) -> dict[str, Any]:
        party = party_of(org.get("controller")) or {}
        name = self.controller_name or party.get("name") or org.get("name")
        if not name:
            name = "Controller (placeholder)"
            self.note(
                "organization", "controller", "placeholder",
                "the manifest names no controller: give --controller",
            )  # fmt: skip
        self.own_name = str(name)
        return {**party, "name": name, "country": self.country}

    def _system(self, index: int, raw: Any) -> _System | None:
        from fideslang.models import System
        from pydantic import ValidationError

        if not isinstance(raw, dict):
            raise InputError(f"system[{index}] is not a mapping", str(self.path))
        key = str(raw.get("fides_key") or f"system[{index}]")
        where = f"system {key}"
        clean = {k: v for k, v in raw.items() if k not in ("cookies",)}
        clean["privacy_declarations"] = [
            {k: v for k, v in d.items() if k not in ("cookies", "data_qualifier")}
            if isinstance(d, dict)
            else d
            for d in raw.get("privacy_declarations") or []
        ]
        try:
            model = System.model_validate(clean)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise InputError(f"{where}: {loc}: {err['msg']}", str(self.path)) from None
        if raw.get("cookies"):
            self.note(where, "cookies", "unmapped", "deprecated in fideslang; not imported")
        if not model.processes_personal_data:
            self.note(where, "processes_personal_data", "unmapped", "false: system left out")
            return None
        titles = [enum_value(t) for t in model.responsibility] or (
            [str(raw["data_responsibility_title"])] if raw.get("data_responsibility_title") else []
        )

        if len(titles) > 1:
            self.note(
                where, "responsibility", "unmapped",
                f"{', '.join(titles)}: a holder has one role; {titles[0]} was taken",
            )  # fmt: skip
        role = ROLES.get(titles[0]) if titles else None
        if titles and role is None:
            self.note(where, "responsibility", "unmapped", f"unknown role {titles[0]!r}")
        if role in (None, "controller") and not self._third_party(model):
            role = "own"
        if not titles:
            self.note(
                where, "responsibility", "placeholder",
                "not given: taken as an own system of the controller",
            )  # fmt: skip
        self.unmapped(where, raw, SYSTEM_MAPPED | {"cookies"}, System)
        return _System(key, raw, model, role or "own", where)

    def _third_party(self, model: Any) -> bool:
        own = self.own_name.strip().lower()
        legal = (model.legal_name or "").strip().lower()
        return bool(model.vendor_id) or bool(legal and own and legal != own)

    def _check_countries(self) -> None:
        from lineage.errors import UnknownNameError
        from lineage.events.taxonomy import suggest

        for key in self.countries:
            if key not in self.systems:
                hint = suggest(key, self.systems)
                raise UnknownNameError("system", key, hint, "--holder-country")

    def _flows(self, systems: list[_System]) -> list[_Flow]:
        flows: dict[tuple[str, str], _Flow] = {}

        def add(source: str, target: str, categories: list[str] | None, where: str) -> None:
            if source == target:
                return
            if source not in self.systems or target not in self.systems:
                missing = target if source in self.systems else source
                self.note(
                    where, "egress/ingress", "unmapped",
                    f"flow with {missing!r}, which is not a system in the manifest",
                )  # fmt: skip
                return
            known = flows.get((source, target))
            if known is None:
                flows[(source, target)] = _Flow(source, target, categories)
            elif known.categories is not None:
                known.categories = (
                    None if categories is None else sorted({*known.categories, *categories})
                )

        for s in systems:
            for flow in s.model.egress or []:
                if flow.type == "system":
                    add(s.key, flow.fides_key, flow.data_categories, s.where)
            for flow in s.model.ingress or []:
                if flow.type == "system":
                    add(flow.fides_key, s.key, flow.data_categories, s.where)
        return list(flows.values())

    def _custom_taxonomy(
        self, manifest: dict[str, Any], taxonomy: dict[str, list[dict[str, Any]]]
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """The manifest's own taxonomy keys, by kind (declared when a purpose uses them)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for top, section in TAXONOMY_SECTIONS.items():
            for item in manifest.get(top) or []:
                if isinstance(item, dict) and item.get("fides_key"):
                    entry = {"key": item["fides_key"]}
                    for k in ("name", "description"):
                        if item.get(k):
                            entry[k] = str(item[k])
                    out.setdefault(section, {})[item["fides_key"]] = entry
        return out

    def _key(
        self, kind: str, key: str, where: str, taxonomy: dict[str, list[dict[str, Any]]]
    ) -> str:
        """``key`` as the catalog can hold it: fideslang's, or declared as a custom key."""
        from lineage.events.taxonomy import default_taxonomy, suggest

        base = default_taxonomy()
        section, known = {
            "data_categories": ("categories", base.categories),
            "data_use": ("uses", base.uses),
            "data_subjects": ("subjects", base.subjects),
        }[kind]
        if key in known:
            return key
        declared = taxonomy.setdefault(section, [])
        if all(e["key"] != key for e in declared):
            entry = self.custom.get(section, {}).get(key)
            if entry is None:
                hint = suggest(key, known)
                self.note(
                    where, kind, "unmapped",
                    f"{key!r} is not in fideslang's taxonomy; declared as a custom key"
                    + (f" (did you mean {hint[0]!r}?)" if hint else ""),
                )  # fmt: skip
                entry = {"key": key}
            declared.append(entry)
        return key

    # -- holders --------------------------------------------------------------------------
    def _holder(self, s: _System, catalog: dict[str, Any]) -> dict[str, Any]:
        m = s.model
        own = s.role == "own"
        holder: dict[str, Any] = {"role": s.role, "country": self._country(s)}
        name = m.legal_name if m.legal_name and not own else m.name
        if name:
            holder["name"] = name
        about = [m.description] if m.description else []
        if name != m.name and m.name:
            about.insert(0, f"system {m.name}")
        # An address that is only a country (as export-fides writes it) says nothing more.
        if m.legal_address and alpha2(m.legal_address) is None:
            about.append(f"address: {m.legal_address}")
        if m.administrating_department and m.administrating_department != "Not defined":
            about.append(f"administered by {m.administrating_department}")
        joint = m.joint_controller_info or party_of(s.raw.get("joint_controller"))
        if joint:
            text = joint if isinstance(joint, str) else joint["name"]
            about.append(f"joint controllers: {text}")
            self.note(
                s.where, "joint_controller_info", "unmapped",
                f"{text!r}: declare each joint controller as a holder (role joint_controller)",
            )  # fmt: skip
        if about:
            holder["description"] = "; ".join(a.rstrip(".") for a in about)
        if m.dpo:
            if own and "dpo" not in catalog:
                catalog["dpo"] = {"name": m.dpo}
            elif not own:
                holder["contact"] = m.dpo
        if m.vendor_id:
            self.note(s.where, "vendor_id", "unmapped", f"{m.vendor_id!r} kept nowhere")
        self._transfer(s, holder)
        dpia = self._dpia(s)
        if dpia:
            holder["dpia"] = dpia
        subs = [
            f.target
            for f in self.flows
            if f.source == s.key and self.systems[f.target].role in ("processor", "sub_processor")
        ]
        if s.role in ("processor", "sub_processor") and subs:
            holder["sub_processors"] = subs
            for f in self.flows:
                if f.source == s.key and f.target in subs:
                    f.placed = True
        if s.role == "sub_processor" and not any(
            f.target == s.key and self.systems[f.source].role in ("processor", "sub_processor")
            for f in self.flows
        ):
            self.note(
                s.where, "responsibility", "unmapped",
                "a sub-processor, but no processor's data flow reaches it: name it under "
                "the processor's sub_processors",
            )  # fmt: skip
        return holder

    def _country(self, s: _System) -> str:
        transfers = [c for c in s.raw.get("third_country_transfers") or []]
        if s.role == "own":
            if transfers:
                self.note(
                    s.where, "third_country_transfers", "unmapped",
                    f"{', '.join(map(str, transfers))} named without the recipients: declare "
                    "them as holders with their transfer tool",
                )  # fmt: skip
            return self.country
        if s.key in self.countries:
            return self.countries[s.key]
        if code := address_country(s.model.legal_address):
            return code
        codes = [alpha2(c) for c in transfers]
        if codes and all(codes):
            if len(codes) > 1:
                self.note(
                    s.where, "third_country_transfers", "unmapped",
                    f"several countries ({', '.join(map(str, transfers))}): {codes[0]} taken "
                    "as the holder's; declare the others per purpose under transfers",
                )  # fmt: skip
            return str(codes[0])
        if transfers:
            self.note(
                s.where, "third_country_transfers", "unmapped",
                f"{', '.join(map(str, transfers))}: not a country lineage can read",
            )  # fmt: skip
        self.note(
            s.where, "country", "placeholder",
            f"Fides states none: {self.country} written; give --holder-country {s.key}=CC "
            "(whether this is a transfer outside the EEA depends on it)",
        )  # fmt: skip
        return self.country

    def _transfer(self, s: _System, holder: dict[str, Any]) -> None:
        m = s.model
        bases = [str(b) for b in m.legal_basis_for_transfers]
        international = m.does_international_transfers or bool(s.raw.get("third_country_transfers"))
        if s.role == "own":
            if bases:
                self.note(
                    s.where, "legal_basis_for_transfers", "unmapped",
                    f"{', '.join(bases)} on an own system: declare the recipients it transfers to",
                )  # fmt: skip
            return
        tools = [t for t in map(mechanism_of, bases) if t]
        for basis in bases:
            if mechanism_of(basis) is None:
                self.note(
                    s.where, "legal_basis_for_transfers", "unmapped",
                    f"{basis!r} is not a transfer tool lineage knows (kept in the reference)",
                )  # fmt: skip
        if tools:
            if len(set(tools)) > 1:
                self.note(
                    s.where, "legal_basis_for_transfers", "unmapped",
                    f"several tools ({', '.join(bases)}): {tools[0]} taken as the tool",
                )  # fmt: skip
            holder["transfer"] = {
                "mechanism": tools[0],
                "ref": f"Fides legal_basis_for_transfers: {', '.join(bases)}",
            }
        elif international:
            holder["transfer"] = {"mechanism": "none"}
            self.note(
                s.where, "legal_basis_for_transfers", "placeholder",
                "international transfers without a stated tool: mechanism none written",
            )  # fmt: skip

    def _dpia(self, s: _System) -> dict[str, Any]:
        m = s.model
        legacy = s.raw.get("data_protection_impact_assessment") or {}
        out: dict[str, Any] = {}
        required = m.requires_data_protection_assessments or legacy.get("is_required")
        if required or "requires_data_protection_assessments" in s.raw or legacy:
            out["required"] = bool(required)
        progress = m.dpa_progress or legacy.get("progress")
        location = m.dpa_location or legacy.get("link")
        if progress:
            out["progress"] = str(progress)
        if location:
            out["location"] = str(location)
        return out if (progress or location or required) else {}

    # -- purposes -------------------------------------------------------------------------
    def _purposes(
        self,
        s: _System,
        holders: dict[str, dict[str, Any]],
        purposes: dict[str, Any],
        taxonomy: dict[str, list[dict[str, Any]]],
    ) -> None:
        declarations = s.model.privacy_declarations
        raws = {
            (d.get("name"), d.get("data_use")): d
            for d in s.raw.get("privacy_declarations") or []
            if isinstance(d, dict)
        }
        for decl in declarations:
            raw = raws.get((decl.name, decl.data_use), {})
            label = decl.name or decl.data_use
            where = f"{s.where}, declaration {label!r}"
            pid = base = f"{s.key}-{slug(label)}"
            n = 2
            while pid in purposes:
                pid, n = f"{base}-{n}", n + 1
            purposes[pid] = self._purpose(s, decl, raw, where, len(declarations), taxonomy)
        for raw in s.raw.get("privacy_declarations") or []:
            for old in ("cookies", "data_qualifier"):
                if isinstance(raw, dict) and raw.get(old):
                    label = raw.get("name") or raw.get("data_use")
                    self.note(
                        f"{s.where}, declaration {label!r}", old, "unmapped",
                        f"{shortened(raw[old])}: deprecated in fideslang; not imported",
                    )  # fmt: skip

    def _purpose(
        self,
        s: _System,
        decl: Any,
        raw: dict[str, Any],
        where: str,
        siblings: int,
        taxonomy: dict[str, list[dict[str, Any]]],
    ) -> dict[str, Any]:
        from fideslang.models import PrivacyDeclaration

        m = s.model
        basis = LEGAL_BASES.get(enum_value(decl.legal_basis_for_processing))
        if basis is None:
            basis = PLACEHOLDER_BASIS
            self.note(
                where, "legal_basis_for_processing", "placeholder",
                f"not given: {PLACEHOLDER_BASIS} written with no interest stated (the audit "
                "flags it until the real basis is written)",
            )  # fmt: skip
        categories = [
            self._key("data_categories", c, where, taxonomy) for c in decl.data_categories
        ]
        if not categories:
            categories = [PLACEHOLDER_CATEGORY]
            self.note(where, "data_categories", "placeholder", "none given: 'user' written")
        subjects = [self._key("data_subjects", d, where, taxonomy) for d in decl.data_subjects]
        if not subjects:
            subjects = [PLACEHOLDER_SUBJECT]
            self.note(
                where, "data_subjects", "placeholder", f"none given: {PLACEHOLDER_SUBJECT} written"
            )
        purpose: dict[str, Any] = {
            "name": decl.name or decl.data_use,
            "data_use": self._key("data_use", decl.data_use, where, taxonomy),
            "legal_basis": basis,
            "data_subjects": subjects,
            "categories": categories,
            "retention": self._retention(decl.retention_period, where),
        }
        if decl.special_category_legal_basis:
            purpose["art9_condition"] = ART9[enum_value(decl.special_category_legal_basis)]
        elif decl.processes_special_category_data:
            self.note(
                where, "processes_special_category_data", "unmapped",
                "true, but no special_category_legal_basis: the Art. 9 condition is missing",
            )  # fmt: skip
        if basis == "legitimate_interests":
            interest = [
                f"assessment: {decl.impact_assessment_location}"
                if decl.impact_assessment_location
                else "",
                f"disclosed at {m.legitimate_interest_disclosure_url}"
                if m.legitimate_interest_disclosure_url
                else "",
            ]
            if any(interest):
                purpose["legitimate_interest"] = "; ".join(i for i in interest if i)
        elif decl.impact_assessment_location:
            self.note(
                where, "impact_assessment_location", "unmapped",
                "a legitimate-interest assessment for a purpose on another basis",
            )  # fmt: skip
        systems, recipients = self._flows_of(s, decl, siblings)
        if systems:
            purpose["systems"] = systems
        if recipients:
            purpose["recipients"] = recipients
        transfers = [
            {"recipient": r}
            for r in recipients
            if self.systems[r].model.does_international_transfers
            or self.systems[r].raw.get("third_country_transfers")
            or self.systems[r].model.legal_basis_for_transfers
        ]
        if transfers:
            purpose["transfers"] = transfers
        if decl.data_shared_with_third_parties or decl.third_parties:
            shared = decl.third_parties or "third parties"
            cats = (
                f" (categories: {', '.join(decl.shared_categories)})"
                if decl.shared_categories
                else ""
            )
            purpose["description"] = f"Shared with {shared}{cats}"
            self.note(
                where, "third_parties", "unmapped",
                f"shared with {shared!r}{cats}: Fides names no system for them; declare them "
                "as holders and add them to this purpose's recipients",
            )  # fmt: skip
        practices = [m.data_security_practices] if m.data_security_practices else []
        if practices:
            purpose["security_measures"] = [*self.measures, *practices]
        if m.uses_profiling:
            bases = ", ".join(enum_value(b) for b in m.legal_basis_for_profiling)
            purpose["automated_decisions"] = "profiling with legal effect" + (
                f" (basis: {bases})" if bases else ""
            )
        self.unmapped(
            where, raw, DECLARATION_MAPPED | {"cookies", "data_qualifier"}, PrivacyDeclaration
        )
        return purpose

    def _retention(self, text: str | None, where: str) -> str | dict[str, str]:
        if text is not None and (rule := rule_from_text(text)):
            return rule
        said = f"Fides says {text!r}, which does not read as a period" if text else "none given"
        self.note(
            where, "retention_period", "placeholder",
            f"{said}: {PLACEHOLDER_RETENTION} written so nothing is kept on a guess (the "
            "audit reports the data overdue until the real rule is written)",
        )  # fmt: skip
        return {"rule": PLACEHOLDER_RETENTION, "note": f"placeholder: {said}"}

    def _flows_of(self, s: _System, decl: Any, siblings: int) -> tuple[list[str], list[str]]:
        """The own systems and the recipients of one declaration's data."""

        def belongs(flow: _Flow, named: list[str] | None, other: str) -> bool:
            if named is not None:
                return other in named
            if siblings == 1:
                return True
            return flow.categories is not None and any(
                covers(a, b) for a in flow.categories for b in decl.data_categories
            )

        systems = [s.key] if s.role == "own" else []
        recipients = [] if s.role == "own" else [s.key]
        for flow in self.flows:
            if flow.source == s.key and belongs(flow, decl.egress, flow.target):
                if self.systems[flow.target].role in ("processor", "sub_processor") and (
                    s.role in ("processor", "sub_processor")
                ):
                    continue  # a sub-processor: declared on the processor
                flow.placed = True
                target = self.systems[flow.target]
                (systems if target.role == "own" else recipients).append(target.key)
            elif flow.target == s.key and belongs(flow, decl.ingress, flow.source):
                flow.placed = True
                source = self.systems[flow.source]
                if source.role == "own":
                    systems.append(source.key)
        return list(dict.fromkeys(systems)), list(dict.fromkeys(recipients))


def import_manifest(
    path: Path,
    *,
    controller: str | None = None,
    country: str = "DK",
    countries: dict[str, str] | None = None,
) -> FidesDocument:
    """The catalog a Fides manifest says, with its notes. ``country`` is where the own
    systems are; ``countries`` gives recipients' countries by system key."""
    try:
        text = path.read_text(encoding="utf-8")
        manifest = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise InputError(f"YAML syntax: {exc.problem}", where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the manifest: {exc}", str(path)) from None
    if not isinstance(manifest, dict):
        raise InputError("not a Fides manifest: no 'system' list", f"{path}:1:1")
    _unknown_keys(path, yaml.compose(text))
    return _Importer(path, controller, country, countries or {}).run(manifest)


def _unknown_keys(path: Path, root: Any) -> None:
    """A key neither fideslang nor its older versions know is a typo (``privacy_declaration``)
    that would silently drop what it holds: an error at its line, with the closest key."""
    from fideslang.models import Organization, PrivacyDeclaration, System

    from lineage.events.taxonomy import suggest

    def check(node: Any, known: set[str], where: str) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):
            return {}
        children = {}
        for key, value in node.value:
            name = str(key.value)
            children[name] = value
            if name not in known:
                hint = suggest(name, known)
                extra = f"; did you mean {hint[0]!r}?" if hint else ""
                mark = key.start_mark
                raise InputError(
                    f"{where}: unknown key {name!r}{extra}",
                    f"{path}:{mark.line + 1}:{mark.column + 1}",
                )
        return children

    def items(name: str) -> list[Any]:
        for key, value in root.value if isinstance(root, yaml.MappingNode) else ():
            if key.value == name and isinstance(value, yaml.SequenceNode):
                return list(value.value)
        return []

    for org in items("organization"):
        check(org, set(Organization.model_fields), "organization")
    for i, node in enumerate(items("system")):
        fields = check(node, set(System.model_fields) | LEGACY_SYSTEM, f"system[{i}]")
        label = getattr(fields.get("fides_key"), "value", None)
        where = f"system {label}" if label else f"system[{i}]"
        decls = fields.get("privacy_declarations")
        for j, decl in enumerate(decls.value if isinstance(decls, yaml.SequenceNode) else ()):
            known = set(PrivacyDeclaration.model_fields) | LEGACY_DECLARATION
            check(decl, known, f"{where}, privacy_declarations[{j}]")
