"""Which supervisory authority supervises a controller established in an EEA country?

The authorities are data (``lineage/data/supervisory_authorities.csv``: names in English and
in the authority's language, website, dates and source), not code paths, so a renamed or
merged authority is a one-line change with its date, as with the transfer tables.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from datetime import date
from functools import cache
from typing import Any

from lineage.resources import data_file


@dataclass(frozen=True)
class Authority:
    country: str
    country_en: str
    country_da: str
    name_en: str
    name_local: str
    website: str
    valid_from: date | None
    valid_until: date | None
    note_en: str
    note_da: str
    source: str

    def covers(self, on: date) -> bool:
        if self.valid_from and on < self.valid_from:
            return False
        return not (self.valid_until and on > self.valid_until)

    def name(self) -> str:
        """The name in its own language, with the English one when it differs."""
        if self.name_local == self.name_en:
            return self.name_en
        return f"{self.name_local} ({self.name_en})"

    def country_name(self, lang: str = "en") -> str:
        return self.country_da if lang == "da" else self.country_en

    def note(self, lang: str = "en") -> str | None:
        return (self.note_da if lang == "da" else self.note_en) or None

    def to_json(self, lang: str = "en") -> dict[str, Any]:
        out = asdict(self)
        out["valid_from"] = self.valid_from.isoformat() if self.valid_from else None
        out["valid_until"] = self.valid_until.isoformat() if self.valid_until else None
        out["note"] = self.note(lang)
        for key in ("note_en", "note_da"):
            del out[key]
        return out


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


@cache
def authorities() -> tuple[Authority, ...]:
    with open(data_file("supervisory_authorities.csv"), newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return tuple(
        Authority(
            country=row["country"],
            country_en=row["country_en"],
            country_da=row["country_da"],
            name_en=row["name_en"],
            name_local=row["name_local"],
            website=row["website"],
            valid_from=_date(row["valid_from"]),
            valid_until=_date(row["valid_until"]),
            note_en=row["note_en"],
            note_da=row["note_da"],
            source=row["source"],
        )
        for row in rows
    )


def authority_for(country: str | None, on: date) -> Authority | None:
    """The authority of ``country`` on ``on``; None outside the EEA (no establishment there,
    so no authority follows from it) or before the GDPR applied there."""
    for authority in authorities():
        if authority.country == country and authority.covers(on):
            return authority
    return None
