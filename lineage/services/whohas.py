"""who-has: every holder of a subject's data, as of a time.

The subject's identity component is found through its links; its events are folded by the
rulebook (``rules.subject``) and judged by it: retention per holder × category × purpose
(``rules.retention``), transfer validity on the move's own date (``rules.transfers``),
consent state (``rules.consent``), and the rights requests' tasks (``rules.requests``).
Access reports, erasure planning and the audit use the same fold and the same judgments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lineage.events import kinds
from lineage.projection.store import Store
from lineage.rules.requests import Request
from lineage.rules.requests import fold as fold_requests
from lineage.rules.retention import HoldingRetention, describe, reckon
from lineage.rules.subject import Holding, SubjectState, fold
from lineage.rules.taxonomy import special_category
from lineage.rules.transfers import judge
from lineage.timeutil import iso, now

if TYPE_CHECKING:
    from lineage.catalog.catalog import Catalog


def identity_links(store: Store, refs: list[str]) -> list[tuple[str, str, datetime]]:
    """Every identity link reachable from ``refs``, with when it was recorded: fetched one
    indexed hop at a time (a component has a handful of references, and a recursive SQL
    query joins the whole link table on every step)."""
    links = []
    todo, asked = list(refs), set(refs)
    while todo:
        ref = todo.pop()
        for linked, at in store.fetch("identity_links_of", {"ref": ref}):
            links.append((ref, linked, at))
            if linked not in asked:
                asked.add(linked)
                todo.append(linked)
    return links


def component_of(
    refs: list[str], links: list[tuple[str, str, datetime]], as_of: datetime
) -> list[str]:
    """The identity graph's connected component (NetworkX) of ``refs``, by the links
    recorded up to ``as_of``, sorted."""
    import networkx as nx

    g: nx.Graph = nx.Graph()
    g.add_nodes_from(refs)
    g.add_edges_from((a, b) for a, b, at in links if at <= as_of)
    return sorted(set().union(*(nx.node_connected_component(g, r) for r in refs)))


def identity_component(store: Store, refs: list[str], as_of: datetime) -> list[str]:
    """Every reference linked to ``refs``, directly or through others, by links recorded up
    to ``as_of``: the identity graph's connected component, sorted."""
    return component_of(refs, identity_links(store, refs), as_of)


def component_events(store: Store, refs: list[str]) -> list[Any]:
    """Every event of the references ``refs``, in order: time, then log position. One
    indexed lookup per reference (a subject's answer never scans the whole table)."""
    rows = [row for ref in refs for row in store.rows("subject_events", {"ref": ref})]
    rows.sort(key=lambda r: (r.occurred_at, r.log_partition, r.log_offset))
    return rows


def subject_events(
    store: Store, refs: list[str], as_of: datetime, rows: list[Any] | None = None
) -> list[Any]:
    """The lineage events of the references ``refs`` up to ``as_of``, in order (from
    ``rows`` when the component's events were fetched already)."""
    found = component_events(store, refs) if rows is None else rows
    members = set(refs)
    return [
        r
        for r in found
        if r.occurred_at <= as_of and r.event_type in kinds.LINEAGE and r.subject_ref in members
    ]


def requests_as_of(
    store: Store,
    as_of: datetime | None = None,
    *,
    request_id: str | None = None,
    refs: list[str] | None = None,
) -> dict[str, Request]:
    """Rights requests (all, one, or a subject's) folded from their events up to ``as_of``:
    what who-has, ``erasure status`` and the audit all judge deadlines on."""
    rows = store.fetch_dicts("request_events", {"request_id": request_id, "refs": refs})
    return fold_requests(r for r in rows if as_of is None or r["occurred_at"] <= as_of)


@dataclass
class Subject:
    """A subject as of a time: its folded state and its rights requests."""

    state: SubjectState
    requests: dict[str, Request]
    as_of: datetime
    catalog: Catalog | None

    def retention(self, h: Holding) -> HoldingRetention:
        return reckon(self.state, h, self.catalog)


def subject(
    store: Store,
    refs: list[str],
    as_of: datetime,
    catalog: Catalog | None = None,
    rows: list[Any] | None = None,
    links: list[tuple[str, str, datetime]] | None = None,
) -> Subject:
    """The subject known by ``refs`` as of a time; ``rows`` and ``links``: its events and
    identity links, when fetched already for a component at least as large."""
    component = component_of(refs, identity_links(store, refs) if links is None else links, as_of)
    if rows is None:
        rows = component_events(store, component)
    members = set(component)
    state = fold(component, subject_events(store, component, as_of, rows), catalog)
    requests = fold_requests(
        r._asdict()
        for r in rows
        if r.event_type in kinds.REQUESTS and r.occurred_at <= as_of and r.subject_ref in members
    )
    return Subject(state, requests, as_of, catalog)


def who_has(
    store: Store,
    refs: list[str],
    as_of: datetime,
    catalog: Catalog | None = None,
    links: list[tuple[str, str, datetime]] | None = None,
) -> dict[str, Any]:
    """The answer for the subject known by ``refs`` (its first is the one asked about), and
    how many of its events it leaves out because they are dated after both the moment asked
    and now (a producer's clock running ahead). ``links``: ``identity_links(store, refs)``
    when looked up already in this snapshot."""
    if links is None:
        links = identity_links(store, refs)
    rows = component_events(store, component_of(refs, links, datetime.max.replace(tzinfo=UTC)))
    out = answer(subject(store, refs, as_of, catalog, rows, links), refs[0])
    after = max(as_of, now())
    future = [r.occurred_at for r in rows if r.occurred_at > after]
    out["omitted_future_events"] = len(future)
    out["omitted_future_first_at"] = iso(min(future)) if future else None
    return out


def future_events(store: Store, after: datetime, refs: list[str] | None = None) -> dict[str, Any]:
    """How many events (of ``refs``, or of everyone) are dated after ``after``, and the
    first such date."""
    rows = store.fetch_dicts("future_events", {"after": after, "refs": refs})
    return {"events": rows[0]["events"], "first_at": rows[0]["first_at"]}


def answer(s: Subject, ref: str) -> dict[str, Any]:
    out = []
    for h in s.state.holdings.values():
        if not h.categories and not h.erased:
            continue  # named only as a source of a flow
        out.append(holder_entry(s, h))
    out.sort(key=lambda r: (r["since"] or "9999", r["holder"]))
    return {
        "subject": ref,
        "as_of": iso(s.as_of),
        "holders": out,
        # The accountability record: after a completed erasure, the only answer left.
        "requests": [
            {
                "request_id": q.request_id,
                "kind": q.kind,
                "purpose": q.purpose,
                "received_at": iso(q.received_at),
                "status": q.status(s.as_of),
                "deadline": iso(q.deadline),
                "completed_at": iso(q.completed_at),
                "tasks": [
                    {
                        "holder": t.holder,
                        "action": t.action,
                        "status": t.status,
                        # Who answered what, when, and through which channel.
                        "channel": t.channel,
                        "step": t.step,
                        "updated_at": iso(t.updated_at),
                    }
                    for t in q.tasks.values()
                ],
            }
            for q in s.requests.values()
        ],
    }


def holder_entry(s: Subject, h: Holding) -> dict[str, Any]:
    """One holder's line of the answer."""
    as_of = s.as_of
    kept = s.retention(h)
    purposes = []
    reckoning = []
    for (use, basis), held in h.purposes().items():
        entry: dict[str, Any] = {"purpose": use, "legal_basis": basis}
        if basis == "consent" and (withdrawn := s.state.consent.withdrawn_at(use)):
            entry["consent_withdrawn_at"] = iso(withdrawn)
        purposes.append(entry)
        reckoning.append(
            {
                "purpose": use,
                "legal_basis": basis,
                "categories": sorted(held),
                **describe(kept.purposes[(use, basis)], as_of),
            }
        )
    categories = sorted(h.categories)
    by_category = [{"category": c, **describe(kept.categories[c], as_of)} for c in categories]
    overdue = kept.overdue_categories(as_of)
    holder = kept.holder
    return {
        "holder": h.name,
        "role": h.role,
        "country": h.country,
        "categories": categories,
        "purposes": purposes,
        "since": iso(h.since),
        "retain_until": iso(holder.until) if holder.known else None,
        "retention": reckoning,
        "retention_by_category": by_category,
        "overdue_categories": overdue,
        "transfer": judge(h, s.catalog, as_of),
        "path": s.state.graph.path(h.name),
        "status": status(s, h, overdue),
        "special_categories": [c for c in categories if special_category(c)],
        "erased_categories": sorted(h.erased),
    }


def status(s: Subject, h: Holding, overdue: list[str]) -> str:
    """held / erased; what an open request does there: erasure_pending, retained (under an
    Art. 17(3) exception, restricted meanwhile), restricted (Art. 18); else overdue when a
    category is held past its retention."""
    if not h.categories:
        return "erased"
    found = "held"
    for q in s.requests.values():
        for t in q.tasks.values():
            if t.holder != h.name or t.done:
                continue
            if q.kind == "erasure" and (t.action == "retain" or t.status == "retained"):
                return "retained"
            if q.kind == "erasure" and t.action == "erase":
                found = "erasure_pending"
        if q.kind == "restriction" and any(t.holder == h.name for t in q.tasks.values()):
            found = "restricted"
    if found == "held" and overdue:
        return "overdue"
    return found
