"""A sample company modelled on the Danish webshop policy in the project's seeds.

Nordlys Webshop ApS sells online. Its policy promises: contact-form enquiries kept 2 years
from the last contact; newsletter until unsubscribed (Mailchimp, US); customers kept 5 years
after the relationship ends; card data to the payment gateway (QuickPay); invoices in
e-conomic (bookkeeping: 5 years); a welcome gift shipped by a supplier; marketing pixels
shared with Meta and Google (US). One old support desk transfer still relies on Privacy
Shield, which the answers flag as invalid.

Events are produced as JSON objects with raw identifiers, exactly as a user would write
them, and go through the same edge as ``lineage emit``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

FIRST = [
    "anna",
    "bo",
    "carla",
    "dennis",
    "emma",
    "frederik",
    "gitte",
    "henrik",
    "ida",
    "jonas",
    "karen",
    "lars",
    "mette",
    "niels",
    "olivia",
    "peter",
    "rikke",
    "soren",
    "tina",
    "ulrik",
]
LAST = ["hansen", "jensen", "nielsen", "pedersen", "andersen", "christensen", "larsen", "madsen"]
SAMPLE_EMAIL = "jane.doe@example.dk"

CONTACT = ["user.name", "user.contact.email", "user.contact.phone_number"]
ADDRESS = [
    "user.contact.address.street",
    "user.contact.address.postal_code",
    "user.contact.address.city",
]


DPF = datetime(2023, 7, 10, tzinfo=UTC)
NEW_SCC = datetime(2021, 6, 27, tzinfo=UTC)


def _mechanism(t: datetime) -> str:
    return "dpf" if t >= DPF else "scc" if t >= NEW_SCC else "scc_2010"


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def events(
    subjects: int = 400, seed: int = 7, *, complete_erasures: bool = True
) -> Iterator[dict[str, Any]]:
    """The sample company's events. ``complete_erasures=False`` leaves erasure requests open,
    so the projection keeps every event (a completed erasure makes it forget the subject)."""
    rng = random.Random(seed)
    start = datetime(2019, 3, 1, tzinfo=UTC)
    for i in range(subjects):
        email = (
            SAMPLE_EMAIL if i == 0 else (f"{rng.choice(FIRST)}.{rng.choice(LAST)}{i}@example.dk")
        )
        yield from _subject(
            rng, i, email, start + timedelta(days=rng.randrange(0, 1800)), complete_erasures
        )


def _subject(
    rng: random.Random, i: int, email: str, t: datetime, complete_erasures: bool = True
) -> Iterator[dict[str, Any]]:
    sample = i == 0
    who = {"email": email}
    if sample:
        t = datetime(2019, 5, 6, 10, 15, tzinfo=UTC)

    def ev(event_type: str, when: datetime, **fields: Any) -> dict[str, Any]:
        return {"event_type": event_type, "occurred_at": _ts(when), "subject": who, **fields}

    # Contact form: kept 2 years (the catalog issue refines this to "from last contact").
    yield ev(
        "DataCollected",
        t,
        source="contact-form",
        categories=CONTACT,
        system="webshop-db",
        purpose="essential.service.operations.support",
        legal_basis="legitimate_interests",
        data_subject="prospect",
        retention="P2Y",
    )
    if sample or rng.random() < 0.15:
        # 2019 support desk in the US under Privacy Shield: invalid since 2020-07-16.
        yield ev(
            "DataTransferred",
            t + timedelta(hours=1),
            source="helpdesk",
            categories=["user.name", "user.contact.email"],
            from_holder="webshop-db",
            recipient="desk-support-inc",
            recipient_role="processor",
            destination_country="US",
            mechanism="privacy_shield",
            mechanism_ref="Privacy Shield list entry 2018",
            legal_basis="legitimate_interests",
            purpose="essential.service.operations.support",
        )
    t += timedelta(days=rng.randrange(1, 60))
    newsletter = sample or rng.random() < 0.5
    gone = None
    if newsletter and (sample or rng.random() < 0.25):
        gone = t + timedelta(days=rng.randrange(100, 400))
    if newsletter:
        yield ev(
            "ConsentGiven",
            t,
            source="webshop",
            purpose="marketing.communications.email",
            evidence={"text_version": "newsletter-v3", "channel": "web"},
        )
        yield ev(
            "DataCollected",
            t,
            source="webshop",
            categories=["user.contact.email", "user.name"],
            system="webshop-db",
            purpose="marketing.communications.email",
            legal_basis="consent",
            data_subject="customer",
        )
        for when in (t, DPF) if t < DPF and (gone is None or gone > DPF) else (t,):
            # Transfers made before the DPF were re-papered when Mailchimp certified.
            yield ev(
                "DataTransferred",
                when,
                source="mailchimp",
                categories=["user.contact.email", "user.name"],
                from_holder="webshop-db",
                recipient="mailchimp",
                recipient_role="processor",
                destination_country="US",
                mechanism=_mechanism(when),
                mechanism_ref="Mailchimp DPA",
                purpose="marketing.communications.email",
                legal_basis="consent",
            )
    if sample or rng.random() < 0.7:
        # Becomes a customer: an order, paid through QuickPay, invoiced in e-conomic.
        order = t + timedelta(days=rng.randrange(1, 90))
        customer_number = str(10000 + i)
        who = {"email": email, "customer_number": customer_number}
        yield ev(
            "DataCollected",
            order,
            source="webshop",
            categories=[
                *CONTACT,
                *ADDRESS,
                "user.account.username",
                "user.behavior.purchase_history",
            ],
            system="webshop-db",
            purpose="essential.service",
            legal_basis="contract",
            data_subject="customer",
            retention="P5Y",
        )
        yield ev(
            "DataShared",
            order,
            source="quickpay",
            categories=["user.name", "user.financial.credit_card", "user.contact.address"],
            from_holder="webshop-db",
            recipient="quickpay",
            recipient_role="processor",
            recipient_country="DK",
            purpose="essential.service.payment_processing",
            legal_basis="contract",
            retention="P5Y",
        )
        yield ev(
            "DataShared",
            order + timedelta(minutes=5),
            source="e-conomic",
            categories=["user.name", *ADDRESS, "user.contact.email"],
            from_holder="webshop-db",
            recipient="e-conomic",
            recipient_role="processor",
            recipient_country="DK",
            purpose="essential.legal_obligation",
            legal_basis="legal_obligation",
            retention="P6Y",
        )
        # e-conomic hosts with a sub-processor (onward chain).
        yield ev(
            "DataShared",
            order + timedelta(minutes=6),
            source="e-conomic",
            categories=["user.name", *ADDRESS],
            from_holder="e-conomic",
            recipient="visma-hosting",
            recipient_role="sub_processor",
            recipient_country="NO",
            purpose="essential.legal_obligation",
            legal_basis="legal_obligation",
        )
        if sample or rng.random() < 0.3:
            yield ev(
                "DataShared",
                order + timedelta(days=1),
                source="webshop",
                categories=["user.name", *ADDRESS],
                from_holder="webshop-db",
                recipient="gavefabrikken",
                recipient_role="controller",
                recipient_country="DK",
                purpose="marketing.advertising.first_party",
                legal_basis="legitimate_interests",
                retention="P3M",
            )
    if sample or rng.random() < 0.4:
        yield ev(
            "DataShared",
            t,
            source="pixel",
            categories=["user.device.ip_address", "user.device.cookie_id"],
            from_holder="webshop-db",
            recipient="meta-platforms-ireland",
            recipient_role="joint_controller",
            recipient_country="IE",
            purpose="marketing.advertising.third_party.targeted",
            legal_basis="consent",
            retention="P2Y",
        )
        for when in (t, DPF) if t < DPF else (t,):
            yield ev(
                "DataTransferred",
                when,
                source="pixel",
                categories=["user.device.ip_address", "user.device.cookie_id"],
                from_holder="meta-platforms-ireland",
                recipient="meta-platforms-inc",
                recipient_role="controller",
                destination_country="US",
                mechanism=_mechanism(when),
                purpose="marketing.advertising.third_party.targeted",
                legal_basis="consent",
            )
    if gone is not None:
        yield ev(
            "ConsentWithdrawn",
            gone,
            source="mailchimp",
            purpose="marketing.communications.email",
            evidence={"channel": "unsubscribe link"},
        )
        yield ev(
            "DataErased",
            gone + timedelta(days=1),
            source="mailchimp",
            holder="mailchimp",
            categories=["user.contact.email", "user.name"],
        )
    if not sample and rng.random() < 0.02:
        asked = t + timedelta(days=rng.randrange(200, 500))
        request = f"REQ-{i:04d}"
        yield ev("ErasureRequested", asked, source="dpo", request_id=request)
        yield ev(
            "ErasureTaskUpdated",
            asked + timedelta(days=2),
            source="dpo",
            request_id=request,
            holder="webshop-db",
            status="confirmed",
        )
        if i % 2:
            # A complex request: the DPO extends the Art. 12(3) deadline by two months.
            yield ev(
                "ErasureExtended",
                asked + timedelta(days=20),
                source="dpo",
                request_id=request,
                reason="records spread over several systems",
                deadline=_ts(asked + timedelta(days=90)),
            )
        yield ev("DataErased", asked + timedelta(days=2), source="dpo", holder="webshop-db")
        if complete_erasures:
            yield ev(
                "ErasureCompleted", asked + timedelta(days=2), source="dpo", request_id=request
            )


def catalog_events() -> Iterator[dict[str, Any]]:
    """Company-level facts recorded as events (retention declared by the DPO)."""
    who = {"organisation": "nordlys-webshop"}
    yield {
        "event_type": "RetentionDeclared",
        "occurred_at": "2019-01-01T00:00:00Z",
        "subject": who,
        "source": "dpo",
        "purpose": "essential.service.operations.support",
        "duration": "P2Y",
        "runs_from": "last_activity",
    }
    yield {
        "event_type": "CatalogChanged",
        "occurred_at": "2019-01-01T00:00:00Z",
        "subject": who,
        "source": "dpo",
        "digest": "0" * 64,
        "summary": "initial record of processing",
    }


# Holders whose data about the sample customer the demo takes from the connectors (recorded
# vendor payloads) instead of from this generator.
CONNECTOR_FED = frozenset(
    {"mailchimp", "quickpay", "e-conomic", "visma-hosting", "gavefabrikken", "stripe"}
)


def app_events(subjects: int = 400, seed: int = 7) -> Iterator[dict[str, Any]]:
    """``events`` minus what the connectors report about the sample customer."""
    for obj in events(subjects, seed):
        if obj["subject"].get("email") == SAMPLE_EMAIL and (
            obj.get("source") in CONNECTOR_FED
            or obj.get("recipient") in CONNECTOR_FED
            or obj.get("holder") in CONNECTOR_FED
        ):
            continue
        yield obj
