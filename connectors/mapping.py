"""Helpers for the pure mappings: reading fields, naming categories, building the usual
events from a connector's defaults. No I/O here."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from lineage.events.model import (
    ConsentGiven,
    ConsentWithdrawn,
    DataCollected,
    DataShared,
    DataTransferred,
    Event,
    Evidence,
)
from lineage.ingest.base import MappingContext
from lineage.timeutil import parse_time

NAME = "user.name"
EMAIL = "user.contact.email"
PHONE = "user.contact.phone_number"
STREET = "user.contact.address.street"
POSTAL = "user.contact.address.postal_code"
CITY = "user.contact.address.city"
COUNTRY = "user.contact.address.country"
ADDRESS = "user.contact.address"
CARD = "user.financial.credit_card"
IP = "user.device.ip_address"
BIRTHDAY = "user.demographic.date_of_birth"
LOCATION = "user.location.imprecise"
JOB = "user.job_title"
SOCIAL = "user.social"
URL = "user.contact.url"
ORG = "user.contact.organization"
GOV_ID = "user.government_id"
PURCHASES = "user.behavior.purchase_history"


def dig(record: Any, path: str) -> Any:
    """``dig(r, "billing_details.address.city")``; None when any step is missing."""
    value = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def present(value: Any) -> bool:
    if value is None or value == "" or value == {} or value == []:
        return False
    if isinstance(value, Mapping):
        return any(present(v) for v in value.values())
    return True


def categories(record: Any, spec: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The categories whose field is present, in spec order, each once."""
    out: list[str] = []
    for path, category in spec:
        if category not in out and present(dig(record, path)):
            out.append(category)
    return tuple(out)


def when(value: Any) -> datetime | None:
    """A vendor timestamp (ISO 8601, ``YYYY-MM-DD HH:MM:SS`` in UTC, or Unix seconds)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"timestamp {value!r} is out of range") from None
    if isinstance(value, str) and len(value) == 19 and value[10] == " ":
        value = value.replace(" ", "T") + "Z"
    return parse_time(value, assume_utc=True)


def required_time(record: Mapping[str, Any], name: str) -> datetime:
    value = when(record.get(name))
    if value is None:
        raise ValueError(f"missing timestamp {name!r}")
    return value


def shared_events(
    ctx: MappingContext,
    ref: str,
    at: datetime,
    cats: tuple[str, ...],
    ids: tuple[uuid.UUID, uuid.UUID],
) -> list[Event]:
    """DataShared from our own system to the connector's recipient, and DataTransferred too
    when the recipient is outside the EEA."""
    d = ctx.defaults
    out: list[Event] = [
        DataShared(
            subject_ref=ref,
            occurred_at=at,
            source=ctx.source,
            recorded_at=ctx.now(),
            event_id=ids[0],
            categories=cats,
            from_holder=d.own_system,
            recipient=d.recipient,
            recipient_role=d.recipient_role,
            recipient_country=d.recipient_country,
            purpose=d.purpose,
            legal_basis=d.legal_basis,
            retention=d.retention,
        )
    ]
    if d.transfer_country:
        out.append(
            DataTransferred(
                subject_ref=ref,
                occurred_at=at,
                source=ctx.source,
                recorded_at=ctx.now(),
                event_id=ids[1],
                categories=cats,
                from_holder=d.own_system,
                recipient=d.recipient,
                recipient_role=d.recipient_role,
                destination_country=d.transfer_country,
                mechanism=d.mechanism,
                mechanism_ref=d.mechanism_ref,
                purpose=d.purpose,
                legal_basis=d.legal_basis,
                retention=d.retention,
            )
        )
    return out


def collected(
    ctx: MappingContext, ref: str, at: datetime, cats: tuple[str, ...], event_id: uuid.UUID
) -> DataCollected:
    d = ctx.defaults
    return DataCollected(
        subject_ref=ref,
        occurred_at=at,
        source=ctx.source,
        recorded_at=ctx.now(),
        event_id=event_id,
        categories=cats,
        system=d.own_system,
        purpose=d.purpose,
        legal_basis=d.legal_basis,
        data_subject=d.data_subject,
        retention=d.retention,
    )


def consent(
    ctx: MappingContext,
    ref: str,
    at: datetime,
    given: bool,
    event_id: uuid.UUID,
    channel: str,
    text_version: str | None = None,
) -> Event:
    cls = ConsentGiven if given else ConsentWithdrawn
    return cls(
        subject_ref=ref,
        occurred_at=at,
        source=ctx.source,
        recorded_at=ctx.now(),
        event_id=event_id,
        purpose=ctx.defaults.purpose,
        evidence=Evidence(text_version=text_version, channel=channel),
    )
