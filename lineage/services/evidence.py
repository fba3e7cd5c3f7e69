"""What the events show, in the catalog's terms: observed flows and evidence per purpose.

Shared by the Art. 30 records and the audit. Aggregation is SQL over the projection; the
mapping from an event's data use (and holder) to catalog purposes is small and done here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
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


@dataclass(frozen=True)
class Move:
    """The latest move of data to one recipient, grouped (``transfer_state.sql``)."""

    holder: str
    purpose: str | None
    from_holder: str | None
    country: str
    mechanism: str | None
    subjects: int
    events: int
    first_seen: datetime
    last_seen: datetime
    # (day of the move, subjects moved that day): validity is judged per day.
    days: tuple[tuple[date, int], ...] = ()


def transfer_state(store: Store, as_of: datetime) -> list[Move]:
    grouped: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in store.fetch_dicts("transfer_state", {"as_of": naive_utc(as_of)}):
        key = (r["holder"], r["purpose"], r["from_holder"], r["country"], r["mechanism"])
        grouped.setdefault(key, []).append(r)
    moves = []
    for (holder, purpose, source, country, mechanism), rows in grouped.items():
        moves.append(
            Move(
                holder,
                purpose,
                source,
                country,
                mechanism,
                subjects=sum(r["subjects"] for r in rows),
                events=sum(r["events"] for r in rows),
                first_seen=min(r["first_seen"] for r in rows).replace(tzinfo=UTC),
                last_seen=max(r["last_seen"] for r in rows).replace(tzinfo=UTC),
                days=tuple((r["day"], r["subjects"]) for r in rows),
            )
        )
    return moves


def naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def observed_flows(store: Store, as_of: datetime) -> list[Flow]:
    rows = store.fetch_dicts("observed_flows", {"as_of": naive_utc(as_of)})
    out = []
    for r in rows:
        r["first_seen"], r["last_seen"] = aware(r["first_seen"]), aware(r["last_seen"])
        r["categories"] = tuple(sorted(r["categories"] or ()))
        out.append(Flow(**r))
    return out


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
    """Per catalog purpose: subjects observed, first and last seen, recipients observed."""
    pairs = {(f.purpose, f.holder) for f in flows if f.purpose}
    mapping = [
        (use, holder, pid)
        for use, holder in sorted(pairs)
        for pid in catalog.purposes_for(use, holder)
    ]
    register(store, "purpose_map", ("purpose", "holder", "pid"), mapping)
    try:
        rows = store.fetch_dicts("purpose_evidence", {"as_of": naive_utc(as_of)})
    finally:
        store.con.unregister("purpose_map")
    return {
        r["pid"]: {
            "subjects": r["subjects"],
            "first_seen": aware(r["first_seen"]),
            "last_seen": aware(r["last_seen"]),
            "recipients": list(r["recipients"] or []),
        }
        for r in rows
    }
