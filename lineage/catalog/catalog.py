"""The loaded catalog: the declared processing, with lookups the services need."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from lineage.catalog.model import CatalogDoc, Holder, Purpose, TransferDecl
from lineage.catalog.retention import RetentionRule
from lineage.events.taxonomy import Taxonomy, special_category
from lineage.events.vocab import RECIPIENT_ROLES

# Own systems are holders with role ``own``; the rest are recipients.
OWN = "own"
HOLDER_ROLES = (OWN, *RECIPIENT_ROLES)

# Art. 9(2)(a)-(j), and Art. 10's "authorised by law" for criminal data.
ART9_CONDITIONS = (
    "explicit_consent",
    "employment_social_security",
    "vital_interests",
    "not_for_profit_body",
    "made_public_by_subject",
    "legal_claims",
    "substantial_public_interest",
    "health_or_social_care",
    "public_health",
    "archiving_research_statistics",
    "authorised_by_law",
)
ART9_LETTERS = dict(zip(ART9_CONDITIONS, "abcdefghij", strict=False))


@dataclass(frozen=True)
class Catalog:
    path: str
    doc: CatalogDoc
    rules: dict[str, RetentionRule]
    taxonomy: Taxonomy | None = None
    digest: str = ""
    _cache: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def holders(self) -> dict[str, Holder]:
        return self.doc.holders

    @property
    def purposes(self) -> dict[str, Purpose]:
        return self.doc.purposes

    @cached_property
    def _custom_special(self) -> dict[str, str]:
        return {c.key: c.special for c in self.doc.taxonomy.categories if c.special}

    def special(self, category: str) -> str | None:
        """``art9``/``art10`` for fideslang's special keys and the catalog's own."""
        found = special_category(category)
        if found:
            return found
        for key, article in self._custom_special.items():
            if category == key or category.startswith(key + "."):
                return article
        return None

    def purposes_for(self, use: str | None, holder: str | None = None) -> list[str]:
        """Catalog purposes an event's purpose (a data use, or a purpose id) belongs to.
        When several share a data use, those that name the holder win."""
        if not use:
            return []
        if use in self.purposes:
            return [use]
        found = [pid for pid, p in self.purposes.items() if p.data_use == use]
        if holder and len(found) > 1:
            at = [pid for pid in found if holder in self.holders_of(pid)]
            found = at or found
        return found

    def holders_of(self, pid: str) -> set[str]:
        p = self.purposes[pid]
        return {*p.systems, *p.recipients, *(t.recipient for t in p.transfers)}

    def transfer_of(self, pid: str, recipient: str) -> TransferDecl | None:
        for t in self.purposes[pid].transfers:
            if t.recipient == recipient:
                return t
        return None

    def security_measures(self, pid: str) -> list[str]:
        own = self.purposes[pid].security_measures
        return list(own) if own is not None else list(self.doc.security_measures)

    def is_own(self, holder: str) -> bool:
        h = self.holders.get(holder)
        return h is not None and h.role == OWN
