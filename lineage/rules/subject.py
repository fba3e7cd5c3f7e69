"""One subject's events folded into what is held where, at the grain the law asks for.

A *holding* is one holder's data of the subject. Inside it, a *receipt* is one category
received under one data use and legal basis: the grain of retention (Art. 5(1)(e): each
category only as long as a purpose it was received under allows) and of Art. 17(3)
exceptions (they cover only the categories received under the excepted purpose).

The fold, in event order (time, then log position):
- DataCollected puts categories at an own system; DataShared / DataTransferred at the
  recipient, with its role and country, and record the latest move there (a transfer with a
  tool outranks a later share without one to the same recipient);
- DataErased removes the categories it names, and their descendants (all when none named);
- ConsentGiven / ConsentWithdrawn update the consent state (``rules.consent``); a flow
  under consent while consent stands withdrawn is recorded as a violation.

Every command that needs a subject's state (who-has, access, erasure planning, audit,
exposure) folds with this code, one subject or every subject.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lineage.events import kinds
from lineage.graph.flows import FlowGraph
from lineage.rules.consent import Consent
from lineage.rules.taxonomy import covers
from lineage.timeutil import add_duration

if TYPE_CHECKING:
    from lineage.catalog.catalog import Catalog

NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(slots=True)
class Receipt:
    """One category at one holder under one data use and legal basis."""

    first: datetime
    last: datetime
    # The latest end the events' own ``retention`` gives (each runs from its event).
    event_until: datetime | None = None


@dataclass(slots=True)
class Move:
    """The latest move of data to a recipient: what its transfer is judged on."""

    at: datetime
    country: str | None
    mechanism: str | None
    mechanism_ref: str | None
    from_holder: str | None
    purpose: str | None
    transferred: bool


@dataclass
class Holding:
    name: str
    role: str | None = None
    country: str | None = None
    own: bool = False  # one of our own systems (it collected from the subject)
    since: datetime | None = None
    categories: dict[str, datetime] = field(default_factory=dict)  # held -> since
    erased: dict[str, datetime] = field(default_factory=dict)  # erased -> when
    # (category, data use, legal basis) -> the receipt
    receipts: dict[tuple[str, str | None, str | None], Receipt] = field(default_factory=dict)
    move: Move | None = None

    def receive(
        self,
        categories: Iterable[str],
        at: datetime,
        use: str | None,
        basis: str | None,
        retention: str | None,
    ) -> None:
        if not self.categories:
            self.since = at
        until = add_duration(at, retention) if retention else None
        for c in categories:
            self.categories.setdefault(c, at)
            self.erased.pop(c, None)
            key = (c, use, basis)
            r = self.receipts.get(key)
            if r is None:
                self.receipts[key] = Receipt(at, at, until)
            else:
                r.last = at
                if until is not None and (r.event_until is None or until > r.event_until):
                    r.event_until = until

    def erase(self, categories: Iterable[str], at: datetime) -> None:
        named = list(categories)
        gone = [c for c in self.categories if not named or any(covers(n, c) for n in named)]
        for c in gone:
            del self.categories[c]
            self.erased[c] = at
        if gone:
            self.receipts = {k: r for k, r in self.receipts.items() if k[0] in self.categories}
        if not self.categories:
            self.since = None

    def purposes(self) -> dict[tuple[str | None, str | None], set[str]]:
        """(data use, legal basis) -> the categories held under it, in first-seen order."""
        out: dict[tuple[str | None, str | None], set[str]] = {}
        for (category, use, basis), _ in sorted(self.receipts.items(), key=lambda kv: kv[1].first):
            out.setdefault((use, basis), set()).add(category)
        return out

    def purpose_since(self, use: str | None, basis: str | None) -> datetime | None:
        firsts = [r.first for (_, u, b), r in self.receipts.items() if u == use and b == basis]
        return min(firsts) if firsts else None


@dataclass(frozen=True, slots=True)
class Violation:
    """Processing under consent while that consent stood withdrawn."""

    holder: str
    purpose: str
    at: datetime
    withdrawn_at: datetime


@dataclass
class SubjectState:
    """A subject's events folded up to a time."""

    refs: list[str]
    holdings: dict[str, Holding] = field(default_factory=dict)
    graph: FlowGraph = field(default_factory=FlowGraph)
    consent: Consent = field(default_factory=Consent)
    # Last flow under each data use, and (with a catalog) under each catalog purpose.
    activity: dict[str, datetime] = field(default_factory=dict)
    purpose_activity: dict[str, datetime] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    collected_from: dict[str, set[str]] = field(default_factory=dict)  # origin -> systems

    def holding(self, name: str) -> Holding:
        h = self.holdings.get(name)
        if h is None:
            h = self.holdings[name] = Holding(name)
        return h

    def held(self) -> list[Holding]:
        """Holders that hold some category now, in the order data reached them."""
        out = [h for h in self.holdings.values() if h.categories]
        return sorted(out, key=lambda h: (h.since or NEVER, h.name))

    def last_activity(self, pid: str | None, use: str | None) -> datetime | None:
        if pid is not None and pid in self.purpose_activity:
            return self.purpose_activity[pid]
        return self.activity.get(use or "")


def fold(refs: list[str], rows: Iterable[Any], catalog: Catalog | None = None) -> SubjectState:
    """Fold a subject's lineage rows (named tuples of ``subject_events.sql``' columns, with
    aware times, in order) into its state."""
    s = SubjectState(refs)
    for row in rows:
        et = row.event_type
        at = row.occurred_at
        if et in kinds.FLOWS:
            use = row.purpose
            if use:
                s.activity[use] = at
                if catalog is not None:
                    for pid in catalog.purpose_ids(use, row.holder):
                        s.purpose_activity[pid] = at
                if row.legal_basis == "consent":
                    withdrawn = s.consent.withdrawn_at(use, before=at)
                    if withdrawn is not None:
                        s.violations.append(Violation(row.holder, use, at, withdrawn))
            h = s.holding(row.holder)
            if et == kinds.COLLECTED:
                h.role = "controller"
                h.own = True
                s.graph.collected(row.holder)
                s.collected_from.setdefault(row.origin or "data_subject", set()).add(row.holder)
            else:
                h.role = row.role or h.role
                h.country = row.country or h.country
                s.graph.flowed(row.from_holder, row.holder, et)
                if row.from_holder not in s.holdings:
                    s.holding(row.from_holder)
                transferred = et == kinds.TRANSFERRED
                if transferred or h.move is None or not h.move.transferred or not h.categories:
                    h.move = Move(
                        at,
                        row.country,
                        row.mechanism,
                        row.mechanism_ref,
                        row.from_holder,
                        use,
                        transferred,
                    )
            h.receive(row.categories or (), at, use, row.legal_basis, row.retention)
        elif et == kinds.ERASED:
            s.holding(row.holder).erase(row.categories or (), at)
        elif et == kinds.CONSENT_WITHDRAWN:
            s.consent.record(at, row.purpose, False)
        elif et == kinds.CONSENT_GIVEN:
            s.consent.record(at, row.purpose, True)
    return s
