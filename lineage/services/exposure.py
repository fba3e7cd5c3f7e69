"""Breach impact (Art. 33/34): whose data, which categories, under which bases, were at one
holder at one moment. The rows come from ``queries/exposed.sql``; forgotten subjects are not
in the projection, so they are never reported."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from lineage.events.taxonomy import special_category
from lineage.projection.store import Store
from lineage.timeutil import iso


def exposed(store: Store, holder: str, at: datetime, *, references: bool = False) -> dict[str, Any]:
    rows = store.fetch("exposed", {"holder": holder, "at": at.astimezone(UTC).replace(tzinfo=None)})
    subjects: set[str] = set()
    by_category: dict[str, set[str]] = defaultdict(set)
    by_basis: dict[str, set[str]] = defaultdict(set)
    by_purpose: dict[str, set[str]] = defaultdict(set)
    for subject, category, purpose, basis in rows:
        subjects.add(subject)
        by_category[category].add(subject)
        by_basis[basis or "unknown"].add(subject)
        if purpose:
            by_purpose[purpose].add(subject)
    categories = [
        {"category": c, "subjects": len(s), "special": special_category(c)}
        for c, s in sorted(by_category.items())
    ]
    out: dict[str, Any] = {
        "holder": holder,
        "at": iso(at),
        "subjects": len(subjects),
        "categories": categories,
        "special_categories": [c["category"] for c in categories if c["special"]],
        "legal_bases": [
            {"legal_basis": b, "subjects": len(s)} for b, s in sorted(by_basis.items())
        ],
        "purposes": [{"purpose": p, "subjects": len(s)} for p, s in sorted(by_purpose.items())],
    }
    if references:
        out["references"] = sorted(subjects)
    return out
