"""Every subject, folded by the rulebook: what company-wide answers (audit, exposure, the map)
are built from, so they agree with who-has subject by subject.

Subjects are identity components: references joined by the links recorded up to the time
asked (NetworkX's union-find). Events come ordered by reference, so a reference of
its own is folded as soon as its rows end; references of a larger component wait until all
of the component's rows are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lineage.projection.store import Store
from lineage.rules.requests import Request
from lineage.rules.subject import SubjectState, fold
from lineage.services.whohas import Subject, requests_as_of

if TYPE_CHECKING:
    from lineage.catalog.catalog import Catalog


def components(store: Store, as_of: datetime) -> dict[str, list[str]]:
    """Reference -> its component (sorted), for references in a component of two or more."""
    return linked(store, as_of)[0]


def linked(
    store: Store, as_of: datetime, refs: Iterable[str] | None = None
) -> tuple[dict[str, list[str]], dict[str, datetime]]:
    """``components``, and when each component's latest link was recorded (by its first
    reference): a fold as of an earlier time may see the component split. Given ``refs``,
    only their components: their links are walked a hop at a time (a fold of a few
    components does not pay for every link of the projection)."""
    from networkx.utils import UnionFind

    if refs is None:
        links = store.fetch_naive("identity_links_upto", {"as_of": as_of})
    else:
        links = []
        asked = set(refs)
        todo = sorted(asked)
        while todo:
            hop = store.fetch_naive("identity_links_hop", {"refs": todo, "as_of": as_of})
            todo = []
            for a, b, at in hop:
                if a < b:  # each link once, as identity_links_upto gives it
                    links.append((a, b, at))
                if b not in asked:
                    asked.add(b)
                    todo.append(b)
    if not links:
        return {}, {}
    # A union-find of the references, not a graph with a dict per node and per edge (at
    # 10M events, most of a gigabyte); times stay naive until a component's latest.
    sets = UnionFind()
    for a, b, _ in links:
        sets.union(a, b)
    out: dict[str, list[str]] = {}
    for component in sets.to_sets():
        members = sorted(component)
        for ref in members:
            out[ref] = members
    # One pass over the links, not a subgraph per component (every summary step pays it).
    # A pair linked twice counts at its later time.
    latest: dict[str, datetime] = {}
    for a, _, at in links:
        key = out[a][0]
        if key not in latest or at > latest[key]:
            latest[key] = at
    return out, {key: at.replace(tzinfo=UTC) for key, at in latest.items()}


def requests_by_subject(store: Store, as_of: datetime) -> dict[str, list[Request]]:
    out: dict[str, list[Request]] = {}
    for q in requests_as_of(store, as_of).values():
        out.setdefault(q.subject_ref, []).append(q)
    return out


def every_subject(
    store: Store,
    as_of: datetime,
    catalog: Catalog | None = None,
    refs: Iterable[str] | None = None,
) -> Iterator[Subject]:
    """Each subject with lineage events up to ``as_of`` (or each subject of ``refs``, their
    components included), folded."""
    requests = requests_by_subject(store, as_of)
    for state, _ in every_state(store, as_of, catalog, refs):
        reqs = {q.request_id: q for ref in state.refs for q in requests.get(ref, ())}
        yield Subject(state, reqs, as_of, catalog)


def every_state(
    store: Store,
    as_of: datetime,
    catalog: Catalog | None = None,
    refs: Iterable[str] | None = None,
) -> Iterator[tuple[SubjectState, datetime]]:
    """``every_subject``'s folds without the rights requests, each with the time of the
    latest event or link it reflects: what the company-wide summaries keep."""
    refs = None if refs is None else list(refs)  # read twice
    comps, link_times = linked(store, as_of, refs)
    wanted: list[str] | None = None
    if refs is not None:
        found = set()
        for ref in refs:
            found.update(comps.get(ref, [ref]))
        wanted = sorted(found)
        if not wanted:
            return
    rows = store.stream("lineage_events", events_params(as_of, wanted))
    yield from fold_rows(rows, catalog, comps, link_times)


def events_params(
    as_of: datetime,
    refs: list[str] | None = None,
    refs_from: str | None = None,
    refs_below: str | None = None,
) -> dict[str, Any]:
    """The parameters of ``lineage_events.sql``: up to ``as_of``, of ``refs`` (None: every
    reference) in the range [``refs_from``, ``refs_below``) (None: open)."""
    return {"as_of": as_of, "refs": refs, "refs_from": refs_from, "refs_below": refs_below}


def fold_rows(
    rows: Iterable[Any],
    catalog: Catalog | None,
    comps: dict[str, list[str]],
    link_times: dict[str, datetime],
) -> Iterator[tuple[SubjectState, datetime]]:
    """Fold ``lineage_events`` rows (ordered by reference) component by component:
    ``every_state``'s folds, from rows read by the caller."""
    waiting: dict[tuple[str, ...], list[Any]] = {}

    def one(component: list[str], rows: list[Any]) -> tuple[SubjectState, datetime]:
        latest = rows[-1].occurred_at  # rows come in time order
        linked_at = link_times.get(component[0])
        if linked_at is not None and linked_at > latest:
            latest = linked_at
        return fold(component, rows, catalog), latest

    current: str | None = None
    group: list[Any] = []
    for row in rows:
        if row.subject_ref != current:
            if group and current is not None:
                yield from _flush(current, group, comps, waiting, one)
            current, group = row.subject_ref, []
        group.append(row)
    if group and current is not None:
        yield from _flush(current, group, comps, waiting, one)
    for key, pending in waiting.items():
        pending.sort(key=lambda r: (r.occurred_at, r.log_partition, r.log_offset))
        yield one(list(key), pending)


def _flush(
    ref: str,
    rows: list[Any],
    comps: dict[str, list[str]],
    waiting: dict[tuple[str, ...], list[Any]],
    one: Any,
) -> Iterator[Any]:
    component = comps.get(ref)
    if component is None:
        yield one([ref], rows)
    else:
        waiting.setdefault(tuple(component), []).extend(rows)
