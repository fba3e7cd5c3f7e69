"""QuickPay: payments and signed callbacks. No erasure API: erasure is a manual request to
the processor, and payment records fall under bookkeeping retention."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connectors import mapping as m
from lineage.errors import LineageError
from lineage.events.model import Event
from lineage.ingest.base import (
    Connector,
    Defaults,
    MappedConfig,
    MappingContext,
    Resource,
    WebhookDelivery,
    WebhookHandler,
    WebhookRequest,
)
from lineage.ingest.config import Secret
from lineage.ingest.errors import PayloadError, SignatureError
from lineage.ingest.http import Api
from lineage.ingest.paginate import Page, PageNumberPaginator
from lineage.ingest.webhooks import HmacHexSignature
from lineage.timeutil import iso

_PAYMENT = (
    ("invoice_address.name", m.NAME),
    ("invoice_address.email", m.EMAIL),
    ("invoice_address.phone_number", m.PHONE),
    ("invoice_address.mobile_number", m.PHONE),
    ("invoice_address.street", m.STREET),
    ("invoice_address.zip_code", m.POSTAL),
    ("invoice_address.city", m.CITY),
    ("invoice_address.country_code", m.COUNTRY),
    ("shipping_address", m.ADDRESS),
    ("metadata.last4", m.CARD),
    ("metadata.customer_ip", m.IP),
)


@dataclass(frozen=True, kw_only=True)
class QuickPayConfig(MappedConfig):
    api_key: Secret
    # Callbacks are signed with the account's private key, not the API key.
    private_key: Secret | None = None
    page_size: int = 100


class QuickPayConnector(Connector):
    name = "quickpay"
    title = "QuickPay (payments, signed callbacks; erasure is a manual request)"
    config_class = QuickPayConfig
    auth_setting = "api_key"
    default_base_url = "https://api.quickpay.net"
    defaults = Defaults(
        recipient="quickpay",
        recipient_country="DK",
        purpose="essential.service.payment_processing",
        legal_basis="contract",
        retention="P5Y",
    )
    manual_erasure = (
        "QuickPay has no erasure API: ask QuickPay support to erase the card holder's data "
        "and track the task to confirmation; payment records stay under bookkeeping retention"
    )
    config: QuickPayConfig
    # "Retried up to 24 times"; the spacing of the tries is unconfirmed: assume within 3 days.
    webhook_retry_horizon = 3 * 86400.0

    def headers(self) -> dict[str, str]:
        return {"Accept-Version": "v10"}

    def auth(self) -> Any:
        import httpx

        return httpx.BasicAuth("", self.config.api_key.reveal())

    def resources(self) -> list[Resource]:
        paginator = PageNumberPaginator(page_size=self.config.page_size)

        def read(api: Api, since: Any, resume: Mapping[str, Any] | None) -> Iterator[Page]:
            params = {"min_time": iso(since)} if since is not None else {}
            return paginator.pages(api, "/payments", params, resume)

        return [
            Resource(
                "payments",
                read,
                key=lambda r: str(r["id"]),
                map=map_payment,
                cursor=lambda r: m.required_time(r, "created_at"),
                cursor_kind="time",
                description="payments (created_at watermark)",
            )
        ]

    def webhook(self) -> WebhookHandler:
        return QuickPayCallback(self.config.private_key)


def map_payment(record: dict[str, Any], ctx: MappingContext) -> list[Event]:
    at = m.required_time(record, "created_at")
    pid = str(record["id"])
    email = m.dig(record, "invoice_address.email")
    ref, links = ctx.subject([("email", email), ("quickpay_payment", pid)], at)
    cats = m.categories(record, _PAYMENT)
    if not cats:
        return links
    ids = (
        ctx.event_id("payments", pid, 0, "shared"),
        ctx.event_id("payments", pid, 0, "transferred"),
    )
    return [*links, *m.shared_events(ctx, ref, at, cats, ids)]


class QuickPayCallback(WebhookHandler):
    """POSTs of the payment JSON with ``QuickPay-Checksum-Sha256``; retried up to 24 times,
    so a delivery is recognised by a keyed hash of its body."""

    def __init__(self, private_key: Secret | None) -> None:
        self.verifier = (
            HmacHexSignature("quickpay", "QuickPay-Checksum-Sha256", private_key)
            if private_key
            else None
        )

    def handle(self, request: WebhookRequest, ctx: MappingContext, now: float) -> WebhookDelivery:
        if self.verifier is None:
            raise SignatureError("quickpay", "no private_key configured for this receiver")
        self.verifier.verify(request, now)
        kind = request.headers.get("quickpay-resource-type", "Payment")
        delivery = ctx.ref("delivery", "quickpay:" + hashlib.sha256(request.body).hexdigest())
        if kind != "Payment":
            return WebhookDelivery(delivery)
        try:
            events = map_payment(json.loads(request.body), ctx)
        except (LineageError, KeyError, TypeError, ValueError) as exc:
            raise PayloadError("quickpay", f"unreadable payment: {exc}", "callback") from None
        return WebhookDelivery(delivery, events)
