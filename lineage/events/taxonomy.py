"""The fideslang vocabulary: data categories, data uses and data subjects.

fideslang (the Fides taxonomy) is imported lazily: it pulls in pydantic, which the read path
of the CLI does not need.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from lineage.errors import TaxonomyError

# Art. 9(1) special categories and Art. 10 criminal data, as fideslang key prefixes
# (../shared/gdpr-facts.md). Trade-union membership has no fideslang key: catalogs declare it.
SPECIAL_CATEGORY_PREFIXES: dict[str, str] = {
    "user.health_and_medical": "art9",
    "user.biometric": "art9",
    "user.authorization.biometric": "art9",
    "user.demographic.race_ethnicity": "art9",
    "user.demographic.political_opinion": "art9",
    "user.demographic.religious_belief": "art9",
    "user.demographic.sexual_orientation": "art9",
    "user.criminal_history": "art10",
}


def special_category(key: str) -> str | None:
    """``art9``, ``art10`` or None for a category key."""
    for prefix, article in SPECIAL_CATEGORY_PREFIXES.items():
        if key == prefix or key.startswith(prefix + "."):
            return article
    return None


@dataclass(frozen=True)
class Taxonomy:
    categories: frozenset[str]
    uses: frozenset[str]
    subjects: frozenset[str]
    custom: frozenset[str] = field(default_factory=frozenset)

    def extended(
        self,
        categories: Iterable[str] = (),
        uses: Iterable[str] = (),
        subjects: Iterable[str] = (),
    ) -> Taxonomy:
        """A taxonomy with custom keys declared by a catalog."""
        cats, us, subs = set(categories), set(uses), set(subjects)
        return Taxonomy(
            self.categories | cats,
            self.uses | us,
            self.subjects | subs,
            self.custom | cats | us | subs,
        )

    def check_category(self, key: str, where: str | None = None) -> None:
        _check("data category", key, self.categories, where)

    def check_use(self, key: str, where: str | None = None) -> None:
        _check("data use", key, self.uses, where)

    def check_subject(self, key: str, where: str | None = None) -> None:
        _check("data subject", key, self.subjects, where)


def _check(kind: str, key: str, valid: frozenset[str], where: str | None) -> None:
    if key not in valid:
        raise TaxonomyError(kind, key, suggest(key, valid), where)


def suggest(key: str, valid: Iterable[str], n: int = 3) -> list[str]:
    """The closest valid keys. Dotted keys are compared whole and by their last segment, so
    ``user.emial`` finds ``user.contact.email``."""
    leaf = key.rsplit(".", 1)[-1]
    scored = []
    for candidate in valid:
        whole = difflib.SequenceMatcher(None, key, candidate).ratio()
        tail = difflib.SequenceMatcher(None, leaf, candidate.rsplit(".", 1)[-1]).ratio()
        score = max((whole + tail) / 2, whole if whole >= 0.85 else 0.0)
        if score >= 0.6:
            scored.append((-score, candidate))
    return [candidate for _, candidate in sorted(scored)[:n]]


@cache
def default_taxonomy() -> Taxonomy:
    from fideslang import DEFAULT_TAXONOMY

    return Taxonomy(
        frozenset(c.fides_key for c in DEFAULT_TAXONOMY.data_category),
        frozenset(u.fides_key for u in DEFAULT_TAXONOMY.data_use),
        frozenset(s.fides_key for s in DEFAULT_TAXONOMY.data_subject),
    )
