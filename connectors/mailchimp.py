"""Mailchimp Marketing API v3: list members, webhooks, permanent deletion, unsubscribe.

Lineage meaning: a member is data shared with Mailchimp (a processor in the US, so also a
transfer); ``subscribed`` carries consent for e-mail marketing, ``unsubscribed`` its
withdrawal. Erasure is the ``delete-permanent`` action: ``DELETE`` on a member only archives.
A consent withdrawal recorded elsewhere reaches Mailchimp as ``PATCH`` on the member with
``status: unsubscribed`` (the member stays on the list, no longer mailed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from connectors import mapping as m
from lineage.errors import LineageError
from lineage.events.model import Event, IdentityLinked
from lineage.ingest.base import (
    Connector,
    Defaults,
    Eraser,
    ErasureOutcome,
    MappedConfig,
    MappingContext,
    Resource,
    Unsubscriber,
    WebhookDelivery,
    WebhookHandler,
    WebhookRequest,
)
from lineage.ingest.config import Secret
from lineage.ingest.errors import PayloadError, RequestError
from lineage.ingest.http import Api
from lineage.ingest.paginate import OffsetPaginator, Page
from lineage.ingest.webhooks import HmacHexSignature, UrlSecret, Verifier
from lineage.timeutil import iso

_FIELDS = (
    ("email_address", m.EMAIL),
    ("merge_fields.FNAME", m.NAME),
    ("merge_fields.LNAME", m.NAME),
    ("merge_fields.ADDRESS", m.ADDRESS),
    ("merge_fields.PHONE", m.PHONE),
    ("merge_fields.BIRTHDAY", m.BIRTHDAY),
    ("ip_signup", m.IP),
    ("ip_opt", m.IP),
)
_HOOK_FIELDS = (
    ("email", m.EMAIL),
    ("merges.FNAME", m.NAME),
    ("merges.LNAME", m.NAME),
    ("merges.ADDRESS", m.ADDRESS),
    ("merges.PHONE", m.PHONE),
    ("merges.BIRTHDAY", m.BIRTHDAY),
    ("ip_signup", m.IP),
    ("ip_opt", m.IP),
)
HELD = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}


@dataclass(frozen=True, kw_only=True)
class MailchimpConfig(MappedConfig):
    api_key: Secret
    list_id: str
    page_size: int = 1000
    # Classic webhooks sign nothing: the URL carries this secret (?secret=...).
    webhook_secret: Secret | None = None
    # Newer accounts may sign deliveries; header name and scheme unconfirmed, so optional.
    webhook_signing_key: Secret | None = None
    webhook_signature_header: str = "x-mailchimp-signature"


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


class MailchimpConnector(Connector):
    name = "mailchimp"
    title = "Mailchimp (list members, webhooks, permanent delete)"
    config_class = MailchimpConfig
    auth_setting = "api_key"
    defaults = Defaults(
        recipient="mailchimp",
        recipient_country="US",
        purpose="marketing.communications.email",
        legal_basis="consent",
        transfer_country="US",
        mechanism="dpf",
        mechanism_ref="Mailchimp DPA",
    )
    config: MailchimpConfig

    def _key(self) -> str:
        return self.config.api_key.reveal()

    def base_url(self) -> str:
        if self.config.base_url:
            return self.config.base_url
        dc = self._key().rpartition("-")[2] or "us1"
        return f"https://{dc}.api.mailchimp.com/3.0"

    def auth(self) -> Any:
        import httpx

        return httpx.BasicAuth("lineage", self._key())

    def resources(self) -> list[Resource]:
        paginator = OffsetPaginator("members", page_size=self.config.page_size)
        path = f"/lists/{self.config.list_id}/members"

        def read(api: Api, since: Any, resume: Mapping[str, Any] | None) -> Iterator[Page]:
            params: dict[str, Any] = {"sort_field": "last_changed", "sort_dir": "ASC"}
            if since is not None:
                params["since_last_changed"] = iso(since)
            return paginator.pages(api, path, params, resume)

        return [
            Resource(
                "members",
                read,
                key=lambda r: r["id"],
                map=map_member,
                cursor=lambda r: m.required_time(r, "last_changed"),
                cursor_kind="time",
                description="list members (since_last_changed)",
            )
        ]

    def webhook(self) -> WebhookHandler:
        verifiers: list[Verifier] = []
        if self.config.webhook_secret is not None:
            verifiers.append(UrlSecret(self.name, self.config.webhook_secret))
        if self.config.webhook_signing_key is not None:
            verifiers.append(
                HmacHexSignature(
                    self.name, self.config.webhook_signature_header, self.config.webhook_signing_key
                )
            )
        return MailchimpWebhook(verifiers)

    def eraser(self) -> Eraser:
        return MailchimpEraser(self.config.list_id)

    def unsubscriber(self) -> Unsubscriber:
        return MailchimpUnsubscriber(self.config.list_id)


def map_member(record: dict[str, Any], ctx: MappingContext) -> list[Event]:
    status = record["status"]
    if status not in HELD:
        return []  # archived members are no longer held
    email = record["email_address"]
    changed = m.required_time(record, "last_changed")
    first = m.when(record.get("timestamp_opt")) or m.when(record.get("timestamp_signup"))
    at = first or changed
    ref, links = ctx.subject([("email", email)], at)
    cats = m.categories(record, _FIELDS)
    key = record["id"]
    version = iso(changed)
    events: list[Event] = [*links]
    if status == "subscribed":
        events.append(
            m.consent(
                ctx, ref, at, True, ctx.event_id("members", key, iso(at), "consent"), "mailchimp"
            )
        )
    events += m.shared_events(
        ctx,
        ref,
        at,
        cats,
        (
            ctx.event_id("members", key, version, "shared"),
            ctx.event_id("members", key, version, "transferred"),
        ),
    )
    if status == "unsubscribed":
        events.append(
            m.consent(
                ctx,
                ref,
                changed,
                False,
                ctx.event_id("members", key, version, "withdrawn"),
                "mailchimp unsubscribe",
            )
        )
    return events


class MailchimpWebhook(WebhookHandler):
    """Form-encoded POSTs (``type=subscribe&data[email]=...``); Mailchimp first checks the URL
    with a GET, which is answered without recording anything."""

    def __init__(self, verifiers: list[Verifier]) -> None:
        self.verifiers = verifiers

    def handle(self, request: WebhookRequest, ctx: MappingContext, now: float) -> WebhookDelivery:
        from lineage.ingest.errors import SignatureError

        if not self.verifiers:
            raise SignatureError("mailchimp", "no webhook_secret configured for this receiver")
        for verifier in self.verifiers:
            verifier.verify(request, now)
        if request.method == "GET":
            return WebhookDelivery(None)
        form = _nested(dict(parse_qsl(request.body.decode("utf-8", "replace"))))
        kind = form.get("type")
        data = form.get("data") or {}
        delivery = ctx.ref("delivery", "mailchimp:" + hashlib.sha256(request.body).hexdigest())
        try:
            events = map_webhook(kind, data, form.get("fired_at"), ctx)
        except (LineageError, KeyError, ValueError, TypeError) as exc:
            raise PayloadError(
                "mailchimp", f"unreadable {kind} webhook: {exc}", "webhook"
            ) from None
        return WebhookDelivery(delivery, events)


def map_webhook(kind: Any, data: dict[str, Any], fired: Any, ctx: MappingContext) -> list[Event]:
    at: datetime | None = m.when(fired)
    if at is None:
        raise ValueError("missing fired_at")
    member = str(data.get("id") or data.get("new_id") or "")
    version = iso(at)

    def eid(tag: str) -> Any:
        return ctx.event_id("webhook", member, version, f"{kind}:{tag}")

    if kind == "subscribe":
        ref, links = ctx.subject([("email", data["email"])], at)
        cats = m.categories(data, _HOOK_FIELDS)
        return [
            *links,
            m.consent(ctx, ref, at, True, eid("consent"), "mailchimp subscribe"),
            *m.shared_events(ctx, ref, at, cats, (eid("shared"), eid("transferred"))),
        ]
    if kind == "unsubscribe":
        ref = ctx.ref("email", data["email"])
        reason = data.get("reason")
        channel = f"mailchimp unsubscribe ({reason})" if reason else "mailchimp unsubscribe"
        return [m.consent(ctx, ref, at, False, eid("withdrawn"), channel)]
    if kind == "profile":
        ref = ctx.ref("email", data["email"])
        cats = m.categories(data, _HOOK_FIELDS)
        return m.shared_events(ctx, ref, at, cats, (eid("shared"), eid("transferred")))
    if kind == "upemail":
        new = ctx.ref("email", data["new_email"])
        old = ctx.ref("email", data["old_email"])
        link = IdentityLinked(
            subject_ref=new, linked_ref=old, occurred_at=at, source=ctx.source, event_id=eid("link")
        )
        shared = m.shared_events(ctx, new, at, (m.EMAIL,), (eid("shared"), eid("transferred")))
        return [link, *shared]
    # cleaned (bounced address: Mailchimp keeps it, nothing changes for lineage) and
    # campaign notices carry no new personal-data fact.
    return []


def _nested(flat: dict[str, str]) -> dict[str, Any]:
    """``data[merges][FNAME]=Jane`` -> ``{"data": {"merges": {"FNAME": "Jane"}}}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.replace("]", "").split("[")
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[parts[-1]] = value
    return out


class MailchimpEraser(Eraser):
    def __init__(self, list_id: str) -> None:
        self.list_id = list_id

    def erase(self, api: Api, identifiers: Mapping[str, str]) -> list[ErasureOutcome]:
        email = identifiers.get("email")
        if not email:
            return [ErasureOutcome("mailchimp", "failed", "Mailchimp finds members by e-mail only")]
        path = f"/lists/{self.list_id}/members/{subscriber_hash(email)}/actions/delete-permanent"
        try:
            api.request("POST", path)
        except RequestError as exc:
            if exc.status == 404:
                return [ErasureOutcome("mailchimp", "confirmed", "not on the list", actions=())]
            raise
        return [ErasureOutcome("mailchimp", "confirmed", actions=(f"POST {path}",))]


class MailchimpUnsubscriber(Unsubscriber):
    """Every list member is e-mail marketing: any withdrawn purpose that reached Mailchimp
    unsubscribes the member. 404: not on the list, nothing held."""

    def __init__(self, list_id: str) -> None:
        self.list_id = list_id

    def unsubscribe(
        self, api: Api, identifiers: Mapping[str, str], purpose: str
    ) -> list[ErasureOutcome]:
        email = identifiers.get("email")
        if not email:
            return [ErasureOutcome("mailchimp", "failed", "Mailchimp finds members by e-mail only")]
        path = f"/lists/{self.list_id}/members/{subscriber_hash(email)}"
        try:
            api.request("PATCH", path, json_body={"status": "unsubscribed"})
        except RequestError as exc:
            if exc.status == 404:
                return [ErasureOutcome("mailchimp", "confirmed", "nothing held: not on the list")]
            raise
        return [ErasureOutcome("mailchimp", "confirmed", actions=(f"PATCH {path} unsubscribed",))]


__all__ = ["MailchimpConfig", "MailchimpConnector", "map_member", "subscriber_hash"]
