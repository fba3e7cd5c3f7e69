"""The data map's content: whole company (SQL aggregates plus the catalog) or one subject.

Whole company: every observed flow up to the time asked, one edge per pair of holders
(``queries/map_edges.sql``); transfers are the audit's (``services.company``: each subject's
latest move to a recipient, judged by the rulebook), so a red edge in the picture is a
``transfer-invalid`` finding in ``lineage audit``. With a catalog, its holders give names,
roles and countries, and a declared recipient that no event shows receiving data gets a dashed
edge from the purpose's system. One subject: the flows of its replayed events.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from lineage.errors import NothingToDraw
from lineage.events import kinds
from lineage.graph.datamap import DataMap, MapEdge, MapNode
from lineage.i18n import N_
from lineage.projection.store import Store
from lineage.rules.reasons import Reason, Text, from_json
from lineage.rules.transfers import dpf_certified, in_eea

if TYPE_CHECKING:
    from lineage.catalog.catalog import Catalog

SUBJECTS = "data subjects"


class _Builder:
    def __init__(
        self, as_of: datetime, catalog: Catalog | None, subject: str | None = None
    ) -> None:
        self.map = DataMap(as_of, subject)
        self.catalog = catalog
        self.on = as_of.date()

    def node(
        self, name: str, *, collected: bool = False, role: Any = None, country: Any = None
    ) -> MapNode:
        n = self.map.nodes.get(name)
        if n is None:
            n = self.map.nodes[name] = MapNode(name, "unknown")
            declared = self.catalog.holders.get(name) if self.catalog else None
            if self.catalog is not None:
                n.declared = declared is not None
            if declared is not None:
                n.kind = declared.role
                n.label = declared.name or None
                n.country = declared.country
        if n.declared is not True:  # the catalog's word wins over the events'
            if collected:
                n.kind = "own"
            elif role and n.kind == "unknown":
                n.kind = role
            n.country = n.country or country
        n.outside_eea = bool(n.country) and not in_eea(n.country, self.on)
        return n

    def subjects(self, kinds: list[str]) -> None:
        n = self.map.nodes.get(SUBJECTS)
        if n is None:
            n = self.map.nodes[SUBJECTS] = MapNode(SUBJECTS, "subject", label=N_("Data subjects"))
        if kinds:
            n.notes = [", ".join(sorted({*kinds, *(n.notes[0].split(", ") if n.notes else [])}))]


def _order(m: DataMap) -> None:
    """Subjects first, then holders by their distance from them: DOT keeps declaration order
    within a rank, which keeps the picture stable from run to run."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(m.nodes)
    g.add_edges_from((e.source, e.target) for e in m.edges)
    depth = nx.single_source_shortest_path_length(g, SUBJECTS) if SUBJECTS in g else {}
    far = len(m.nodes) + 1
    keys = sorted(m.nodes, key=lambda k: (depth.get(k, far), m.nodes[k].kind != "own", k))
    m.nodes = {k: m.nodes[k] for k in keys}
    m.edges.sort(key=lambda e: (depth.get(e.source, far), e.source, e.target))


def data_map(
    store: Store, refs: list[str] | None, when: datetime, catalog: Catalog | None = None
) -> DataMap:
    """One subject's map (``refs``) or the company's; ``NothingToDraw`` when it is empty."""
    if refs:
        datamap = subject_map(store, refs, when, catalog)
        if datamap.empty:
            raise NothingToDraw(
                f"no data flows recorded for subject {refs[0][:16]}… as of "
                f"{when:%Y-%m-%d %H:%M}: nothing to draw, no file written"
            )
        return datamap
    datamap = company_map(store, when, catalog)
    if datamap.empty:
        raise NothingToDraw(
            "no data flows recorded and no catalog declares any: nothing to draw, no file written"
        )
    return datamap


def company_map(store: Store, as_of: datetime, catalog: Catalog | None = None) -> DataMap:
    from lineage.services.company import company

    b = _Builder(as_of, catalog)
    for row in store.fetch_dicts("map_holders", {"as_of": as_of}):
        b.node(row["holder"], collected=row["collected"], role=row["role"], country=row["country"])
    edges: dict[tuple[str, str], MapEdge] = {}
    for row in store.fetch_dicts("map_edges", {"as_of": as_of}):
        source = row["from_holder"] or SUBJECTS
        if source == SUBJECTS:
            b.subjects(list(row["data_subjects"] or []))
        else:
            b.node(source)
        edges[(source, row["holder"])] = MapEdge(
            source,
            row["holder"],
            categories=list(row["categories"] or []),
            legal_bases=list(row["legal_bases"] or []),
            purposes=list(row["purposes"] or []),
            subjects=row["subjects"],
            events=row["events"],
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
        )
    for t in company(store, as_of, catalog).transfers.values():
        e = edges.get((t.from_holder or SUBJECTS, t.holder))
        if e is None:
            continue
        problems: list[Text] = [(p,) for p in t.problems]
        invalid = t.invalid
        uncertified = _uncertified(catalog, t.holder, t.mechanism)
        if uncertified:
            problems, invalid = problems + uncertified, t.subjects
        if problems:
            e.invalid += [p for p in problems if p not in e.invalid]
            e.invalid_subjects = (e.invalid_subjects or 0) + invalid
        elif t.mechanism not in e.mechanisms:
            e.mechanisms.append(t.mechanism)
    b.map.edges = list(edges.values())
    if catalog is not None:
        _declared(b, edges)
    _order(b.map)
    return b.map


def _uncertified(catalog: Catalog | None, holder: str, mechanism: str | None) -> list[Text]:
    """DPF covers only certified recipients; only a catalog can say which are (the audit's
    transfer-dpf-uncertified)."""
    if mechanism != "dpf" or dpf_certified(catalog, holder) is not False:
        return []
    return [(Reason("transfer.not_dpf_certified", {"holder": holder}),)]


def _declared(b: _Builder, observed: dict[tuple[str, str], MapEdge]) -> None:
    """Dashed edges for declared flows that no event shows, so the picture also says what the
    catalog promises and the evidence does not back."""
    catalog = b.catalog
    assert catalog is not None
    reached = {target for _, target in observed}
    declared: dict[tuple[str, str], MapEdge] = {}

    def declare(
        source: str, target: str, cats: list[str], basis: str | None, pid: str | None
    ) -> MapEdge | None:
        if target in reached or (source, target) in observed:
            return None
        if source == SUBJECTS:
            b.subjects([])
        else:
            b.node(source)
        b.node(target)
        e = declared.setdefault((source, target), MapEdge(source, target, observed=False))
        e.categories = sorted({*e.categories, *cats})
        e.legal_bases = sorted({*e.legal_bases, *([basis] if basis else [])})
        e.purposes = sorted({*e.purposes, *([pid] if pid else [])})
        return e

    for pid, p in catalog.purposes.items():
        systems = [s for s in p.systems if s in catalog.holders]
        for s in systems:
            declare(SUBJECTS, s, list(p.categories), p.legal_basis, pid)
        origin = systems[0] if systems else SUBJECTS
        for r in dict.fromkeys([*p.recipients, *(t.recipient for t in p.transfers)]):
            if r in catalog.holders and r != origin:
                declare(origin, r, list(p.categories), p.legal_basis, pid)
    for name, h in catalog.holders.items():
        for sub in h.sub_processors:
            if sub in catalog.holders and (name in reached or name in b.map.nodes):
                e = declare(name, sub, [], None, None)
                if e is not None:
                    e.sub_processing = True
    b.map.edges += declared.values()


def subject_map(
    store: Store, refs: list[str], as_of: datetime, catalog: Catalog | None = None
) -> DataMap:
    from lineage.services.whohas import answer, subject, subject_events

    s = subject(store, refs, as_of, catalog)
    holders = {h["holder"]: h for h in answer(s, refs[0])["holders"]}
    b = _Builder(as_of, catalog, subject=refs[0][:12])
    edges: dict[tuple[str, str], MapEdge] = {}
    for row in subject_events(store, s.state.refs, as_of):
        if row.event_type not in kinds.FLOWS:
            continue
        collected = row.event_type == kinds.COLLECTED
        source = SUBJECTS if collected else row.from_holder
        if collected:
            b.subjects([row.data_subject] if row.data_subject else [])
        else:
            b.node(source)
        b.node(row.holder, collected=collected, role=row.role, country=row.country)
        e = edges.setdefault((source, row.holder), MapEdge(source, row.holder))
        at = row.occurred_at
        e.categories = sorted({*e.categories, *(row.categories or [])})
        if row.legal_basis and row.legal_basis not in e.legal_bases:
            e.legal_bases = sorted([*e.legal_bases, row.legal_basis])
        if row.purpose and row.purpose not in e.purposes:
            e.purposes = sorted([*e.purposes, row.purpose])
        e.events += 1
        e.first_seen = e.first_seen or at
        e.last_seen = at
    if SUBJECTS in b.map.nodes:
        b.map.nodes[SUBJECTS].label = N_("Data subject")
    for name, n in b.map.nodes.items():
        h = holders.get(name)
        if h is None:
            continue
        n.status = h["status"]
        transfer = h["transfer"]
        if transfer is None or not transfer["current"]:
            continue  # erased there since: history, not a current flow
        problems = [] if transfer["valid"] else [from_json(transfer["reason_parts"])]
        problems += _uncertified(catalog, name, transfer["mechanism"])
        for e in edges.values():
            if e.target != name:
                continue
            if problems:
                e.invalid = problems
            else:
                e.mechanisms = [transfer["mechanism"]]
    b.map.edges = list(edges.values())
    _order(b.map)
    return b.map
