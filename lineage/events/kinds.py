"""Event type names, written once. Code and SQL refer to these constants (SQL through the
``@NAME`` macros that ``projection.queries`` expands), never to the strings themselves, so
adding an event type touches its schema, its class, and the rules that react to it.
"""

from __future__ import annotations

COLLECTED = "DataCollected"
SHARED = "DataShared"
TRANSFERRED = "DataTransferred"
CONSENT_GIVEN = "ConsentGiven"
CONSENT_WITHDRAWN = "ConsentWithdrawn"
IDENTITY_LINKED = "IdentityLinked"
REQUESTED = "ErasureRequested"
TASK_UPDATED = "ErasureTaskUpdated"
EXTENDED = "ErasureExtended"
COMPLETED = "ErasureCompleted"
ERASED = "DataErased"
RETENTION_DECLARED = "RetentionDeclared"
CATALOG_CHANGED = "CatalogChanged"

# Data reaching a holder: collected by an own system, or moved to a recipient.
FLOWS = (COLLECTED, SHARED, TRANSFERRED)
MOVES = (SHARED, TRANSFERRED)
CONSENT = (CONSENT_GIVEN, CONSENT_WITHDRAWN)
# The events of rights requests: their accountability record outlives forgetting.
REQUESTS = (REQUESTED, TASK_UPDATED, EXTENDED, COMPLETED)
# What a subject's lineage is made of (dropped when the subject is forgotten).
LINEAGE = (*FLOWS, *CONSENT, ERASED, RETENTION_DECLARED)

ALL = (*FLOWS, *CONSENT, IDENTITY_LINKED, *REQUESTS, ERASED, RETENTION_DECLARED, CATALOG_CHANGED)

# The macros SQL files may use: ``WHERE event_type IN @FLOWS``, ``event_type = @COLLECTED``.
SQL_MACROS: dict[str, tuple[str, ...] | str] = {
    name: value
    for name, value in globals().items()
    if name.isupper() and name != "SQL_MACROS" and isinstance(value, str | tuple)
}
