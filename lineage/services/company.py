"""The company-wide evidence the rulebook's judgments give, subject by subject, summed.

One fold of every subject (``services.subjects``) yields, per holder: data held past its
retention, transfers judged on their own dates, processing under consent after withdrawal.
The audit and the data map read these sums, so their answers add up to who-has's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from lineage.projection.store import Store
from lineage.rules.reasons import Reason, from_json
from lineage.rules.taxonomy import special_category
from lineage.rules.transfers import judge
from lineage.services.subjects import every_subject

if TYPE_CHECKING:
    from lineage.catalog.catalog import Catalog


@dataclass
class Overdue:
    """Subjects' data held at one holder past its retention."""

    holder: str
    subjects: int = 0
    categories: set[str] = field(default_factory=set)
    purposes: set[str] = field(default_factory=set)  # data uses
    pids: set[str] = field(default_factory=set)  # catalog purposes
    earliest: datetime | None = None
    latest: datetime | None = None
    examples: list[str] = field(default_factory=list)

    @property
    def special(self) -> list[str]:
        return sorted(c for c in self.categories if special_category(c))


@dataclass
class Transfer:
    """Subjects whose data is at a recipient outside the EEA, by source, purpose and tool."""

    holder: str
    purpose: str | None
    from_holder: str | None
    country: str
    mechanism: str
    subjects: int = 0
    invalid: int = 0
    # Why transfers are invalid (parts of ``rules.reasons`` texts), each once.
    problems: list[Reason] = field(default_factory=list)
    first_seen: datetime | None = None
    last_seen: datetime | None = None


@dataclass
class ConsentBreach:
    holder: str
    purpose: str
    subjects: set[str] = field(default_factory=set)
    events: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None


@dataclass
class Company:
    as_of: datetime
    subjects: int = 0
    overdue: dict[str, Overdue] = field(default_factory=dict)
    transfers: dict[tuple[str, str | None, str | None, str, str], Transfer] = field(
        default_factory=dict
    )
    consent: dict[tuple[str, str], ConsentBreach] = field(default_factory=dict)


def company(store: Store, as_of: datetime, catalog: Catalog | None = None) -> Company:
    out = Company(as_of)
    for s in every_subject(store, as_of, catalog):
        out.subjects += 1
        ref = s.state.refs[0]
        for h in s.state.held():
            kept = s.retention(h)
            late = kept.overdue_categories(as_of)
            if late:
                o = out.overdue.setdefault(h.name, Overdue(h.name))
                o.subjects += 1
                o.categories.update(late)
                for (category, use, _), r in kept.receipts.items():
                    if category in late:
                        o.purposes.add(use or "(none)")
                        o.pids.update(r.pids)
                until = max(u for c in late if (u := kept.categories[c].until) is not None)
                o.earliest = until if o.earliest is None else min(o.earliest, until)
                o.latest = until if o.latest is None else max(o.latest, until)
                if len(o.examples) < 3:
                    o.examples.append(ref[:16])
            t = judge(h, catalog, as_of)
            if t is not None and h.move is not None:
                move = h.move
                key = (h.name, move.purpose, move.from_holder, t["country"], t["mechanism"])
                g = out.transfers.get(key)
                if g is None:
                    g = out.transfers[key] = Transfer(*key)
                g.subjects += 1
                g.first_seen = move.at if g.first_seen is None else min(g.first_seen, move.at)
                g.last_seen = move.at if g.last_seen is None else max(g.last_seen, move.at)
                if not t["valid"]:
                    g.invalid += 1
                    for p in from_json(t["reason_parts"]):
                        if p not in g.problems:
                            g.problems.append(p)
        for v in s.state.violations:
            b = out.consent.setdefault((v.holder, v.purpose), ConsentBreach(v.holder, v.purpose))
            b.subjects.add(ref)
            b.events += 1
            b.first_at = v.at if b.first_at is None else min(b.first_at, v.at)
            b.last_at = v.at if b.last_at is None else max(b.last_at, v.at)
    return out
