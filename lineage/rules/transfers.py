"""Is a transfer outside the EEA covered by a valid tool, as of a given time?

A transfer is valid at T when its mechanism existed on the transfer's own date and was not
invalidated between that date and T. The dates are data (``lineage/data/*.csv``, with their
sources), not code paths, so a new decision or judgment is a one-line change.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from lineage.resources import data_file
from lineage.rules.reasons import Reason, Text, english, to_json
from lineage.timeutil import iso

if TYPE_CHECKING:
    from lineage.catalog.catalog import Catalog
    from lineage.rules.subject import Holding


@dataclass(frozen=True)
class Window:
    valid_from: date | None
    invalid_from: date | None
    countries: frozenset[str]
    source: str

    def covers(self, on: date, as_of: date) -> bool:
        if self.valid_from and on < self.valid_from:
            return False
        return not (self.invalid_from and (on >= self.invalid_from or as_of >= self.invalid_from))


@dataclass(frozen=True)
class Validity:
    valid: bool
    parts: Text

    @property
    def reason(self) -> str:
        return english(self.parts)

    def to_json(self) -> dict[str, Any]:
        """``reason`` for people reading JSON, the code and parts for programs and other
        languages."""
        return {
            "reason": self.reason,
            "reason_code": self.parts[0].code,
            "reason_parts": to_json(self.parts),
        }


def _v(valid: bool, code: str, **params: Any) -> Validity:
    return Validity(valid, (Reason(code, {k: str(v) for k, v in params.items()}),))


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


@cache
def mechanisms() -> dict[str, Window]:
    with open(data_file("transfer_mechanisms.csv"), newline="") as fh:
        return {
            row["mechanism"]: Window(
                _date(row["valid_from"]),
                _date(row["invalid_from"]),
                frozenset(c for c in row["countries"].split() if c),
                row["source"],
            )
            for row in csv.DictReader(fh)
        }


@cache
def adequacy() -> dict[str, Window]:
    with open(data_file("adequacy_decisions.csv"), newline="") as fh:
        return {
            row["country"]: Window(
                _date(row["valid_from"]),
                _date(row["invalid_from"]),
                frozenset({row["country"]}),
                row["decision"],
            )
            for row in csv.DictReader(fh)
        }


@cache
def eea() -> dict[str, Window]:
    with open(data_file("eea.csv"), newline="") as fh:
        return {
            row["country"]: Window(
                _date(row["member_from"]),
                _date(row["member_until"]),
                frozenset({row["country"]}),
                row["note"],
            )
            for row in csv.DictReader(fh)
        }


def in_eea(country: str | None, on: date) -> bool:
    window = eea().get(country or "")
    if window is None:
        return False
    if window.valid_from and on < window.valid_from:
        return False
    return not (window.invalid_from and on > window.invalid_from)


def validity(
    mechanism: str | None, country: str, transferred: datetime, as_of: datetime
) -> Validity:
    """Validity of a transfer to ``country`` under ``mechanism`` made at ``transferred``."""
    on, at = transferred.date(), as_of.date()
    if in_eea(country, on):
        return _v(True, "transfer.in_eea", country=country)
    if mechanism in (None, "none"):
        return _v(False, "transfer.no_tool", country=country)
    if mechanism == "adequacy":
        decision = adequacy().get(country)
        if decision is None:
            return _v(False, "transfer.no_adequacy", country=country)
        if not decision.covers(on, at):
            return _v(False, "transfer.adequacy_not_covering", country=country, date=on)
        return _v(True, "transfer.valid", source=decision.source)
    window = mechanisms().get(mechanism)
    if window is None:
        return _v(False, "transfer.unknown_tool", mechanism=repr(mechanism))
    if window.countries and country not in window.countries:
        return _v(False, "transfer.not_for_country", mechanism=mechanism, country=country)
    if window.valid_from and on < window.valid_from:
        return _v(False, "transfer.not_yet", mechanism=mechanism, date=on)
    if window.invalid_from and on >= window.invalid_from:
        return _v(False, "transfer.invalid_from", mechanism=mechanism, date=window.invalid_from)
    if window.invalid_from and at >= window.invalid_from:
        return _v(False, "transfer.invalidated", mechanism=mechanism, date=window.invalid_from)
    return _v(True, "transfer.valid", source=window.source)


def changes(mechanism: str | None, country: str) -> list[date]:
    """The dates from which ``validity`` of a transfer under ``mechanism`` to ``country``
    may judge differently by the transfer's own date: between two of them (or before the
    first, or from the last) every transfer date gets the same judgment at a given time.
    Sums over many transfers judge one date per span."""
    out: set[date] = set()
    member = eea().get(country)
    if member is not None:
        out.update(d for d in (member.valid_from,) if d)
        if member.invalid_from:
            out.add(member.invalid_from + timedelta(days=1))  # a member on its last day
    windows = [adequacy().get(country), mechanisms().get(mechanism or "")]
    for w in windows:
        if w is not None:
            out.update(d for d in (w.valid_from, w.invalid_from) if d)
    return sorted(out)


def tool_for(
    catalog: Catalog | None, holder: str, use: str | None, mechanism: str | None
) -> str | None:
    """The transfer tool data moved to ``holder`` relied on: the event's own, else the tool
    the catalog declares for the purpose's transfer to that recipient, else the holder's."""
    if mechanism is not None or catalog is None:
        return mechanism
    for pid in catalog.purposes_for(use, holder):
        decl = catalog.transfer_of(pid, holder)
        if decl is not None and decl.mechanism:
            return decl.mechanism
    declared = catalog.holders.get(holder)
    if declared is not None and declared.transfer is not None:
        return declared.transfer.mechanism
    return None


def abroad(h: Holding, catalog: Catalog | None) -> tuple[str, str | None] | None:
    """The country outside the EEA a holding's latest move took its data to, and the tool
    it relied on (None when it stayed in the EEA). What ``judge`` judges; it does not depend
    on the time judged at, so the company-wide summaries keep it."""
    move = h.move
    if move is None:
        return None
    country = move.country or h.country
    if not country or in_eea(country, move.at.date()):
        return None
    return country, tool_for(catalog, h.name, move.purpose, move.mechanism)


def judge(h: Holding, catalog: Catalog | None, as_of: datetime) -> dict[str, Any] | None:
    """The transfer a holding's data made, judged as of ``as_of`` on the date of its latest
    move (None when it stayed in the EEA). Data erased there since is history: ``current``
    is false."""
    found = abroad(h, catalog)
    if found is None or h.move is None:
        return None
    move = h.move
    country, mechanism = found
    v = validity(mechanism, country, move.at, as_of)
    return {
        "country": country,
        "mechanism": mechanism or "none",
        "valid": v.valid,
        **v.to_json(),
        "mechanism_ref": move.mechanism_ref,
        "at": iso(move.at),
        "current": bool(h.categories),
    }


def dpf_certified(catalog: Catalog | None, holder: str) -> bool | None:
    """The DPF covers only certified US organisations, and only the catalog says which are:
    True or False from it, None (unknown) without one."""
    if catalog is None:
        return None
    h = catalog.holders.get(holder)
    return h is not None and h.dpf_certified
