"""Write the golden encoding of one fixed event per type: ``<EventType>-v<N>.bin``.

Run from the repository root when an event type or a schema version is added::

    python -m tests.golden.make_golden

Existing files are never rewritten: they are the bytes a released version wrote, and
``tests/test_codec.py`` proves that they still decode. Every optional field is set, so each
field's encoding is pinned. When a schema changes, its type's ``version`` goes up, a new file
is written for it, and the old file stays, listed in ``LEGACY_EVENTS`` with what it decodes to.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from lineage.codec import default_codec
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
)

HERE = Path(__file__).resolve().parent

SUBJECT = "5d41402abc4b2a76b9719d911017c592" + "7d793fb5c7f3ad8d2a0c5b3f0e8a1c29"
OTHER = "0f3a4c1b2e5d6a7980b1c2d3e4f5a6b7" + "c8d9e0f1a2b3c4d5e6f708192a3b4c5d"
# Non-zero microseconds pin the timestamp-micros encoding.
OCCURRED = datetime(2024, 1, 15, 9, 30, 0, 123456, tzinfo=UTC)
RECORDED = datetime(2024, 1, 15, 9, 30, 5, 654321, tzinfo=UTC)


def _envelope(n: int) -> dict[str, object]:
    return {
        "event_id": uuid.UUID(f"00000000-0000-4000-8000-{n:012d}"),
        "occurred_at": OCCURRED,
        "recorded_at": RECORDED,
        "source": "golden",
        "subject_ref": SUBJECT,
    }


GOLDEN_EVENTS: dict[str, Event] = {
    e.event_type: e
    for e in (
        DataCollected(
            **_envelope(1),
            categories=("user.name", "user.contact.email"),
            system="webshop-db",
            purpose="essential.service",
            legal_basis="contract",
            data_subject="customer",
            origin="third_party",
            retention="P2Y",
        ),
        DataShared(
            **_envelope(2),
            categories=("user.name",),
            from_holder="webshop-db",
            recipient="e-conomic",
            recipient_role="processor",
            purpose="essential.legal_obligation",
            legal_basis="legal_obligation",
            recipient_country="DK",
            retention="P5Y",
        ),
        DataTransferred(
            **_envelope(3),
            categories=("user.contact.email",),
            from_holder="webshop-db",
            recipient="mailchimp",
            destination_country="US",
            mechanism="dpf",
            recipient_role="sub_processor",
            mechanism_ref="DPF list entry 2023",
            purpose="marketing.communications.email",
            legal_basis="consent",
            retention="P1Y",
        ),
        ConsentGiven(
            **_envelope(4),
            purpose="marketing.communications.email",
            evidence=Evidence(text_version="newsletter-v3", channel="web"),
        ),
        ConsentWithdrawn(
            **_envelope(5),
            purpose="marketing.communications.email",
            evidence=Evidence(text_version="newsletter-v3", channel="email-link"),
        ),
        IdentityLinked(**_envelope(6), linked_ref=OTHER),
        ErasureRequested(
            **_envelope(7),
            request_id="req-2024-001",
            received_at=datetime(2024, 2, 1, 8, 0, 0, 1, tzinfo=UTC),
            scope=("user.contact.email",),
            kind="withdrawal",
            purpose="marketing.communications.email",
            withdrawal_id="00000000-0000-4000-8000-000000000004",
        ),
        ErasureTaskUpdated(
            **_envelope(8),
            request_id="req-2024-001",
            holder="e-conomic",
            status="retained",
            reason="bookkeeping act: 5 years",
            retain_until=datetime(2029, 1, 15, tzinfo=UTC),
            action="retain",
            categories=("user.name", "user.contact.address"),
            executor="e-conomic",
            attempt=2,
            note="booked invoices kept",
            channel="email",
            step="sent",
            message_id="<0f4e2c1a@lineage>",
            link_id="0f4e2c1a",
            reason_parts='[{"code": "task.erase", "params": {}}]',
        ),
        ErasureExtended(
            **_envelope(12),
            request_id="req-2024-001",
            reason="complex request across 9 holders",
            deadline=datetime(2024, 5, 1, tzinfo=UTC),
        ),
        ErasureCompleted(**_envelope(13), request_id="req-2024-001"),
        DataErased(**_envelope(9), holder="mailchimp", categories=("user.contact.email",)),
        RetentionDeclared(
            **_envelope(10),
            purpose="essential.legal_obligation",
            duration="P5Y",
            runs_from="end_of_financial_year",
            categories=("user.financial",),
        ),
        CatalogChanged(**_envelope(11), digest="sha256:" + "ab" * 32, summary="added mailchimp"),
    )
}


# Files written by earlier schema versions, and the event each decodes to today: the old
# fields as written, the fields added since at their defaults.
LEGACY_EVENTS: dict[tuple[str, int], Event] = {
    ("ErasureRequested", 2): ErasureRequested(
        **_envelope(7),
        schema_version=2,
        request_id="req-2024-001",
        received_at=datetime(2024, 2, 1, 8, 0, 0, 1, tzinfo=UTC),
        scope=("user.contact.email",),
        kind="rectification",
    ),
    ("ErasureRequested", 1): ErasureRequested(
        **_envelope(7),
        schema_version=1,
        request_id="req-2024-001",
        received_at=datetime(2024, 2, 1, 8, 0, 0, 1, tzinfo=UTC),
        scope=("user.contact.email",),
    ),
    ("ErasureTaskUpdated", 1): ErasureTaskUpdated(
        **_envelope(8),
        schema_version=1,
        request_id="req-2024-001",
        holder="e-conomic",
        status="retained",
        reason="bookkeeping act: 5 years",
        retain_until=datetime(2029, 1, 15, tzinfo=UTC),
    ),
    ("ErasureTaskUpdated", 2): ErasureTaskUpdated(
        **_envelope(8),
        schema_version=2,
        request_id="req-2024-001",
        holder="e-conomic",
        status="retained",
        reason="bookkeeping act: 5 years",
        retain_until=datetime(2029, 1, 15, tzinfo=UTC),
        action="retain",
        categories=("user.name", "user.contact.address"),
        executor="e-conomic",
        attempt=2,
        note="booked invoices kept",
    ),
    ("ErasureTaskUpdated", 3): ErasureTaskUpdated(
        **_envelope(8),
        schema_version=3,
        request_id="req-2024-001",
        holder="e-conomic",
        status="retained",
        reason="bookkeeping act: 5 years",
        retain_until=datetime(2029, 1, 15, tzinfo=UTC),
        action="retain",
        categories=("user.name", "user.contact.address"),
        executor="e-conomic",
        attempt=2,
        note="booked invoices kept",
        channel="email",
        step="sent",
        message_id="<0f4e2c1a@lineage>",
        link_id="0f4e2c1a",
    ),
}


def golden_path(event_type: str, version: int | None = None) -> Path:
    """The golden file of a type's current schema version, or of an earlier ``version``."""
    return HERE / f"{event_type}-v{version or EVENT_TYPES[event_type].version}.bin"


def main() -> None:
    codec = default_codec()
    for event_type, event in GOLDEN_EVENTS.items():
        path = golden_path(event_type)
        if path.exists():
            print(f"kept    {path.name}")
            continue
        path.write_bytes(codec.encode(event))
        print(f"written {path.name}")


if __name__ == "__main__":
    main()
