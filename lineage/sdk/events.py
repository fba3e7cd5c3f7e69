"""The event methods ``Recorder`` and ``Client`` share: each builds the JSON object that
``lineage emit --file`` reads (same field names), and hands it to the implementation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

# Who an event is about: {"email": ..., "customer_number": ...} (several identifiers of one
# person are linked), or one identifier as the CLI takes it: an e-mail, +phone, KIND=VALUE,
# or a subject reference (64 hex digits).
Subject = Mapping[str, str] | str


def subject_fields(subject: Subject) -> dict[str, Any]:
    from lineage.edge.identity import is_subject_ref, parse_identifier

    if isinstance(subject, str):
        if is_subject_ref(subject):
            return {"subject_ref": subject}
        kind, value = parse_identifier(subject)
        return {"subject": {kind: value}}
    return {"subject": dict(subject)}


def _when(at: datetime | str | None) -> str:
    from lineage.timeutil import now

    if isinstance(at, str):
        return at
    return (at or now()).isoformat()


class EventMethods(ABC):
    """``collected``, ``shared``, ``transferred``, ``consent_given``, ``consent_withdrawn``,
    ``erased``. Every method takes ``at`` (when it happened; default now), ``event_id``
    (to deduplicate; default derived from the content) and ``source``."""

    source = "sdk"

    @abstractmethod
    def _add(self, obj: dict[str, Any]) -> None:
        """Take one event object (buffered until ``flush``)."""

    def event(
        self,
        event_type: str,
        subject: Subject,
        *,
        at: datetime | str | None = None,
        event_id: str | None = None,
        source: str | None = None,
        **fields: Any,
    ) -> None:
        """Any event type by name, with the JSON Lines fields."""
        obj: dict[str, Any] = {
            "event_type": event_type,
            "occurred_at": _when(at),
            "source": source or self.source,
            **subject_fields(subject),
        }
        if event_id is not None:
            obj["event_id"] = event_id
        for name, value in fields.items():
            if value is None:
                continue
            is_list = isinstance(value, Iterable) and not isinstance(value, str | Mapping)
            obj[name] = list(value) if is_list else value
        self._add(obj)

    def collected(
        self,
        subject: Subject,
        *,
        categories: Iterable[str],
        system: str,
        purpose: str,
        legal_basis: str,
        data_subject: str,
        origin: str | None = None,
        retention: str | None = None,
        **envelope: Any,
    ) -> None:
        """``DataCollected``: we now hold these categories in ``system``."""
        self.event(
            "DataCollected",
            subject,
            categories=categories,
            system=system,
            purpose=purpose,
            legal_basis=legal_basis,
            data_subject=data_subject,
            origin=origin,
            retention=retention,
            **envelope,
        )

    def shared(
        self,
        subject: Subject,
        *,
        categories: Iterable[str],
        from_holder: str,
        recipient: str,
        recipient_role: str,
        purpose: str,
        legal_basis: str,
        recipient_country: str | None = None,
        retention: str | None = None,
        **envelope: Any,
    ) -> None:
        """``DataShared``: these categories went from one holder to a recipient."""
        self.event(
            "DataShared",
            subject,
            categories=categories,
            from_holder=from_holder,
            recipient=recipient,
            recipient_role=recipient_role,
            purpose=purpose,
            legal_basis=legal_basis,
            recipient_country=recipient_country,
            retention=retention,
            **envelope,
        )

    def transferred(
        self,
        subject: Subject,
        *,
        categories: Iterable[str],
        from_holder: str,
        recipient: str,
        destination_country: str,
        mechanism: str,
        recipient_role: str | None = None,
        mechanism_ref: str | None = None,
        purpose: str | None = None,
        legal_basis: str | None = None,
        retention: str | None = None,
        **envelope: Any,
    ) -> None:
        """``DataTransferred``: these categories left the EEA, under ``mechanism``."""
        self.event(
            "DataTransferred",
            subject,
            categories=categories,
            from_holder=from_holder,
            recipient=recipient,
            destination_country=destination_country,
            mechanism=mechanism,
            recipient_role=recipient_role,
            mechanism_ref=mechanism_ref,
            purpose=purpose,
            legal_basis=legal_basis,
            retention=retention,
            **envelope,
        )

    def consent_given(
        self,
        subject: Subject,
        *,
        purpose: str,
        evidence: Mapping[str, str] | None = None,
        **envelope: Any,
    ) -> None:
        """``ConsentGiven`` for one purpose; ``evidence``: ``text_version``, ``channel``."""
        self.event("ConsentGiven", subject, purpose=purpose, evidence=evidence, **envelope)

    def consent_withdrawn(
        self,
        subject: Subject,
        *,
        purpose: str,
        evidence: Mapping[str, str] | None = None,
        **envelope: Any,
    ) -> None:
        """``ConsentWithdrawn`` for one purpose."""
        self.event("ConsentWithdrawn", subject, purpose=purpose, evidence=evidence, **envelope)

    def erased(
        self, subject: Subject, *, holder: str, categories: Iterable[str] = (), **envelope: Any
    ) -> None:
        """``DataErased``: ``holder`` no longer has these categories (all when none named)."""
        self.event("DataErased", subject, holder=holder, categories=categories, **envelope)
