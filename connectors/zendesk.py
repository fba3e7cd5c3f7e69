"""Zendesk Sell (formerly Base CRM): contacts and leads through the Sync API; deletion.

The Sync API keeps the cursor on the vendor's side: a device sees each change until it
acknowledges it, and the acknowledgement is sent only after the page's events are durable.
The product is reported to reach end of life, so this connector stays thin.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connectors import mapping as m
from lineage.events.model import DataErased, Event
from lineage.ingest.base import (
    Connector,
    Defaults,
    Eraser,
    ErasureOutcome,
    MappedConfig,
    MappingContext,
    Resource,
)
from lineage.ingest.config import Secret
from lineage.ingest.errors import PayloadError, RequestError
from lineage.ingest.http import Api
from lineage.ingest.paginate import Page, PageNumberPaginator
from lineage.timeutil import iso

_PERSON = (
    ("name", m.NAME),
    ("first_name", m.NAME),
    ("last_name", m.NAME),
    ("email", m.EMAIL),
    ("phone", m.PHONE),
    ("mobile", m.PHONE),
    ("address", m.ADDRESS),
    ("title", m.JOB),
    ("linkedin", m.SOCIAL),
    ("twitter", m.SOCIAL),
    ("facebook", m.SOCIAL),
    ("skype", m.SOCIAL),
)


@dataclass(frozen=True, kw_only=True)
class ZendeskConfig(MappedConfig):
    token: Secret
    # The Sync API tracks acknowledgements per device; one is made up and kept in the
    # sync state unless given here.
    device_uuid: str | None = None
    per_page: int = 100


class ZendeskSellConnector(Connector):
    name = "zendesk-sell"
    title = "Zendesk Sell (contacts and leads via the Sync API)"
    config_class = ZendeskConfig
    auth_setting = "token"
    default_base_url = "https://api.getbase.com"
    defaults = Defaults(
        recipient="zendesk-sell",
        recipient_country="US",
        purpose="sales",
        legal_basis="legitimate_interests",
        data_subject="prospect",
        transfer_country="US",
        mechanism="dpf",
        mechanism_ref="Zendesk DPA",
    )
    config: ZendeskConfig

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.config.token.reveal()}",
            "Accept": "application/json",
        }

    def device(self) -> str:
        if self.config.device_uuid:
            return self.config.device_uuid
        if self.home is None:
            return str(uuid.uuid4())
        path = self.home / "connectors" / "zendesk-sell.device"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(str(uuid.uuid4()) + "\n")
        return path.read_text().strip()

    def resources(self) -> list[Resource]:
        device = self.device()

        def sync(api: Api, since: Any, resume: Mapping[str, Any] | None) -> Iterator[Page]:
            headers = {"X-Basecrm-Device-UUID": device}
            started = api.request("POST", "/v2/sync/start", headers=headers)
            if started.status_code == 204:
                return  # nothing changed since the last acknowledgement
            session = api.json(started, "/v2/sync/start")["data"]["id"]
            while True:
                response = api.request("GET", f"/v2/sync/{session}/queues/main", headers=headers)
                if response.status_code == 204:
                    return
                items = api.json(response, "sync queue").get("items") or []
                if not items:
                    return
                keys = [i["meta"]["sync"]["ack_key"] for i in items]
                records = [{**i["data"], "_meta": i["meta"]} for i in items]

                def ack(keys: list[str] = keys) -> None:
                    api.request("POST", "/v2/sync/ack", json_body={"data": {"ack_keys": keys}},
                                headers=headers)  # fmt: skip

                yield Page(records, None, on_durable=ack)

        pages = PageNumberPaginator(
            page_size=self.config.per_page, size_param="per_page", items_key="items", unwrap="data"
        )

        def lister(kind: str) -> Any:
            def read(api: Api, since: Any, resume: Mapping[str, Any] | None) -> Iterator[Page]:
                for page in pages.pages(api, f"/v2/{kind}", {}, resume):
                    page.records = [{**r, "_meta": {"type": kind[:-1]}} for r in page.records]
                    yield page

            return read

        def key(r: dict[str, Any]) -> str:
            return f"{r['_meta']['type']}-{r['id']}"

        return [
            Resource("sync", sync, key, map_item, description="contacts and leads (Sync API)"),
            Resource("contacts", lister("contacts"), key, map_item, description="full listing"),
            Resource("leads", lister("leads"), key, map_item, description="full listing"),
        ]

    def eraser(self) -> Eraser:
        return ZendeskEraser()


def map_item(record: dict[str, Any], ctx: MappingContext) -> list[Event]:
    meta = record["_meta"]
    kind = meta["type"]
    if kind not in ("contact", "lead"):
        return []
    sync = meta.get("sync") or {}
    vendor_id = f"{kind}-{record['id']}"
    at = m.when(record.get("updated_at")) or m.required_time(record, "created_at")
    if sync.get("event_type") == "deleted":
        return [
            DataErased(
                subject_ref=ctx.ref(f"zendesk_{kind}", str(record["id"])),
                occurred_at=at,
                source=ctx.source,
                event_id=ctx.event_id("sync", vendor_id, sync.get("revision"), "erased"),
                holder=ctx.defaults.recipient,
            )
        ]
    ref, links = ctx.subject(
        [("email", record.get("email")), (f"zendesk_{kind}", str(record["id"]))], at
    )
    cats = m.categories(record, _PERSON)
    ids = (
        ctx.event_id("sync", vendor_id, iso(at), "shared"),
        ctx.event_id("sync", vendor_id, iso(at), "transferred"),
    )
    return [*links, *m.shared_events(ctx, ref, at, cats, ids)]


class ZendeskEraser(Eraser):
    def erase(self, api: Api, identifiers: Mapping[str, str]) -> list[ErasureOutcome]:
        actions: list[str] = []
        for kind in ("contacts", "leads"):
            ids = []
            if identifiers.get(f"zendesk_{kind[:-1]}"):
                ids.append(identifiers[f"zendesk_{kind[:-1]}"])
            if identifiers.get("email"):
                found = api.get(f"/v2/{kind}", {"email": identifiers["email"]})
                try:
                    ids += [str(i["data"]["id"]) for i in found.get("items", [])]
                except (KeyError, TypeError):
                    raise PayloadError("zendesk-sell", "unexpected search result", kind) from None
            for vid in dict.fromkeys(ids):
                try:
                    api.request("DELETE", f"/v2/{kind}/{vid}")
                except RequestError as exc:
                    if exc.status != 404:
                        raise
                actions.append(f"DELETE /v2/{kind}/{vid}")
        return [ErasureOutcome("zendesk-sell", "confirmed", actions=tuple(actions))]
