"""What the events show, in the catalog's terms: observed flows and evidence per purpose.

Shared by the Art. 30 records and the audit. SQL aggregates the projection; which catalog
purpose an event's data use, holder and category belong to is decided by the one matching
rule (``Catalog.purposes_for``), once per distinct combination.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lineage.catalog.catalog import Catalog
from lineage.projection.store import Store


@dataclass(frozen=True)
class Flow:
    event_type: str
    purpose: str | None
    legal_basis: str | None
    holder: str
    from_holder: str | None
    role: str | None
    country: str | None
    mechanism: str | None
    subjects: int
    events: int
    first_seen: datetime
    last_seen: datetime
    categories: tuple[str, ...]


def observed_flows(store: Store, as_of: datetime) -> list[Flow]:
    """Each flow's subjects and categories from the kept (flow, subject) and (flow,
    category) pairs where the projection keeps them; else from the events alone (shards seen
    as one, an older file opened read-only)."""
    query = "observed_flows" if _keeps_flows(store) else "observed_flows_events"
    rows = store.fetch_dicts(query, {"as_of": as_of})
    out = []
    for r in rows:
        r["categories"] = tuple(sorted(r["categories"] or ()))
        out.append(Flow(**r))
    return out


def _keeps_flows(store: Store) -> bool:
    import duckdb

    try:
        store.con.execute("SELECT 1 FROM flow_subjects LIMIT 0").fetchall()
    except duckdb.CatalogException:
        return False
    return True


def register(
    store: Store, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Make rows computed here visible to a named query as table ``name`` (all text)."""
    import pyarrow as pa

    table = pa.table(
        {c: pa.array([row[i] for row in rows], pa.string()) for i, c in enumerate(columns)}
    )
    store.con.register(name, table)


def purpose_evidence(
    store: Store, catalog: Catalog, flows: list[Flow], as_of: datetime
) -> dict[str, dict[str, Any]]:
    """Per catalog purpose: subjects whose flows match it and one of its categories, first
    and last seen, recipients observed."""
    combos = {(f.purpose, f.holder, c) for f in flows if f.purpose for c in f.categories}
    mapping = [
        (use, holder, category, pid)
        for use, holder, category in sorted(combos)
        for pid in catalog.purposes_for(use, holder, category)
        if catalog.declares_category([pid], category)
    ]
    register(store, "purpose_map", ("purpose", "holder", "category", "pid"), mapping)
    try:
        rows = store.fetch_dicts("purpose_evidence", {"as_of": as_of})
    finally:
        store.con.unregister("purpose_map")
    return {
        r["pid"]: {
            "subjects": r["subjects"],
            "first_seen": r["first_seen"],
            "last_seen": r["last_seen"],
            "recipients": list(r["recipients"] or []),
        }
        for r in rows
    }
