"""The event model: what lineage records. Nothing here does I/O.

The names below come from ``lineage.events.model`` on first use: building the dataclasses
costs start-up time that read commands (who-has) do not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lineage.events.model import (
        EVENT_TYPES,
        CatalogChanged,
        ConsentGiven,
        ConsentWithdrawn,
        DataCollected,
        DataErased,
        DataShared,
        DataTransferred,
        ErasureCompleted,
        ErasureExtended,
        ErasureRequested,
        ErasureTaskUpdated,
        Event,
        Evidence,
        IdentityLinked,
        RetentionDeclared,
        event_from_record,
    )

__all__ = [
    "EVENT_TYPES",
    "CatalogChanged",
    "ConsentGiven",
    "ConsentWithdrawn",
    "DataCollected",
    "DataErased",
    "DataShared",
    "DataTransferred",
    "ErasureCompleted",
    "ErasureExtended",
    "ErasureRequested",
    "ErasureTaskUpdated",
    "Event",
    "Evidence",
    "IdentityLinked",
    "RetentionDeclared",
    "event_from_record",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from lineage.events import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
