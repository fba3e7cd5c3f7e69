"""Stripe: customers, charges and the event stream; signed webhooks; customer deletion.

Stripe is a processor for payments and a controller for its own legal duties (anti-money-
laundering): after a customer is deleted, charges remain with Stripe under that obligation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connectors import mapping as m
from lineage.errors import LineageError
from lineage.events.model import DataErased, Event
from lineage.ingest.base import (
    Connector,
    Defaults,
    Eraser,
    ErasureOutcome,
    MappedConfig,
    MappingContext,
    Resource,
    WebhookDelivery,
    WebhookHandler,
    WebhookRequest,
)
from lineage.ingest.config import Secret
from lineage.ingest.errors import PayloadError, RequestError, SignatureError
from lineage.ingest.http import Api
from lineage.ingest.paginate import CursorPaginator, Page
from lineage.ingest.webhooks import StripeSignature

_CUSTOMER = (
    ("name", m.NAME),
    ("email", m.EMAIL),
    ("phone", m.PHONE),
    ("address.line1", m.STREET),
    ("address.postal_code", m.POSTAL),
    ("address.city", m.CITY),
    ("address.country", m.COUNTRY),
    ("shipping.address", m.ADDRESS),
)
_CHARGE = (
    ("billing_details.name", m.NAME),
    ("billing_details.email", m.EMAIL),
    ("receipt_email", m.EMAIL),
    ("billing_details.phone", m.PHONE),
    ("billing_details.address", m.ADDRESS),
    ("payment_method_details.card", m.CARD),
)


@dataclass(frozen=True, kw_only=True)
class StripeConfig(MappedConfig):
    api_key: Secret
    webhook_secret: Secret | None = None
    tolerance: float = 300.0
    page_size: int = 100


class StripeConnector(Connector):
    name = "stripe"
    title = "Stripe (customers, charges, events, signed webhooks)"
    config_class = StripeConfig
    auth_setting = "api_key"
    default_base_url = "https://api.stripe.com"
    defaults = Defaults(
        recipient="stripe",
        recipient_country="IE",
        purpose="essential.service.payment_processing",
        legal_basis="contract",
    )
    config: StripeConfig
    webhook_retry_horizon = 3 * 86400.0  # "up to 3 days"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key.reveal()}"}

    def resources(self) -> list[Resource]:
        paginator = CursorPaginator(page_size=self.config.page_size)

        def lister(path: str) -> Any:
            def read(api: Api, since: Any, resume: Mapping[str, Any] | None) -> Iterator[Page]:
                # Lists filter only by creation time; changes come through events.
                params = {"created[gte]": since} if since is not None else {}
                return paginator.pages(api, path, params, resume)

            return read

        def created(r: dict[str, Any]) -> int:
            return int(r["created"])

        return [
            Resource("customers", lister("/v1/customers"), lambda r: r["id"], map_customer,
                     created, "int", "customers (created cursor)"),
            Resource("charges", lister("/v1/charges"), lambda r: r["id"], map_charge,
                     created, "int", "charges (created cursor)"),
            Resource("events", lister("/v1/events"), lambda r: r["id"], map_event,
                     created, "int", "changes, last 30 days (created cursor)"),
        ]  # fmt: skip

    def webhook(self) -> WebhookHandler:
        return StripeWebhook(self.config.webhook_secret, self.config.tolerance)

    def eraser(self) -> Eraser:
        return StripeEraser()


def map_customer(record: dict[str, Any], ctx: MappingContext) -> list[Event]:
    at = m.required_time(record, "created")
    cid = record["id"]
    ref, links = ctx.subject([("email", record.get("email")), ("stripe_customer", cid)], at)
    cats = m.categories(record, _CUSTOMER)
    ids = (
        ctx.event_id("customers", cid, 0, "shared"),
        ctx.event_id("customers", cid, 0, "transferred"),
    )
    return [*links, *m.shared_events(ctx, ref, at, cats, ids)]


def map_charge(record: dict[str, Any], ctx: MappingContext) -> list[Event]:
    at = m.required_time(record, "created")
    email = m.dig(record, "billing_details.email") or record.get("receipt_email")
    ref, links = ctx.subject(
        [
            ("email", email),
            ("stripe_customer", record.get("customer")),
            ("stripe_charge", record["id"]),
        ],
        at,
    )
    cats = m.categories(record, _CHARGE)
    ids = (
        ctx.event_id("charges", record["id"], 0, "shared"),
        ctx.event_id("charges", record["id"], 0, "transferred"),
    )
    return [*links, *m.shared_events(ctx, ref, at, cats, ids)]


def map_event(record: dict[str, Any], ctx: MappingContext) -> list[Event]:
    """A Stripe event (from ``/v1/events`` or a webhook): its object, as of the event."""
    kind = record["type"]
    obj = record["data"]["object"]
    at = m.required_time(record, "created")
    eid = record["id"]
    if kind == "customer.deleted":
        return [
            DataErased(
                subject_ref=ctx.ref("stripe_customer", obj["id"]),
                occurred_at=at,
                source=ctx.source,
                event_id=ctx.event_id("events", eid, 0, "erased"),
                holder=ctx.defaults.recipient,
            )
        ]
    if kind.startswith("customer.") and obj.get("object") == "customer":
        ref, links = ctx.subject([("email", obj.get("email")), ("stripe_customer", obj["id"])], at)
        cats = m.categories(obj, _CUSTOMER)
    elif kind.startswith("charge.") and obj.get("object") == "charge":
        email = m.dig(obj, "billing_details.email") or obj.get("receipt_email")
        ref, links = ctx.subject(
            [
                ("email", email),
                ("stripe_customer", obj.get("customer")),
                ("stripe_charge", obj["id"]),
            ],
            at,
        )
        cats = m.categories(obj, _CHARGE)
    else:
        return []  # events about objects that carry no personal data of their own
    ids = (ctx.event_id("events", eid, 0, "shared"), ctx.event_id("events", eid, 0, "transferred"))
    return [*links, *m.shared_events(ctx, ref, at, cats, ids)]


class StripeWebhook(WebhookHandler):
    def __init__(self, secret: Secret | None, tolerance: float) -> None:
        self.verifier = StripeSignature("stripe", secret, tolerance) if secret else None

    def handle(self, request: WebhookRequest, ctx: MappingContext, now: float) -> WebhookDelivery:
        if self.verifier is None:
            raise SignatureError("stripe", "no webhook_secret configured for this receiver")
        self.verifier.verify(request, now)
        try:
            event = json.loads(request.body)
            events = map_event(event, ctx)
            delivery = str(event["id"])  # Stripe retries and duplicates keep the event id
        except (LineageError, KeyError, TypeError, ValueError) as exc:
            raise PayloadError("stripe", f"unreadable event: {exc}", "webhook") from None
        return WebhookDelivery(delivery, events)


class StripeEraser(Eraser):
    """``DELETE /v1/customers/{id}``: permanent, removes saved cards. Charges stay with Stripe
    under its own legal obligation, which the outcome records."""

    def erase(self, api: Api, identifiers: Mapping[str, str]) -> list[ErasureOutcome]:
        ids: list[str] = []
        if identifiers.get("stripe_customer"):
            ids.append(identifiers["stripe_customer"])
        if identifiers.get("email"):
            found = api.get("/v1/customers", {"email": identifiers["email"], "limit": 100})
            ids += [c["id"] for c in found.get("data", [])]
        actions: list[str] = []
        for cid in dict.fromkeys(ids):
            try:
                api.request("DELETE", f"/v1/customers/{cid}")
            except RequestError as exc:
                if exc.status != 404:
                    raise
            actions.append(f"DELETE /v1/customers/{cid}")
        return [
            ErasureOutcome(
                "stripe",
                "confirmed",
                "charges remain with Stripe under its own legal obligation (anti-money-"
                "laundering); Stripe is controller for that copy",
                actions=tuple(actions),
            )
        ]
