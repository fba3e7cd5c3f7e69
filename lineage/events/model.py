"""Events: immutable facts, named in the past tense, versioned.

Each event type is a frozen dataclass. ``to_record`` gives the Avro record (envelope nested
under ``envelope``, as in ``schemas/``); ``event_from_record`` is its inverse. The projector
works on the records directly (building dataclasses per event would halve its throughput);
everything else uses the dataclasses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, ClassVar

from lineage.events import kinds
from lineage.events.vocab import OWN_ROLE

_BODY_FIELDS: dict[type, tuple[str, ...]] = {}


def body_fields(cls: type[Event]) -> tuple[str, ...]:
    """The fields of an event type outside the envelope, in declaration order. Cached:
    ``dataclasses.fields`` is slow, and every event encoded calls this."""
    names = _BODY_FIELDS.get(cls)
    if names is None:
        names = _BODY_FIELDS[cls] = tuple(
            f.name for f in fields(cls) if f.name not in Event._ENVELOPE
        )
    return names


def remember_record(event: Event, record: dict[str, Any]) -> None:
    """Keep ``record`` (equal to ``event.to_record()``) with the event, for the codec to
    encode: the edge builds it anyway to check the event and derive its id. An event is
    immutable, and one rebuilt with changes (``dataclasses.replace``) does not carry it."""
    object.__setattr__(event, "_record", record)


def record_of(event: Event) -> dict[str, Any]:
    """``event.to_record()``, or the record the edge kept with it (not to be changed)."""
    record: dict[str, Any] | None = event.__dict__.get("_record")
    return record if record is not None else event.to_record()


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """Where consent came from: the version of the text shown and the channel."""

    text_version: str | None = None
    channel: str | None = None


@dataclass(frozen=True, kw_only=True)
class Event:
    """Envelope shared by every event."""

    event_type: ClassVar[str] = "Event"
    # This type's schema version: bumped with every change to schemas/<Type>.avsc, whose
    # previous version then moves to schemas/history/<Type>.v<N>.avsc.
    version: ClassVar[int] = 1
    # Where the projection keeps a field whose name is not an ``events`` column (the rest of
    # the fields without a column go to its JSON ``detail``), and constant columns.
    columns: ClassVar[dict[str, str]] = {}
    fixed: ClassVar[dict[str, str]] = {}

    subject_ref: str
    occurred_at: datetime
    source: str
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    recorded_at: datetime = field(default_factory=utcnow)
    # 0 = this type's current ``version``; decoded events keep the version they were written in.
    schema_version: int = 0

    _ENVELOPE: ClassVar[tuple[str, ...]] = (
        "event_id",
        "occurred_at",
        "recorded_at",
        "source",
        "subject_ref",
        "schema_version",
    )

    def __post_init__(self) -> None:
        if not self.schema_version:
            object.__setattr__(self, "schema_version", self.version)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in body_fields(type(self)):
            value = getattr(self, name)
            kind = type(value)
            if kind is tuple:
                value = list(value)
            elif kind is Evidence:
                value = {"text_version": value.text_version, "channel": value.channel}
            out[name] = value
        return out

    def to_record(self) -> dict[str, Any]:
        return {
            "envelope": {
                "event_id": str(self.event_id),
                "event_type": self.event_type,
                "occurred_at": self.occurred_at,
                "recorded_at": self.recorded_at,
                "source": self.source,
                "subject_ref": self.subject_ref,
                "schema_version": self.schema_version,
            },
            **self.body(),
        }


@dataclass(frozen=True, kw_only=True)
class DataCollected(Event):
    """We now hold these categories in one of our own systems."""

    event_type: ClassVar[str] = kinds.COLLECTED
    columns: ClassVar[dict[str, str]] = {"system": "holder"}
    fixed: ClassVar[dict[str, str]] = {"role": OWN_ROLE}
    categories: tuple[str, ...]
    system: str
    purpose: str
    legal_basis: str
    data_subject: str
    origin: str = "data_subject"
    retention: str | None = None


@dataclass(frozen=True, kw_only=True)
class DataShared(Event):
    """These categories went from one holder to a recipient."""

    event_type: ClassVar[str] = kinds.SHARED
    columns: ClassVar[dict[str, str]] = {
        "recipient": "holder",
        "recipient_role": "role",
        "recipient_country": "country",
    }
    categories: tuple[str, ...]
    from_holder: str
    recipient: str
    recipient_role: str
    purpose: str
    legal_basis: str
    recipient_country: str | None = None
    retention: str | None = None


@dataclass(frozen=True, kw_only=True)
class DataTransferred(Event):
    """These categories left the EEA."""

    event_type: ClassVar[str] = kinds.TRANSFERRED
    columns: ClassVar[dict[str, str]] = {
        "recipient": "holder",
        "recipient_role": "role",
        "destination_country": "country",
    }
    categories: tuple[str, ...]
    from_holder: str
    recipient: str
    destination_country: str
    mechanism: str
    recipient_role: str = "processor"
    mechanism_ref: str | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    retention: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConsentGiven(Event):
    event_type: ClassVar[str] = kinds.CONSENT_GIVEN
    purpose: str
    evidence: Evidence | None = None


@dataclass(frozen=True, kw_only=True)
class ConsentWithdrawn(Event):
    event_type: ClassVar[str] = kinds.CONSENT_WITHDRAWN
    purpose: str
    evidence: Evidence | None = None


@dataclass(frozen=True, kw_only=True)
class IdentityLinked(Event):
    """``subject_ref`` and ``linked_ref`` identify the same person."""

    event_type: ClassVar[str] = kinds.IDENTITY_LINKED
    linked_ref: str


@dataclass(frozen=True, kw_only=True)
class ErasureRequested(Event):
    """A rights request was received. An empty ``scope`` means all categories. ``kind`` is
    ``erasure`` (Art. 17), or ``rectification`` / ``restriction``, whose notification to
    every recipient (Art. 19) is tracked with the same tasks; ``withdrawal`` tells every
    recipient of data under ``purpose`` (a data use) that consent to it was withdrawn, once
    per ``ConsentWithdrawn`` (``withdrawal_id``: that event's id)."""

    event_type: ClassVar[str] = kinds.REQUESTED
    columns: ClassVar[dict[str, str]] = {"received_at": "at_time", "scope": "categories"}
    version: ClassVar[int] = 3  # v2 added kind; v3 purpose and withdrawal_id
    request_id: str
    received_at: datetime
    scope: tuple[str, ...] = ()
    kind: str = "erasure"
    purpose: str | None = None
    withdrawal_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ErasureTaskUpdated(Event):
    """Progress of a request's task at one holder. A task is (request_id, holder, action)."""

    event_type: ClassVar[str] = kinds.TASK_UPDATED
    columns: ClassVar[dict[str, str]] = {"retain_until": "at_time"}
    # v2 added action, categories, executor, attempt, note; v3 channel, step, message_id,
    # link_id (the proof of every channel step: sent, delivered, opened, answered); v4
    # reason_parts (the reason's code and parameters, for readers of other languages).
    version: ClassVar[int] = 4
    request_id: str
    holder: str
    status: str
    reason: str | None = None
    retain_until: datetime | None = None
    action: str | None = None
    categories: tuple[str, ...] = ()
    executor: str | None = None
    attempt: int = 0
    note: str | None = None
    channel: str | None = None
    step: str | None = None
    message_id: str | None = None
    link_id: str | None = None
    reason_parts: str | None = None


@dataclass(frozen=True, kw_only=True)
class ErasureExtended(Event):
    """The Art. 12(3) deadline of a request was extended, with the reason given."""

    event_type: ClassVar[str] = kinds.EXTENDED
    columns: ClassVar[dict[str, str]] = {"deadline": "at_time"}
    request_id: str
    reason: str
    deadline: datetime


@dataclass(frozen=True, kw_only=True)
class ErasureCompleted(Event):
    """Every task of the request is done. Recorded in the same append as the last task
    update; a whole-subject erasure makes the projection forget the subject's lineage."""

    event_type: ClassVar[str] = kinds.COMPLETED
    request_id: str


@dataclass(frozen=True, kw_only=True)
class DataErased(Event):
    """A holder no longer has these categories. An empty list means all of them."""

    event_type: ClassVar[str] = kinds.ERASED
    holder: str
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RetentionDeclared(Event):
    event_type: ClassVar[str] = kinds.RETENTION_DECLARED
    purpose: str
    duration: str
    runs_from: str
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CatalogChanged(Event):
    event_type: ClassVar[str] = kinds.CATALOG_CHANGED
    digest: str
    summary: str | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.event_type: cls
    for cls in (
        DataCollected,
        DataShared,
        DataTransferred,
        ConsentGiven,
        ConsentWithdrawn,
        IdentityLinked,
        ErasureRequested,
        ErasureTaskUpdated,
        ErasureExtended,
        ErasureCompleted,
        DataErased,
        RetentionDeclared,
        CatalogChanged,
    )
}


def event_from_record(record: dict[str, Any]) -> Event:
    """Build the dataclass from a decoded Avro record (inverse of ``Event.to_record``)."""
    env = record["envelope"]
    cls = EVENT_TYPES[env["event_type"]]
    kwargs: dict[str, Any] = {
        "event_id": uuid.UUID(str(env["event_id"])),
        "occurred_at": env["occurred_at"],
        "recorded_at": env["recorded_at"],
        "source": env["source"],
        "subject_ref": env["subject_ref"],
        "schema_version": env["schema_version"],
    }
    names = {f.name for f in fields(cls)}
    for key, value in record.items():
        if key == "envelope" or key not in names:
            continue
        if isinstance(value, list):
            value = tuple(value)
        elif key == "evidence" and isinstance(value, dict):
            value = Evidence(**value)
        kwargs[key] = value
    return cls(**kwargs)
