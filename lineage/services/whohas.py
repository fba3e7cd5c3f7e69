"""who-has: every holder of a subject's data, as of a time, from the events alone.

Events are replayed in order for the subject's whole identity component:
- DataCollected puts categories at an own system (role ``controller``);
- DataShared / DataTransferred put them at the recipient, with its role and country;
- DataErased removes categories at one holder (all of them when none are named);
- ConsentWithdrawn marks the purposes it names.
A holder outside the EEA reports its transfer tool and whether it is valid as of the time
asked (``services.transfers``).

Retention: an event's own ``retention`` runs from the event. Without one, the catalog's rule
for the purpose decides (``catalog.retention``). Data may be kept as long as any of its
purposes allows, so a purpose kept "until consent is withdrawn" (still given) leaves the
holder's ``retain_until`` open (null); ``retention`` lists the reckoning per purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lineage.events.taxonomy import special_category
from lineage.graph.flows import FlowGraph
from lineage.projection.store import Store
from lineage.services.transfers import in_eea, validity
from lineage.timeutil import add_duration, iso

if TYPE_CHECKING:
    from lineage.catalog.catalog import Catalog
    from lineage.catalog.retention import RetentionRule


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
    last: dict[tuple[str, str | None], datetime] = field(default_factory=dict)
    since: datetime | None = None
    transfer: _Transfer | None = None
    own: bool = False  # one of our own systems (it collected from the subject)
    # Categories received under each purpose: an Art. 17(3) exception covers only those.
    purpose_categories: dict[tuple[str, str | None], set[str]] = field(default_factory=dict)

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
            self.last[key] = at
            self.purpose_categories.setdefault(key, set()).update(categories)
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
            self.last.clear()
            self.purpose_categories.clear()
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


@dataclass
class Replay:
    """A subject's events replayed: holdings by holder, the flow graph, withdrawn consents,
    and the rows (which include the subject's rights requests)."""

    component: list[str]
    holdings: dict[str, _Holding]
    graph: FlowGraph
    withdrawn: dict[str, datetime]
    rows: list[dict[str, Any]]
    activity: dict[str, datetime]  # last event under each purpose, at any holder

    def held(self) -> list[_Holding]:
        """Holders that hold some category now, in the order data reached them."""
        out = [h for h in self.holdings.values() if h.categories]
        return sorted(out, key=lambda h: (h.since or datetime.max.replace(tzinfo=UTC), h.name))


def who_has(
    store: Store, refs: list[str], as_of: datetime, catalog: Catalog | None = None
) -> dict[str, Any]:
    """The answer for the subject known by ``refs`` (its first is the one asked about)."""
    from lineage.services.erasure.state import fold

    r = replay(store, refs, as_of)
    requests = fold(r.rows)
    retention = _Retention(catalog, r.activity, r.withdrawn)
    out = []
    for h in r.holdings.values():
        if not h.categories and not h.erased:
            continue  # named only as a source of a flow
        entry = _render(h, r.graph, r.withdrawn, as_of, retention)
        entry["status"] = _status(entry["status"], h.name, requests.values())
        out.append(entry)
    out.sort(key=lambda r: (r["since"] or "9999", r["holder"]))
    return {
        "subject": refs[0],
        "as_of": iso(as_of),
        "holders": out,
        # The accountability record: after a completed erasure, the only answer left.
        "requests": [
            {
                "request_id": q.request_id,
                "kind": q.kind,
                "received_at": iso(q.received_at),
                "status": q.status(as_of),
                "completed_at": iso(q.completed_at),
                "tasks": [
                    {"holder": t.holder, "action": t.action, "status": t.status}
                    for t in q.tasks.values()
                ],
            }
            for q in requests.values()
        ],
    }


def _status(held: str, holder: str, requests: Any) -> str:
    """held / erased, or what an open request does there: erasure_pending, retained (under
    an Art. 17(3) exception, restricted meanwhile), restricted (Art. 18)."""
    if held != "held":
        return held
    status = held
    for q in requests:
        for t in q.tasks.values():
            if t.holder != holder or t.done:
                continue
            if q.kind == "erasure" and (t.action == "retain" or t.status == "retained"):
                return "retained"
            if q.kind == "erasure" and t.action == "erase":
                status = "erasure_pending"
        if q.kind == "restriction" and any(t.holder == holder for t in q.tasks.values()):
            status = "restricted"
    return status


def replay(store: Store, refs: list[str], as_of: datetime) -> Replay:
    component = identity_component(store, refs, as_of)
    rows = subject_events(store, component, as_of)
    holdings: dict[str, _Holding] = {}
    graph = FlowGraph()
    withdrawn: dict[str, datetime] = {}
    activity: dict[str, datetime] = {}  # last event under each purpose, at any holder

    def holding(name: str) -> _Holding:
        h = holdings.get(name)
        if h is None:
            h = holdings[name] = _Holding(name)
        return h

    for row in rows:
        et = row["event_type"]
        at = _utc(row["occurred_at"])
        if row["purpose"] and et in ("DataCollected", "DataShared", "DataTransferred"):
            activity[row["purpose"]] = at
        if et == "DataCollected":
            h = holding(row["holder"])
            h.role = "controller"
            h.own = True
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

    return Replay(component, holdings, graph, withdrawn, rows, activity)


@dataclass
class _Retention:
    catalog: Catalog | None
    activity: dict[str, datetime]
    withdrawn: dict[str, datetime]

    def from_catalog(
        self, h: _Holding, key: tuple[str, str | None]
    ) -> tuple[datetime | None, bool, list[tuple[str, RetentionRule]]] | None:
        """The catalog's date for one purpose at ``h`` (the latest its matching purposes
        allow), whether one of them leaves it open, and the rules by catalog purpose; None
        when the catalog has no purpose for it."""
        purpose = key[0]
        if self.catalog is None or not (pids := self.catalog.purposes_for(purpose, h.name)):
            return None
        first = h.purposes.get(key) or h.since
        assert first is not None
        best: datetime | None = None
        is_open = False
        rules = []
        for pid in pids:
            rule = self.catalog.rules[pid]
            rules.append((pid, rule))
            date = rule.until(
                first,
                self.activity.get(purpose, h.last.get(key, first))
                if rule.runs_from != "end_of_financial_year"
                else h.last.get(key, first),
                self.withdrawn.get(purpose),
                self.catalog.doc.controller.financial_year_end,
            )
            if date is None:
                is_open = True
            elif best is None or date > best:
                best = date
        return best, is_open, rules

    def reckon(self, h: _Holding) -> tuple[list[dict[str, Any]], datetime | None, bool]:
        """Per purpose: until when, by which rule; then the holder's date (the latest any
        purpose allows) and whether some purpose leaves it open."""
        entries: list[dict[str, Any]] = []
        known: list[datetime] = []
        open_ended = False
        for key in h.purposes:
            purpose, basis = key
            entry: dict[str, Any] = {"purpose": purpose, "legal_basis": basis}
            until = h.retain.get(key)
            if until is not None:
                entry.update(source="event", retain_until=iso(until))
                known.append(until)
            elif (found := self.from_catalog(h, key)) is not None:
                best, is_open, rules = found
                if is_open:
                    open_ended = entry["open"] = True
                if any(rule.estimated for _, rule in rules):
                    entry["estimated"] = True
                entry.update(
                    source="catalog",
                    catalog_purposes=[pid for pid, _ in rules],
                    rule="; ".join(str(rule) for _, rule in rules),
                    retain_until=iso(best),
                )
                if best is not None:
                    known.append(best)
            else:
                entry.update(source=None, retain_until=None)
            entries.append(entry)
        return entries, (max(known) if known else None), open_ended


def _render(
    h: _Holding,
    graph: FlowGraph,
    withdrawn: dict[str, datetime],
    as_of: datetime,
    retention: _Retention,
) -> dict[str, Any]:
    purposes = []
    for purpose, basis in h.purposes:
        entry: dict[str, Any] = {"purpose": purpose, "legal_basis": basis}
        if basis == "consent" and purpose in withdrawn:
            entry["consent_withdrawn_at"] = iso(withdrawn[purpose])
        purposes.append(entry)
    reckoning, retain_until, open_ended = retention.reckon(h)
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
        "retain_until": None if open_ended else iso(retain_until),
        "retention": reckoning,
        "transfer": transfer,
        "path": graph.path(h.name),
        "status": "held" if categories else "erased",
        "special_categories": [c for c in categories if special_category(c)],
        "erased_categories": sorted(h.erased),
    }
