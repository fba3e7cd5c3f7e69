"""Retention per holder × category × purpose (Art. 5(1)(e)).

Each receipt (a category received at a holder under a data use and basis) gets an end:
- the events' own ``retention`` (each runs from its event; the latest end wins), else
- the catalog's rule for the purpose it matches (``Catalog.purposes_for``, with the
  hierarchy), computed from that receipt's facts: first and last receipt, the last activity
  under the purpose, consent withdrawal, the end of the financial year; several matching
  purposes: the longest allowance; "until consent is withdrawn" while consent stands: open;
- neither: unknown (nothing recorded).

A category may be kept as long as any purpose it was received under allows: its end is the
latest of its receipts', open when one is open, unknown when one is unknown. It is *overdue*
when its end is known and has passed. A holder's end is the latest of its categories'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from lineage.rules.subject import Holding, Receipt, SubjectState
from lineage.timeutil import iso

if TYPE_CHECKING:
    from lineage.catalog.catalog import Catalog

EVENT = "event"
CATALOG = "catalog"


@dataclass(frozen=True)
class Reckoning:
    """Until when one receipt (or a category, or a holder) may be kept."""

    until: datetime | None = None
    open: bool = False  # no end yet: kept until consent is withdrawn, still given
    source: str | None = None  # event, catalog, or None: nothing recorded
    pids: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    estimated: bool = False  # a stand-in start (contract end, request closed)

    @property
    def known(self) -> bool:
        return self.until is not None and not self.open

    def overdue(self, as_of: datetime) -> bool:
        return self.known and self.until is not None and self.until < as_of


def reckon_receipt(
    s: SubjectState,
    h: Holding,
    key: tuple[str, str | None, str | None],
    r: Receipt,
    catalog: Catalog | None,
    memo: dict[tuple[Any, ...], Reckoning] | None = None,
) -> Reckoning:
    category, use, basis = key
    if r.event_until is not None:
        return Reckoning(r.event_until, source=EVENT)
    if catalog is None:
        return Reckoning()
    pids = catalog.purpose_ids(use, h.name, category, basis)
    if not pids:
        return Reckoning()
    # Categories received together share their facts: reckon each distinct set once.
    memo_key = (pids, use, r.first, r.last)
    if memo is not None and (found := memo.get(memo_key)) is not None:
        return found
    best: datetime | None = None
    is_open = False
    rules = []
    withdrawn = s.consent.withdrawn_at(use)
    year_end = catalog.doc.controller.financial_year_end
    for pid in pids:
        rule = catalog.rules[pid]
        rules.append(str(rule))
        if rule.runs_from == "end_of_financial_year":
            last = r.last  # the accounting material of the latest year at this holder
        else:
            last = s.last_activity(pid, use) or r.last
        until = rule.until(r.first, last, withdrawn, year_end)
        if until is None:
            is_open = True
        elif best is None or until > best:
            best = until
    estimated = any(catalog.rules[pid].estimated for pid in pids)
    out = Reckoning(
        None if is_open else best,
        open=is_open,
        source=CATALOG,
        pids=pids,
        rules=tuple(rules),
        estimated=estimated,
    )
    if memo is not None:
        memo[memo_key] = out
    return out


def combine(parts: list[Reckoning]) -> Reckoning:
    """Kept as long as any part allows: open if one is, unknown if one is, else the latest."""
    if not parts:
        return Reckoning()
    if len(parts) == 1:
        return parts[0]
    pids = tuple(dict.fromkeys(p for r in parts for p in r.pids))
    rules = tuple(dict.fromkeys(x for r in parts for x in r.rules))
    sources = {r.source for r in parts}
    source = None if None in sources else (CATALOG if CATALOG in sources else EVENT)
    estimated = any(r.estimated for r in parts)
    if any(r.open for r in parts):
        return Reckoning(None, True, source, pids, rules, estimated)
    if any(r.until is None for r in parts):
        return Reckoning(None, False, None, pids, rules, estimated)
    until = max(r.until for r in parts if r.until is not None)
    return Reckoning(until, False, source, pids, rules, estimated)


class HoldingRetention:
    """A holding's retention at every grain: receipts and categories at once; purposes and
    the holder when asked (the audit needs only categories)."""

    def __init__(self, s: SubjectState, h: Holding, catalog: Catalog | None) -> None:
        memo: dict[tuple[Any, ...], Reckoning] = {}
        self.receipts = {
            key: reckon_receipt(s, h, key, receipt, catalog, memo)
            for key, receipt in h.receipts.items()
        }
        by_category: dict[str, list[Reckoning]] = {}
        for key, r in self.receipts.items():
            by_category.setdefault(key[0], []).append(r)
        self.categories = {c: combine(parts) for c, parts in by_category.items()}

    @cached_property
    def purposes(self) -> dict[tuple[str | None, str | None], Reckoning]:
        by_purpose: dict[tuple[str | None, str | None], list[Reckoning]] = {}
        for key, r in self.receipts.items():
            by_purpose.setdefault((key[1], key[2]), []).append(r)
        return {k: combine(parts) for k, parts in by_purpose.items()}

    @cached_property
    def holder(self) -> Reckoning:
        return combine(list(self.categories.values()))

    def overdue_categories(self, as_of: datetime) -> list[str]:
        return sorted(c for c, r in self.categories.items() if r.overdue(as_of))


def reckon(s: SubjectState, h: Holding, catalog: Catalog | None) -> HoldingRetention:
    return HoldingRetention(s, h, catalog)


def describe(r: Reckoning, as_of: datetime) -> dict[str, Any]:
    """The JSON of one reckoning, as who-has and access show it."""
    out: dict[str, Any] = {"retain_until": iso(r.until) if not r.open else None}
    out["source"] = r.source
    if r.open:
        out["open"] = True
    if r.estimated:
        out["estimated"] = True
    if r.pids:
        out["catalog_purposes"] = list(r.pids)
    if r.rules:
        out["rule"] = "; ".join(r.rules)
    out["overdue"] = r.overdue(as_of)
    return out
