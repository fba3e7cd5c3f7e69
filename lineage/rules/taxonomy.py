"""The fideslang hierarchy: a key covers itself and its descendants.

A purpose declared for ``essential.service`` covers events under
``essential.service.operations``; a declared category ``user.contact`` covers
``user.contact.email``. Not the other way round: an event under a broader key than declared
may hold more than was declared.
"""

from __future__ import annotations

from collections.abc import Iterable

from lineage.events.taxonomy import special_category

__all__ = ["covered", "covers", "depth", "special_category"]


def covers(declared: str, key: str) -> bool:
    """Whether ``declared`` is ``key`` or an ancestor of it."""
    return key == declared or (key.startswith(declared) and key[len(declared)] == ".")


def covered(key: str, declared: Iterable[str]) -> bool:
    """Whether any of ``declared`` covers ``key``."""
    return any(covers(d, key) for d in declared)


def depth(key: str) -> int:
    """How specific a key is: ``essential`` 1, ``essential.service.operations`` 3."""
    return key.count(".") + 1
