"""Breach impact (Art. 33/34): whose data, which categories, under which bases and purposes,
were at one holder at one moment. Each subject with data events there is folded by the
rulebook as of that moment (the same fold as who-has), so erasures, their hierarchy and
identity links count exactly as who-has counts them. Forgotten subjects are not in the
projection, so they are never reported."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from lineage.projection.store import Store
from lineage.rules.taxonomy import special_category
from lineage.services.subjects import every_subject
from lineage.timeutil import iso


def exposed(store: Store, holder: str, at: datetime, *, references: bool = False) -> dict[str, Any]:
    candidates = [r[0] for r in store.fetch("holder_subjects", {"holder": holder, "at": at})]
    subjects: set[str] = set()
    by_category: dict[str, set[str]] = defaultdict(set)
    by_basis: dict[str, set[str]] = defaultdict(set)
    by_purpose: dict[str, set[str]] = defaultdict(set)
    if candidates:
        for s in every_subject(store, at, refs=candidates):
            h = s.state.holdings.get(holder)
            if h is None or not h.categories:
                continue
            subject = min(s.state.refs)  # several references of one person count once
            subjects.add(subject)
            for category, use, basis in h.receipts:
                by_category[category].add(subject)
                by_basis[basis or "unknown"].add(subject)
                if use:
                    by_purpose[use].add(subject)
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
