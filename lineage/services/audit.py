"""The audit: where the declared processing (catalog) and the evidence (events) disagree,
or where either breaks a rule of the GDPR.

Each finding has a severity (error, warning, info), a rule id, the holder and/or purpose, the
evidence and a fix hint. Rules:

    transfer-invalid           transfer outside the EEA with no valid tool on its dates
    transfer-dpf-uncertified   DPF named for a recipient the catalog does not mark certified
    retention-overdue          data held past its retention and not erased
    consent-withdrawn          processing under consent after the consent was withdrawn
    processor-without-dpa      processor or sub-processor without a DPA date (Art. 28(3))
    processor-without-channel  processor or sub-processor with no channel for rights requests
                               (no eraser and no email, webhook or manual channel)
    special-category-no-condition  Art. 9/10 data without an Art. 9(2) condition
    undeclared-purpose         events under a purpose the catalog does not declare
    undeclared-recipient       data observed at a recipient not declared for the purpose
    undeclared-category        categories observed that the purpose does not declare
    legitimate-interest-missing  legitimate interests as basis without the interest stated
    recipient-never-observed   declared recipient that no event shows receiving data (info)
    erasure-overdue            erasure request open past its deadline (Art. 12(3), with
                               extensions; a notified independent controller is done); also
                               rectification, restriction and withdrawal notices
    withdrawal-notice-failed   a consent withdrawal's notice to a recipient failed: it may
                               still process for the withdrawn purpose (Art. 7(3), 28(3)(a))

Without a catalog the rules that need only events still run (``EVENT_RULES``): transfers
judged on the events' own tools, retention where the events carry one, consent, erasure
deadlines; DPF certification is then unknown (a warning). The rest are listed as skipped.
Every judgment comes from the rulebook (``lineage.rules``) through the same fold of each
subject that who-has uses (``services.company``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lineage.catalog.catalog import Catalog
from lineage.projection.store import Store
from lineage.rules.reasons import Reason, Text, english, to_json
from lineage.rules.transfers import dpf_certified, in_eea, validity
from lineage.services.company import Company, Transfer, company
from lineage.services.evidence import Flow, observed_flows
from lineage.services.whohas import requests_as_of
from lineage.timeutil import iso

SEVERITIES = ("error", "warning", "info")
# Rules that need only events, and those that need the catalog.
EVENT_RULES = (
    "transfer-invalid",
    "transfer-dpf-uncertified",
    "retention-overdue",
    "consent-withdrawn",
    "erasure-overdue",
    "withdrawal-notice-failed",
)
CATALOG_RULES = (
    "processor-without-dpa",
    "processor-without-channel",
    "special-category-no-condition",
    "undeclared-purpose",
    "undeclared-recipient",
    "undeclared-category",
    "legitimate-interest-missing",
    "recipient-never-observed",
)


@dataclass(frozen=True)
class Finding:
    severity: str
    rule: str
    message: Text
    fix: Text
    holder: str | None = None
    purpose: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """``message`` and ``fix`` in English, and their parts for other languages."""
        return {
            "severity": self.severity,
            "rule": self.rule,
            "message": english(self.message),
            "fix": english(self.fix),
            "holder": self.holder,
            "purpose": self.purpose,
            "evidence": self.evidence,
            "message_parts": to_json(self.message),
            "fix_parts": to_json(self.fix),
        }


def _t(code: str, **params: Any) -> Text:
    return (_r(code, **params),)


def _r(code: str, **params: Any) -> Reason:
    return Reason(code, {k: v if isinstance(v, int) else str(v) for k, v in params.items()})


def reaches(severity: str, threshold: str) -> bool:
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


def report(catalog: Catalog | None, store: Store, as_of: datetime) -> dict[str, Any]:
    """``lineage audit --format json`` and ``GET /v1/audit``: the findings with a summary."""
    from lineage.timeutil import iso

    findings = audit(catalog, store, as_of)
    return {
        "as_of": iso(as_of),
        "catalog": catalog.path if catalog else None,
        "skipped_rules": [] if catalog is not None else list(CATALOG_RULES),
        "summary": {
            s: sum(f.severity == s for f in findings) for s in ("error", "warning", "info")
        },
        "findings": [f.to_json() for f in findings],
    }


def audit(
    catalog: Catalog | None, store: Store, as_of: datetime, *, keep: bool = True
) -> list[Finding]:
    """Every finding as of ``as_of``; without a catalog, those of ``EVENT_RULES``.
    ``keep=False``: every subject folded now (``services.company``)."""
    evidence = company(store, as_of, catalog, keep=keep)
    out: list[Finding] = []
    if catalog is not None:
        out += _declared(catalog, as_of)
        out += _flows(catalog, observed_flows(store, as_of))
    out += _transfers(catalog, evidence)
    out += _retention(evidence)
    out += _consent(evidence)
    out += _erasure(store, as_of)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    out.sort(key=lambda f: (order[f.severity], f.rule, f.holder or "", f.purpose or ""))
    return out


def _declared(catalog: Catalog, as_of: datetime) -> Iterable[Finding]:
    """Rules on the catalog alone."""
    for name, h in catalog.holders.items():
        if h.role in ("processor", "sub_processor") and h.dpa_signed is None:
            yield Finding(
                "error",
                "processor-without-dpa",
                _t(f"audit.no_dpa.{h.role}", holder=name),
                _t("audit.no_dpa.fix", holder=name),
                holder=name,
            )
        if h.role in ("processor", "sub_processor") and h.channel is None and not h.eraser:
            yield Finding(
                "warning",
                "processor-without-channel",
                _t(f"audit.no_channel.{h.role}", holder=name),
                _t("audit.no_channel.fix", holder=name),
                holder=name,
            )
        if not in_eea(h.country, as_of.date()):
            mechanism = h.transfer.mechanism if h.transfer else None
            v = validity(mechanism, h.country, as_of, as_of)
            if not v.valid:
                yield Finding(
                    "error",
                    "transfer-invalid",
                    (
                        _r(
                            "audit.declared_tool_invalid",
                            holder=name,
                            country=h.country,
                            mechanism=mechanism or "none",
                        ),
                        *v.parts,
                    ),
                    _transfer_fix(h.country),
                    holder=name,
                    evidence={"declared": True, "country": h.country, "mechanism": mechanism},
                )
            elif mechanism == "dpf" and not h.dpf_certified:
                yield _dpf_uncertified(name, {"declared": True})
    for pid, p in catalog.purposes.items():
        special = [c for c in p.categories if catalog.special(c)]
        if special and not p.art9_condition:
            yield Finding(
                "error",
                "special-category-no-condition",
                _t("audit.special_declared", purpose=pid, categories=", ".join(special)),
                _t("audit.special_declared.fix", purpose=pid),
                purpose=pid,
                evidence={"categories": special},
            )
        if p.legal_basis == "legitimate_interests" and not p.legitimate_interest:
            yield Finding(
                "warning",
                "legitimate-interest-missing",
                _t("audit.interest_missing", purpose=pid),
                _t("audit.interest_missing.fix", purpose=pid),
                purpose=pid,
            )


def _dpf_uncertified(holder: str, evidence: dict[str, Any], known: bool = True) -> Finding:
    if not known:
        return Finding(
            "warning",
            "transfer-dpf-uncertified",
            _t("audit.dpf_unknown", holder=holder),
            _t("audit.dpf_unknown.fix", holder=holder),
            holder=holder,
            evidence=evidence,
        )
    return Finding(
        "error",
        "transfer-dpf-uncertified",
        _t("audit.dpf_uncertified", holder=holder),
        _t("audit.dpf_uncertified.fix", holder=holder),
        holder=holder,
        evidence=evidence,
    )


def _transfer_fix(country: str) -> Text:
    return _t("audit.transfer_fix_us" if country == "US" else "audit.transfer_fix")


def _transfers(catalog: Catalog | None, evidence: Company) -> Iterable[Finding]:
    """One finding per recipient, purpose and tool, summed over the sources."""
    merged: dict[tuple[str, str | None, str], list[Transfer]] = {}
    for g in evidence.transfers.values():
        merged.setdefault((g.holder, g.purpose, g.mechanism), []).append(g)
    for (holder, purpose, mechanism), groups in sorted(
        merged.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2])
    ):
        invalid = sum(g.invalid for g in groups)
        problems = tuple(dict.fromkeys(p for g in groups for p in g.problems))
        country = groups[0].country
        ev = {
            "country": country,
            "mechanism": mechanism,
            "from": sorted({g.from_holder or "" for g in groups}),
            "subjects": sum(g.subjects for g in groups),
            "first_seen": iso(min(g.first_seen for g in groups if g.first_seen)),
            "last_seen": iso(max(g.last_seen for g in groups if g.last_seen)),
        }
        if invalid:
            unrecorded = mechanism == "none" and catalog is None
            yield Finding(
                "warning" if unrecorded else "error",
                "transfer-invalid",
                (
                    _r(
                        "audit.transfer_invalid_no_tool",
                        subjects=invalid,
                        holder=holder,
                        country=country,
                    )
                    if mechanism == "none"
                    else _r(
                        "audit.transfer_invalid",
                        subjects=invalid,
                        holder=holder,
                        country=country,
                        mechanism=mechanism,
                    ),
                    *problems,
                    *(_t("audit.no_catalog_declares") if unrecorded else ()),
                ),
                _transfer_fix(country),
                holder=holder,
                purpose=purpose,
                evidence={**ev, "invalid_subjects": invalid},
            )
        elif mechanism == "dpf" and not dpf_certified(catalog, holder):
            yield _dpf_uncertified(holder, ev, known=catalog is not None)


def _flows(catalog: Catalog, flows: list[Flow]) -> Iterable[Finding]:
    """Observed flows against the declared purposes, matched as every command matches them
    (``Catalog.purposes_for``: the hierarchy, the holder, the category)."""
    observed: set[tuple[str, str]] = set()
    undeclared_purposes: dict[str, list[Flow]] = {}
    for f in flows:
        pids = catalog.purposes_for(f.purpose, f.holder)
        if not pids:
            undeclared_purposes.setdefault(f.purpose or "(none)", []).append(f)
            continue
        by_category = {c: catalog.purposes_for(f.purpose, f.holder, c) for c in f.categories}
        matched = list(dict.fromkeys([*pids, *(p for ps in by_category.values() for p in ps)]))
        observed.update((pid, f.holder) for pid in matched)
        if not any(f.holder in catalog.reach_of(pid) for pid in matched):
            known = f.holder in catalog.holders
            yield Finding(
                "warning" if known else "error",
                "undeclared-recipient",
                _t(
                    "audit.undeclared_recipient",
                    subjects=f.subjects,
                    holder=f.holder,
                    purposes="/".join(pids),
                ),
                _t(
                    "audit.undeclared_recipient.fix"
                    if known
                    else "audit.undeclared_recipient.fix_holder",
                    holder=f.holder,
                    purpose=pids[0],
                ),
                holder=f.holder,
                purpose=pids[0],
                evidence=_flow_evidence(f),
            )
        extra = [c for c, ps in by_category.items() if not catalog.declares_category(ps, c)]
        if extra:
            yield Finding(
                "warning",
                "undeclared-category",
                _t(
                    "audit.undeclared_category",
                    categories=", ".join(extra),
                    holder=f.holder,
                    purposes="/".join(pids),
                ),
                _t("audit.undeclared_category.fix", purpose=pids[0]),
                holder=f.holder,
                purpose=pids[0],
                evidence=_flow_evidence(f),
            )
        special = [
            c
            for c, ps in by_category.items()
            if catalog.special(c) and not any(catalog.purposes[p].art9_condition for p in ps)
        ]
        if special:
            yield Finding(
                "error",
                "special-category-no-condition",
                _t(
                    "audit.special_observed",
                    categories=", ".join(special),
                    holder=f.holder,
                    purposes="/".join(pids),
                ),
                _t("audit.special_observed.fix", purpose=pids[0]),
                holder=f.holder,
                purpose=pids[0],
                evidence=_flow_evidence(f),
            )
    for use, fs in undeclared_purposes.items():
        yield Finding(
            "error",
            "undeclared-purpose",
            _t(
                "audit.undeclared_purpose",
                purpose=use,
                holders=", ".join(sorted({f.holder for f in fs})),
            ),
            _t("audit.undeclared_purpose.fix", purpose=use),
            holder=fs[0].holder,
            purpose=use,
            evidence={"subjects": max(f.subjects for f in fs), "events": sum(f.events for f in fs)},
        )
    if not flows:
        return  # no evidence at all: "never observed" would say nothing
    for pid, p in catalog.purposes.items():
        for r in dict.fromkeys([*p.recipients, *(t.recipient for t in p.transfers)]):
            if (pid, r) not in observed:
                yield Finding(
                    "info",
                    "recipient-never-observed",
                    _t("audit.never_observed", holder=r, purpose=pid),
                    _t("audit.never_observed.fix"),
                    holder=r,
                    purpose=pid,
                )


def _flow_evidence(f: Flow) -> dict[str, Any]:
    return {
        "from": f.from_holder,
        "categories": list(f.categories),
        "subjects": f.subjects,
        "events": f.events,
        "first_seen": iso(f.first_seen),
        "last_seen": iso(f.last_seen),
    }


def _retention(evidence: Company) -> Iterable[Finding]:
    for o in evidence.overdue.values():
        special = o.special
        yield Finding(
            "error",
            "retention-overdue",
            (
                _r(
                    "audit.retention_overdue",
                    subjects=o.subjects,
                    holder=o.holder,
                    categories=", ".join(sorted(o.categories)),
                    date=(iso(o.earliest) or "")[:10],
                ),
                *(_t("audit.special_categories", categories=", ".join(special)) if special else ()),
            ),
            _t("audit.retention_overdue.fix", holder=o.holder),
            holder=o.holder,
            purpose=sorted(o.pids)[0] if o.pids else sorted(o.purposes)[0],
            evidence={
                "subjects": o.subjects,
                "categories": sorted(o.categories),
                "special_categories": special,
                "purposes": sorted(o.purposes),
                "catalog_purposes": sorted(o.pids),
                "earliest_retain_until": iso(o.earliest),
                "latest_retain_until": iso(o.latest),
                "example_subjects": o.examples,
            },
        )


def _consent(evidence: Company) -> Iterable[Finding]:
    for (holder, purpose), b in sorted(evidence.consent.items()):
        yield Finding(
            "error",
            "consent-withdrawn",
            _t(
                "audit.consent_withdrawn",
                events=b.events,
                holder=holder,
                subjects=b.subjects,
                purpose=purpose,
            ),
            _t("audit.consent_withdrawn.fix"),
            holder=holder,
            purpose=purpose,
            evidence={
                "subjects": b.subjects,
                "events": b.events,
                "first_at": iso(b.first_at),
                "last_at": iso(b.last_at),
            },
        )


def _erasure(store: Store, as_of: datetime) -> Iterable[Finding]:
    """The requests ``erasure status`` shows overdue: the same fold, the same deadline; and
    withdrawal notices that failed before their deadline."""
    for q in sorted(requests_as_of(store, as_of).values(), key=lambda q: q.received_at):
        if not q.overdue(as_of):
            if q.kind == "withdrawal" and not q.completed:
                yield from _withdrawal_failed(q)
            continue
        holders = sorted({t.holder for t in q.tasks.values() if not t.settled})
        failed = {t.holder: t.note for t in q.tasks.values() if t.status == "failed"}
        yield Finding(
            "error",
            "erasure-overdue",
            (
                _r(
                    "audit.erasure_overdue",
                    kind=q.kind,
                    request=q.request_id,
                    received=iso(q.received_at),
                    deadline=iso(q.deadline),
                ),
                _r("audit.open_at", holders=", ".join(holders)) if holders else _r("audit.no_task"),
                *(_r("audit.failed_at", holder=h, note=why) for h, why in sorted(failed.items())),
            ),
            _t("audit.erasure_overdue.fix"),
            holder=holders[0] if holders else None,
            evidence={
                "request_id": q.request_id,
                "kind": q.kind,
                "deadline": iso(q.deadline),
                "extended": bool(q.extensions),
                "open_holders": holders,
                "failed": failed,
            },
        )


def _withdrawal_failed(q: Any) -> Iterable[Finding]:
    for t in sorted(q.tasks.values(), key=lambda t: t.holder):
        if t.status != "failed":
            continue
        yield Finding(
            "warning",
            "withdrawal-notice-failed",
            _t(
                "audit.withdrawal_failed",
                purpose=q.purpose,
                request=q.request_id,
                holder=t.holder,
                channel=t.channel or "?",
                note=t.note or "?",
            ),
            _t("audit.withdrawal_failed.fix", request=q.request_id, holder=t.holder),
            holder=t.holder,
            purpose=q.purpose,
            evidence={
                "request_id": q.request_id,
                "kind": q.kind,
                "deadline": iso(q.deadline),
                "channel": t.channel,
                "attempts": t.attempts,
                "reason": t.note,
            },
        )
