"""Consent state per data use over time.

The latest consent event at or before a moment decides, among those whose purpose covers the
data use asked about: withdrawing consent to ``marketing`` withdraws it for
``marketing.communications.email`` too; giving it again (for the use or an ancestor) restores it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lineage.rules.taxonomy import covers


@dataclass
class Consent:
    # (when, purpose, given) in the order the events were recorded.
    events: list[tuple[datetime, str, bool]] = field(default_factory=list)

    def record(self, at: datetime, purpose: str, given: bool) -> None:
        self.events.append((at, purpose, given))

    def withdrawn_at(self, use: str | None, before: datetime | None = None) -> datetime | None:
        """When consent for ``use`` was withdrawn, if it stands withdrawn (by events before
        ``before``, or all of them); None while given or never asked."""
        if not use:
            return None
        for at, purpose, given in reversed(self.events):
            if before is not None and at >= before:
                continue
            if covers(purpose, use):
                return None if given else at
        return None
