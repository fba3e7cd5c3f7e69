"""The loaded catalog: the declared processing, with lookups the services need."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lineage.catalog.model import CatalogDoc, Holder, Purpose, TransferDecl
from lineage.catalog.retention import RetentionRule
from lineage.events.taxonomy import Taxonomy, special_category
from lineage.events.vocab import RECIPIENT_ROLES
from lineage.rules.taxonomy import covered, covers, depth

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
    _cache: dict[str, dict[Any, Any]] = field(default_factory=dict, compare=False, repr=False)

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
            if covers(key, category):
                return article
        return None

    def purposes_for(
        self,
        use: str | None,
        holder: str | None = None,
        category: str | None = None,
        basis: str | None = None,
    ) -> list[str]:
        """The catalog purposes an event's data use (or a purpose id) belongs to, at
        ``holder``, for ``category`` received under ``basis``: the one matching rule every
        command uses.

        A purpose's data use covers its descendants (fideslang's hierarchy). Among the
        purposes that cover the use, each narrowing applies only when something is left:
        those whose holders include ``holder`` (systems, recipients, transfers and their
        sub-processors); then those with the most specific data use; then those declaring
        ``category``; then those with the same legal basis. Several left: all of them
        (data may be kept as long as any allows)."""
        return list(self.purpose_ids(use, holder, category, basis))

    def purpose_ids(
        self,
        use: str | None,
        holder: str | None = None,
        category: str | None = None,
        basis: str | None = None,
    ) -> tuple[str, ...]:
        """``purposes_for`` as the cached tuple itself (no copy): for the fold's loops."""
        if not use:
            return ()
        key = (use, holder, category, basis)
        found = self._matches.get(key)
        if found is None:
            found = self._matches[key] = self._match(use, holder, category, basis)
        return found

    @cached_property
    def _matches(self) -> dict[tuple[str | None, ...], tuple[str, ...]]:
        return self._cache.setdefault("purposes_for", {})

    def _match(
        self, use: str, holder: str | None, category: str | None, basis: str | None
    ) -> tuple[str, ...]:
        if use in self.purposes:
            return (use,)
        found = [pid for pid, p in self.purposes.items() if covers(p.data_use, use)]
        if holder and len(found) > 1:
            found = [pid for pid in found if holder in self.reach_of(pid)] or found
        if len(found) > 1:
            deepest = max(depth(self.purposes[pid].data_use) for pid in found)
            found = [pid for pid in found if depth(self.purposes[pid].data_use) == deepest]
        if category and len(found) > 1:
            found = [
                pid for pid in found if covered(category, self.purposes[pid].categories)
            ] or found
        if basis and len(found) > 1:
            found = [pid for pid in found if self.purposes[pid].legal_basis == basis] or found
        return tuple(found)

    def declares_category(self, pids: list[str], category: str) -> bool:
        """Whether one of the purposes declares ``category`` (or an ancestor of it)."""
        return any(covered(category, self.purposes[pid].categories) for pid in pids)

    def holders_of(self, pid: str) -> set[str]:
        p = self.purposes[pid]
        return {*p.systems, *p.recipients, *(t.recipient for t in p.transfers)}

    def reach_of(self, pid: str) -> set[str]:
        """Holders the purpose's data may reach: its own, and their sub-processors (Art.
        28(2): authorised through the processor), down every level."""
        cache = self._cache.setdefault("reach_of", {})
        found = cache.get(pid)
        if found is None:
            found = set(self.holders_of(pid))
            todo = list(found)
            while todo:
                h = self.holders.get(todo.pop())
                for sub in h.sub_processors if h else ():
                    if sub not in found:
                        found.add(sub)
                        todo.append(sub)
            cache[pid] = found
        return set(found)

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
