"""The event model: what lineage records. Nothing here does I/O."""

from lineage.events.model import (
    EVENT_TYPES,
    CatalogChanged,
    ConsentGiven,
    ConsentWithdrawn,
    DataCollected,
    DataErased,
    DataShared,
    DataTransferred,
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
    "ErasureRequested",
    "ErasureTaskUpdated",
    "Event",
    "Evidence",
    "IdentityLinked",
    "RetentionDeclared",
    "event_from_record",
]
