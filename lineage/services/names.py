"""Names given as options (holders, request ids) checked against what lineage knows.

A misspelt name must not give an answer: ``exposed --holder mailchimpp`` would report
"0 subjects" in a breach assessment. A holder is known when the events name it or the
catalog declares it.
"""

from __future__ import annotations

from collections.abc import Iterable

from lineage.catalog.catalog import Catalog
from lineage.errors import UnknownNameError
from lineage.events.taxonomy import suggest
from lineage.projection.store import Store


def known_holders(store: Store, catalog: Catalog | None) -> set[str]:
    names = {name for (name,) in store.fetch("known_holders")}
    return names | set(catalog.holders if catalog else ())


def closest(name: str, known: Iterable[str]) -> list[str]:
    """The closest known names: those the given one is a prefix of first (a shortened
    request id), then by similarity."""
    known = sorted(set(known))
    prefixed = [k for k in known if name and k.startswith(name)]
    return list(dict.fromkeys([*prefixed[:3], *suggest(name, known)]))[:3]


def require_known(name: str, known: Iterable[str], kind: str, where: str) -> None:
    known = set(known)
    if name not in known:
        raise UnknownNameError(kind, name, closest(name, known), where)
