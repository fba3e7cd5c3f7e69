"""The audit: where the declared processing (catalog) and the evidence (events) disagree,
or where either breaks a rule of the GDPR.

Each finding has a severity (error, warning, info), a rule id, the holder and/or purpose, the
evidence and a fix hint. Rules:

    transfer-invalid           transfer outside the EEA with no valid tool on its dates
    transfer-dpf-uncertified   DPF named for a recipient the catalog does not mark certified
    retention-overdue          data held past its retention and not erased
    consent-withdrawn          processing under consent after the consent was withdrawn
    processor-without-dpa      processor or sub-processor without a DPA date (Art. 28(3))
    special-category-no-condition  Art. 9/10 data without an Art. 9(2) condition
    undeclared-purpose         events under a purpose the catalog does not declare
    undeclared-recipient       data observed at a recipient not declared for the purpose
    undeclared-category        categories observed that the purpose does not declare
    legitimate-interest-missing  legitimate interests as basis without the interest stated
    recipient-never-observed   declared recipient that no event shows receiving data (info)
    erasure-overdue            erasure request open past the one-month deadline (Art. 12(3))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from lineage.catalog.catalog import Catalog
from lineage.projection.store import Store
from lineage.services.evidence import (
    Flow,
    Move,
    aware,
    naive_utc,
    observed_flows,
    register,
    transfer_state,
)
from lineage.services.transfers import in_eea, validity
from lineage.timeutil import iso

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    severity: str
    rule: str
    message: str
    fix: str
    holder: str | None = None
    purpose: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def reaches(severity: str, threshold: str) -> bool:
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


def audit(catalog: Catalog, store: Store, as_of: datetime) -> list[Finding]:
    flows = observed_flows(store, as_of)
    out: list[Finding] = []
    out += _declared(catalog, as_of)
    out += _transfers(catalog, transfer_state(store, as_of), as_of)
    out += _flows(catalog, flows)
    out += _retention(catalog, store, as_of)
    out += _consent(store, as_of)
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
                f"{name} is a {h.role.replace('_', '-')} with no data processing agreement "
                "recorded",
                f"sign a DPA (Art. 28(3)) and record its date as holders.{name}.dpa_signed",
                holder=name,
            )
        if not in_eea(h.country, as_of.date()):
            mechanism = h.transfer.mechanism if h.transfer else None
            v = validity(mechanism, h.country, as_of, as_of)
            if not v.valid:
                yield Finding(
                    "error",
                    "transfer-invalid",
                    f"{name} is in {h.country} and the catalog's transfer tool "
                    f"({mechanism or 'none'}) is not valid: {v.reason}",
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
                f"purpose {pid} declares special categories ({', '.join(special)}) "
                "without an Art. 9(2) condition",
                f"set purposes.{pid}.art9_condition (e.g. explicit_consent) or stop "
                "processing these categories",
                purpose=pid,
                evidence={"categories": special},
            )
        if p.legal_basis == "legitimate_interests" and not p.legitimate_interest:
            yield Finding(
                "warning",
                "legitimate-interest-missing",
                f"purpose {pid} relies on legitimate interests without stating them",
                f"write the interest and the balancing in purposes.{pid}.legitimate_interest",
                purpose=pid,
            )


def _dpf_uncertified(holder: str, evidence: dict[str, Any]) -> Finding:
    return Finding(
        "error",
        "transfer-dpf-uncertified",
        f"transfers to {holder} rely on the Data Privacy Framework, but {holder} is not "
        "marked as certified",
        f"check the DPF list and set holders.{holder}.dpf_certified: true, or use the 2021 SCCs",
        holder=holder,
        evidence=evidence,
    )


def _transfer_fix(country: str) -> str:
    if country == "US":
        return "use the DPF with a certified recipient, or the 2021 SCCs with a transfer assessment"
    return "sign the 2021 SCCs (Decision 2021/914) or rely on an adequacy decision"


def judge_move(
    catalog: Catalog | None, f: Move, as_of: datetime
) -> tuple[str | None, list[str], int]:
    """The tool a move relied on, why it is not valid (empty when it is), and how many of
    its subjects that concerns: each day's moves are judged on their own date. A share
    without a transfer event relies on the catalog's tool for the purpose or the holder."""
    mechanism = f.mechanism
    if mechanism is None and catalog is not None:
        for pid in catalog.purposes_for(f.purpose, f.holder):
            decl = catalog.transfer_of(pid, f.holder)
            mechanism = mechanism or (decl.mechanism if decl else None)
        holder = catalog.holders.get(f.holder)
        if mechanism is None and holder is not None and holder.transfer:
            mechanism = holder.transfer.mechanism
    problems: list[str] = []
    invalid = 0
    days = f.days or ((f.first_seen.date(), f.subjects),)
    for day, subjects in days:
        when = datetime(day.year, day.month, day.day, tzinfo=UTC)
        v = validity(mechanism, f.country, when, as_of)
        if not v.valid:
            invalid += subjects
            if v.reason not in problems:
                problems.append(v.reason)
    return mechanism, problems, invalid


def _transfers(catalog: Catalog, moves: list[Move], as_of: datetime) -> Iterable[Finding]:
    seen: set[tuple[str, str | None, str]] = set()
    for f in moves:
        if in_eea(f.country, f.first_seen.date()) and in_eea(f.country, f.last_seen.date()):
            continue
        holder = catalog.holders.get(f.holder)
        mechanism, problems, invalid = judge_move(catalog, f, as_of)
        evidence = {
            "country": f.country,
            "mechanism": mechanism or "none",
            "from": f.from_holder,
            "subjects": f.subjects,
            "first_seen": iso(f.first_seen),
            "last_seen": iso(f.last_seen),
        }
        key = (f.holder, f.purpose, mechanism or "none")
        if problems and key not in seen:
            seen.add(key)
            yield Finding(
                "error",
                "transfer-invalid",
                f"data of {invalid} subject(s) went to {f.holder} in {f.country} under "
                f"{mechanism or 'no tool'}: {'; '.join(problems)}",
                _transfer_fix(f.country),
                holder=f.holder,
                purpose=f.purpose,
                evidence=evidence,
            )
        elif (
            mechanism == "dpf" and (holder is None or not holder.dpf_certified) and key not in seen
        ):
            seen.add(key)
            yield _dpf_uncertified(f.holder, evidence)


def _covers(declared: Iterable[str], category: str) -> bool:
    return any(
        category == d or category.startswith(d + ".") or d.startswith(category + ".")
        for d in declared
    )


def _flows(catalog: Catalog, flows: list[Flow]) -> Iterable[Finding]:
    observed: set[tuple[str, str]] = set()
    undeclared_purposes: dict[str, list[Flow]] = {}
    for f in flows:
        pids = catalog.purposes_for(f.purpose, f.holder)
        if not pids:
            undeclared_purposes.setdefault(f.purpose or "(none)", []).append(f)
            continue
        allowed: set[str] = set()
        for pid in pids:
            allowed |= catalog.holders_of(pid)
            observed.add((pid, f.holder))
        for name in list(allowed):
            h = catalog.holders.get(name)
            allowed |= set(h.sub_processors) if h else set()
        declared_cats = {c for pid in pids for c in catalog.purposes[pid].categories}
        if f.holder not in allowed:
            known = f.holder in catalog.holders
            yield Finding(
                "warning" if known else "error",
                "undeclared-recipient",
                f"{f.subjects} subject(s)' data observed at {f.holder} for "
                f"{'/'.join(pids)}, which does not declare it",
                f"add {f.holder} to purposes.{pids[0]}.recipients"
                + ("" if known else f" and declare it under holders.{f.holder}"),
                holder=f.holder,
                purpose=pids[0],
                evidence=_flow_evidence(f),
            )
        extra = [c for c in f.categories if not _covers(declared_cats, c)]
        if extra:
            yield Finding(
                "warning",
                "undeclared-category",
                f"categories {', '.join(extra)} observed at {f.holder} for {'/'.join(pids)} "
                "are not declared",
                f"add them to purposes.{pids[0]}.categories, or stop collecting them",
                holder=f.holder,
                purpose=pids[0],
                evidence=_flow_evidence(f),
            )
        special = [c for c in f.categories if catalog.special(c)]
        if special and not any(catalog.purposes[p].art9_condition for p in pids):
            yield Finding(
                "error",
                "special-category-no-condition",
                f"special categories {', '.join(special)} observed at {f.holder} for "
                f"{'/'.join(pids)} without an Art. 9(2) condition",
                f"set purposes.{pids[0]}.art9_condition or stop processing them",
                holder=f.holder,
                purpose=pids[0],
                evidence=_flow_evidence(f),
            )
    for use, fs in undeclared_purposes.items():
        yield Finding(
            "error",
            "undeclared-purpose",
            f"events under {use} at {', '.join(sorted({f.holder for f in fs}))}: no catalog "
            "purpose has this data use",
            f"declare a purpose with data_use: {use}, or correct the connector",
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
                    f"{r} is declared as a recipient for {pid} but no event shows it "
                    "receiving data",
                    "connect the recipient's flow to lineage, or remove it from the catalog",
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


def _months_days(duration: str) -> tuple[int, int]:
    from lineage.timeutil import parse_duration

    d = parse_duration(duration)
    months = int(getattr(d, "years", 0)) * 12 + int(getattr(d, "months", 0))
    delta = getattr(d, "tdelta", d)
    return months, int(delta.days)


def _retention(catalog: Catalog, store: Store, as_of: datetime) -> Iterable[Finding]:
    pairs = store.fetch("distinct_purpose_holder", {"as_of": naive_utc(as_of)})
    rule_rows = []
    for use, holder in pairs:
        for pid in catalog.purposes_for(use, holder):
            rule = catalog.rules[pid]
            months, days = _months_days(rule.duration) if rule.duration else (0, 0)
            rule_rows.append(
                (use, holder, pid, rule.runs_from, str(months), str(days),
                 "true" if rule.until_consent_withdrawn else "false")
            )  # fmt: skip
    retentions = [r[0] for r in store.fetch("distinct_retention", {"as_of": naive_utc(as_of)})]
    retention_rows = [(r, *map(str, _months_days(r))) for r in retentions]
    month, day = (int(x) for x in catalog.doc.controller.financial_year_end.split("-"))
    register(
        store,
        "rule_map",
        ("purpose", "holder", "pid", "runs_from", "months", "days", "until_withdrawn"),
        rule_rows,
    )
    register(store, "retention_map", ("retention", "months", "days"), retention_rows)
    try:
        rows = store.fetch_dicts(
            "retention_overdue", {"as_of": naive_utc(as_of), "fy_month": month, "fy_day": day}
        )
    finally:
        store.con.unregister("rule_map")
        store.con.unregister("retention_map")
    for r in rows:
        pids = [p for p in r["pids"] if p]
        yield Finding(
            "error",
            "retention-overdue",
            f"{r['subjects']} subject(s)' data at {r['holder']} ({', '.join(r['purposes'])}) "
            f"held past retention (ended from {iso(aware(r['earliest_until']))[:10]})",  # type: ignore[index]
            f"erase it at {r['holder']} (lineage erase) or record the Art. 17(3) reason to keep it",
            holder=r["holder"],
            purpose=pids[0] if pids else r["purposes"][0],
            evidence={
                "subjects": r["subjects"],
                "purposes": r["purposes"],
                "catalog_purposes": pids,
                "earliest_retain_until": iso(aware(r["earliest_until"])),
                "latest_retain_until": iso(aware(r["latest_until"])),
                "example_subjects": [e[:16] for e in r["examples"]],
            },
        )


def _consent(store: Store, as_of: datetime) -> Iterable[Finding]:
    for r in store.fetch_dicts("consent_after_withdrawal", {"as_of": naive_utc(as_of)}):
        yield Finding(
            "error",
            "consent-withdrawn",
            f"{r['events']} event(s) at {r['holder']} processed {r['subjects']} subject(s)' "
            f"data under consent for {r['purpose']} after they withdrew it",
            "stop the flow for subjects who withdrew (check the connector honours withdrawal)",
            holder=r["holder"],
            purpose=r["purpose"],
            evidence={
                "subjects": r["subjects"],
                "events": r["events"],
                "first_at": iso(aware(r["first_at"])),
                "last_at": iso(aware(r["last_at"])),
            },
        )


def _erasure(store: Store, as_of: datetime) -> Iterable[Finding]:
    for r in store.fetch_dicts("erasure_overdue", {"as_of": naive_utc(as_of)}):
        holders = list(r["open_holders"] or [])
        yield Finding(
            "error",
            "erasure-overdue",
            f"erasure request {r['request_id']} received {iso(aware(r['received_at']))} is "
            f"past its one-month deadline"
            + (f"; open at {', '.join(holders)}" if holders else "; no task recorded"),
            "complete the tasks, or tell the subject of the extension (Art. 12(3)) with reasons",
            holder=holders[0] if holders else None,
            evidence={"request_id": r["request_id"], "open_holders": holders},
        )
