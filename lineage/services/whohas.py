"""who-has: every holder of a subject's data, as of a time, from the events alone.

Events are replayed in order for the subject's whole identity component:
- DataCollected puts categories at an own system (role ``controller``);
- DataShared / DataTransferred put them at the recipient, with its role and country;
- DataErased removes categories at one holder (all of them when none are named);
- ConsentWithdrawn marks the purposes it names.
A holder outside the EEA reports its transfer tool and whether it is valid as of the time
asked (``services.transfers``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lineage.events.taxonomy import special_category
from lineage.graph.flows import FlowGraph
from lineage.projection.store import Store
from lineage.services.transfers import in_eea, validity
from lineage.timeutil import add_duration, iso


@dataclass
class _Transfer:
    country: str
    mechanism: str | None
    at: datetime
    mechanism_ref: str | None = None


@dataclass
class _Holding:
    name: str
    role: str | None = None
    country: str | None = None
    categories: dict[str, datetime] = field(default_factory=dict)
    erased: dict[str, datetime] = field(default_factory=dict)
    purposes: dict[tuple[str, str | None], datetime] = field(default_factory=dict)
    retain: dict[tuple[str, str | None], datetime | None] = field(default_factory=dict)
    since: datetime | None = None
    transfer: _Transfer | None = None

    def receive(
        self,
        categories: list[str],
        at: datetime,
        purpose: str | None,
        basis: str | None,
        retention: str | None,
    ) -> None:
        if not self.categories:
            self.since = at
        for c in categories:
            self.categories.setdefault(c, at)
            self.erased.pop(c, None)
        if purpose:
            key = (purpose, basis)
            self.purposes.setdefault(key, at)
            until = add_duration(at, retention) if retention else None
            previous = self.retain.get(key)
            self.retain[key] = (
                until if previous is None or (until and until > previous) else previous
            )

    def erase(self, categories: list[str], at: datetime) -> None:
        for c in categories or list(self.categories):
            if c in self.categories:
                del self.categories[c]
                self.erased[c] = at
        if not self.categories:
            self.purposes.clear()
            self.retain.clear()
            self.since = None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def identity_component(store: Store, refs: list[str], as_of: datetime) -> list[str]:
    """Every reference linked to ``refs``, directly or through others, by links recorded up
    to ``as_of``: the identity graph's connected component, sorted.

    Walked here one indexed hop at a time: a component has a handful of references, and a
    recursive SQL query joins the whole link table on every step."""
    naive = as_of.astimezone(UTC).replace(tzinfo=None)
    seen = set(refs)
    todo = list(seen)
    while todo:
        for linked, at in store.fetch("identity_links_of", {"ref": todo.pop()}):
            if at <= naive and linked not in seen:
                seen.add(linked)
                todo.append(linked)
    return sorted(seen)


def subject_events(store: Store, refs: list[str], as_of: datetime) -> list[dict[str, Any]]:
    """The lineage events of the references ``refs`` up to ``as_of``, in log order of time."""
    naive = as_of.astimezone(UTC).replace(tzinfo=None)
    rows = [
        row
        for ref in refs
        for row in store.fetch_dicts("subject_events", {"ref": ref})
        if row["occurred_at"] <= naive and row["event_type"] != "IdentityLinked"
    ]
    rows.sort(key=lambda r: (r["occurred_at"], r["log_partition"], r["log_offset"]))
    return rows


def who_has(store: Store, refs: list[str], as_of: datetime) -> dict[str, Any]:
    """The answer for the subject known by ``refs`` (its first is the one asked about)."""
    component = identity_component(store, refs, as_of)
    rows = subject_events(store, component, as_of)
    holdings: dict[str, _Holding] = {}
    graph = FlowGraph()
    withdrawn: dict[str, datetime] = {}

    def holding(name: str) -> _Holding:
        h = holdings.get(name)
        if h is None:
            h = holdings[name] = _Holding(name)
        return h

    for row in rows:
        et = row["event_type"]
        at = _utc(row["occurred_at"])
        if et == "DataCollected":
            h = holding(row["holder"])
            h.role = "controller"
            h.receive(row["categories"], at, row["purpose"], row["legal_basis"], row["retention"])
            graph.collected(row["holder"])
        elif et in ("DataShared", "DataTransferred"):
            h = holding(row["holder"])
            h.role = row["role"] or h.role
            h.country = row["country"] or h.country
            h.receive(row["categories"], at, row["purpose"], row["legal_basis"], row["retention"])
            graph.flowed(row["from_holder"], row["holder"], et)
            if row["from_holder"] not in holdings:
                holding(row["from_holder"])
            if et == "DataTransferred":
                h.transfer = _Transfer(row["country"], row["mechanism"], at, row["mechanism_ref"])
        elif et == "DataErased":
            holding(row["holder"]).erase(row["categories"] or [], at)
        elif et == "ConsentWithdrawn":
            withdrawn[row["purpose"]] = at
        elif et == "ConsentGiven":
            withdrawn.pop(row["purpose"], None)

    out = []
    for h in holdings.values():
        if not h.categories and not h.erased:
            continue  # named only as a source of a flow
        out.append(_render(h, graph, withdrawn, as_of))
    out.sort(key=lambda r: (r["since"] or "9999", r["holder"]))
    return {"subject": refs[0], "as_of": iso(as_of), "holders": out}


def _render(
    h: _Holding, graph: FlowGraph, withdrawn: dict[str, datetime], as_of: datetime
) -> dict[str, Any]:
    purposes = []
    for purpose, basis in h.purposes:
        entry: dict[str, Any] = {"purpose": purpose, "legal_basis": basis}
        if basis == "consent" and purpose in withdrawn:
            entry["consent_withdrawn_at"] = iso(withdrawn[purpose])
        purposes.append(entry)
    known = [u for u in h.retain.values() if u is not None]
    transfer = None
    if h.country and not (h.transfer is None and in_eea(h.country, as_of.date())):
        t = h.transfer or _Transfer(h.country, None, h.since or as_of)
        if not in_eea(t.country, t.at.date()):
            v = validity(t.mechanism, t.country, t.at, as_of)
            transfer = {
                "country": t.country,
                "mechanism": t.mechanism or "none",
                "valid": v.valid,
                "reason": v.reason,
                "mechanism_ref": t.mechanism_ref,
            }
    categories = sorted(h.categories)
    return {
        "holder": h.name,
        "role": h.role,
        "country": h.country,
        "categories": categories,
        "purposes": purposes,
        "since": iso(h.since),
        "retain_until": iso(max(known)) if known else None,
        "transfer": transfer,
        "path": graph.path(h.name),
        "status": "held" if categories else "erased",
        "special_categories": [c for c in categories if special_category(c)],
        "erased_categories": sorted(h.erased),
    }
