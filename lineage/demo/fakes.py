"""Vendor behaviour for ``FakeApi``: each vendor's paging, filters, auth and deletes over an
in-memory dataset, answering in the vendor's documented shapes. The datasets are the
recorded payloads under ``lineage/demo/fixtures/`` (or whatever a test or benchmark passes).

Each vendor is mounted under its own prefix (``/mailchimp/3.0``, ``/economic``, ``/stripe``,
``/quickpay``, ``/zendesk``), so one server can play all of them.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from lineage.demo.fakeapi import FakeApi, FakeRequest, FakeResponse

# Obviously fake credentials, shared by the fixtures, tests, demo and benchmark.
MAILCHIMP_KEY = "0000000000fakefakefake-us19"
MAILCHIMP_LIST = "a1b2c3d4e5"
ECONOMIC_SECRET = "demo-secret-token"
ECONOMIC_GRANT = "demo-grant-token"
STRIPE_KEY = "sk_test_fake_0000000000"
QUICKPAY_KEY = "fake-quickpay-api-key"
ZENDESK_TOKEN = "fake-zendesk-token"


def fixture(vendor: str, name: str) -> Any:
    """A recorded payload bundled with the package."""
    text = resources.files("lineage.demo").joinpath("fixtures", vendor, name).read_text()
    return json.loads(text)


def _basic_password(request: FakeRequest) -> str | None:
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Basic "):
        return None
    return base64.b64decode(auth[6:]).decode().partition(":")[2]


def _bearer(request: FakeRequest) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:] if auth.startswith("Bearer ") else None


def _filter(expression: str) -> Callable[[dict[str, Any]], bool]:
    """e-conomic filters: ``field$op:value`` chained with ``$and:``."""
    clauses = []
    for clause in expression.split("$and:"):
        name, _, rest = clause.partition("$")
        op, _, value = rest.partition(":")
        clauses.append((name, op, value))

    def test(record: dict[str, Any]) -> bool:
        for name, op, value in clauses:
            have: Any = record
            for part in name.split("."):
                have = have.get(part) if isinstance(have, dict) else None
            if have is None:
                return False
            want: Any = type(have)(value) if isinstance(have, int) else value
            ok = {
                "eq": have == want,
                "ne": have != want,
                "gt": have > want,
                "gte": have >= want,
                "lt": have < want,
                "lte": have <= want,
            }[op]
            if not ok:
                return False
        return True

    return test


@dataclass
class Mailchimp:
    members: list[dict[str, Any]] = field(default_factory=list)
    list_id: str = MAILCHIMP_LIST
    api_key: str = MAILCHIMP_KEY
    _listing: tuple[Any, list[dict[str, Any]]] | None = field(default=None, repr=False)

    def mount(self, api: FakeApi, prefix: str = "/mailchimp/3.0") -> None:
        base = f"{prefix}/lists/{self.list_id}/members"
        api.add("GET", base, self.list_members)
        api.add("POST", base + r"/(?P<hash>[0-9a-f]+)/actions/delete-permanent", self.delete)
        api.add("PATCH", base + r"/(?P<hash>[0-9a-f]+)", self.update)

    def _auth(self, request: FakeRequest) -> FakeResponse | None:
        if _basic_password(request) == self.api_key:
            return None
        return FakeResponse(
            401,
            {
                "type": "https://mailchimp.com/developer/marketing/docs/errors/",
                "title": "API Key Invalid",
                "status": 401,
                "detail": "Your API key may be invalid, or you've attempted to access the "
                "wrong datacenter.",
                "instance": str(uuid.uuid4()),
            },
        )

    def list_members(self, request: FakeRequest) -> FakeResponse:
        if denied := self._auth(request):
            return denied
        since = request.query.get("since_last_changed")
        ordered = request.query.get("sort_field") == "last_changed"
        # Filtered and sorted once per listing, not per page: the benchmark serves 100 pages
        # of 100,000 members from this process and measures the client, not the fake.
        key = (id(self.members), len(self.members), since, ordered)
        first = request.query.get("offset", "0") == "0"  # a new listing sees every change
        if first or self._listing is None or self._listing[0] != key:
            rows = self.members
            if since:
                rows = [r for r in rows if r["last_changed"] > since]
            if ordered:
                rows = sorted(rows, key=lambda r: r["last_changed"])
            self._listing = (key, rows)
        rows = self._listing[1]
        offset, count = int(request.query.get("offset", 0)), int(request.query.get("count", 10))
        count = min(count, 1000)
        return FakeResponse(
            json={
                "members": rows[offset : offset + count],
                "list_id": self.list_id,
                "total_items": len(rows),
                "_links": [],
            }
        )

    def delete(self, request: FakeRequest) -> FakeResponse:
        if denied := self._auth(request):
            return denied
        assert request.match is not None
        before = len(self.members)
        self.members = [m for m in self.members if m["id"] != request.match["hash"]]
        if len(self.members) == before:
            return FakeResponse(404, {"title": "Resource Not Found", "status": 404})
        return FakeResponse(204)

    def update(self, request: FakeRequest) -> FakeResponse:
        """``PATCH`` a member (the unsubscribe): the member as Mailchimp answers it."""
        if denied := self._auth(request):
            return denied
        assert request.match is not None
        body = request.json() or {}
        for member in self.members:
            if member["id"] == request.match["hash"]:
                if "status" in body:
                    member["status"] = body["status"]
                return FakeResponse(200, member)
        return FakeResponse(
            404,
            {
                "type": "https://mailchimp.com/developer/marketing/docs/errors/",
                "title": "Resource Not Found",
                "status": 404,
                "detail": "The requested resource could not be found.",
            },
        )


def _economic_page(
    request: FakeRequest, rows: list[dict[str, Any]], url: str, total: int
) -> FakeResponse:
    skip = int(request.query.get("skippages", 0))
    size = min(int(request.query.get("pagesize", 20)), 1000)
    page = rows[skip * size : (skip + 1) * size]
    pagination: dict[str, Any] = {
        "maxPageSizeAllowed": 1000,
        "skipPages": skip,
        "pageSize": size,
        "results": len(rows),
        "resultsWithoutFilter": total,
        "firstPage": f"{url}?skippages=0&pagesize={size}",
        "lastPage": f"{url}?skippages={max(0, (len(rows) - 1) // size)}&pagesize={size}",
    }
    if (skip + 1) * size < len(rows):
        pagination["nextPage"] = f"{url}?skippages={skip + 1}&pagesize={size}"
    return FakeResponse(json={"collection": page, "pagination": pagination, "self": url})


@dataclass
class Economic:
    customers: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    booked: list[dict[str, Any]] = field(default_factory=list)
    secret: str = ECONOMIC_SECRET
    grant: str = ECONOMIC_GRANT
    url: str = "https://restapi.e-conomic.com"

    def mount(self, api: FakeApi, prefix: str = "/economic") -> None:
        api.add("GET", prefix + "/customers", self.list_customers)
        api.add("GET", prefix + r"/customers/(?P<n>\d+)/contacts", self.list_contacts)
        api.add("GET", prefix + "/invoices/booked", self.list_booked)
        api.add("DELETE", prefix + r"/customers/(?P<n>\d+)", self.delete_customer)
        api.add(
            "DELETE", prefix + r"/customers/(?P<n>\d+)/contacts/(?P<c>\d+)", self.delete_contact
        )

    def _auth(self, request: FakeRequest) -> FakeResponse | None:
        if (
            request.headers.get("x-appsecrettoken") == self.secret
            and request.headers.get("x-agreementgranttoken") == self.grant
        ):
            return None
        return FakeResponse(
            401,
            {
                "message": "The provided agreement grant token is invalid.",
                "errorCode": "E04010",
                "developerHint": "Check the X-AgreementGrantToken header.",
                "httpStatusCode": 401,
                "logId": str(uuid.uuid4()),
            },
        )

    def _rows(self, request: FakeRequest, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        expression = request.query.get("filter")
        return [r for r in rows if _filter(expression)(r)] if expression else list(rows)

    def list_customers(self, request: FakeRequest) -> FakeResponse:
        if denied := self._auth(request):
            return denied
        rows = self._rows(request, self.customers)
        return _economic_page(request, rows, f"{self.url}/customers", len(self.customers))

    def list_contacts(self, request: FakeRequest) -> FakeResponse:
        if denied := self._auth(request):
            return denied
        assert request.match is not None
        rows = self.contacts.get(request.match["n"], [])
        return _economic_page(
            request, rows, f"{self.url}/customers/{request.match['n']}/contacts", len(rows)
        )

    def list_booked(self, request: FakeRequest) -> FakeResponse:
        if denied := self._auth(request):
            return denied
        rows = self._rows(request, self.booked)
        return _economic_page(request, rows, f"{self.url}/invoices/booked", len(self.booked))

    def delete_customer(self, request: FakeRequest) -> FakeResponse:
        if denied := self._auth(request):
            return denied
        assert request.match is not None
        n = int(request.match["n"])
        self.customers = [c for c in self.customers if c["customerNumber"] != n]
        return FakeResponse(204)

    def delete_contact(self, request: FakeRequest) -> FakeResponse:
        if denied := self._auth(request):
            return denied
        assert request.match is not None
        rows = self.contacts.get(request.match["n"], [])
        c = int(request.match["c"])
        self.contacts[request.match["n"]] = [r for r in rows if r["customerContactNumber"] != c]
        return FakeResponse(204)


def _stripe_list(request: FakeRequest, rows: list[dict[str, Any]], url: str) -> FakeResponse:
    rows = sorted(rows, key=lambda r: (r["created"], r["id"]), reverse=True)  # newest first
    for op in ("gt", "gte", "lt", "lte"):
        if (value := request.query.get(f"created[{op}]")) is not None:
            v = int(value)
            rows = [
                r
                for r in rows
                if {
                    "gt": r["created"] > v,
                    "gte": r["created"] >= v,
                    "lt": r["created"] < v,
                    "lte": r["created"] <= v,
                }[op]
            ]
    if email := request.query.get("email"):
        rows = [r for r in rows if r.get("email") == email]
    if after := request.query.get("starting_after"):
        ids = [r["id"] for r in rows]
        rows = rows[ids.index(after) + 1 :] if after in ids else []
    limit = min(int(request.query.get("limit", 10)), 100)
    return FakeResponse(
        json={"object": "list", "url": url, "has_more": len(rows) > limit, "data": rows[:limit]}
    )


@dataclass
class Stripe:
    customers: list[dict[str, Any]] = field(default_factory=list)
    charges: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    api_key: str = STRIPE_KEY

    def mount(self, api: FakeApi, prefix: str = "/stripe") -> None:
        for name in ("customers", "charges", "events"):
            api.add("GET", f"{prefix}/v1/{name}", self._lister(name))
        api.add("DELETE", prefix + r"/v1/customers/(?P<id>[\w]+)", self.delete_customer)

    def _auth(self, request: FakeRequest) -> FakeResponse | None:
        if _bearer(request) == self.api_key:
            return None
        return FakeResponse(
            401,
            {
                "error": {
                    "message": "Invalid API Key provided: sk_test_****0000",
                    "type": "invalid_request_error",
                }
            },
        )

    def _lister(self, name: str) -> Callable[[FakeRequest], FakeResponse]:
        def handler(request: FakeRequest) -> FakeResponse:
            if denied := self._auth(request):
                return denied
            return _stripe_list(request, getattr(self, name), f"/v1/{name}")

        return handler

    def delete_customer(self, request: FakeRequest) -> FakeResponse:
        if denied := self._auth(request):
            return denied
        assert request.match is not None
        cid = request.match["id"]
        if not any(c["id"] == cid for c in self.customers):
            return FakeResponse(
                404,
                {
                    "error": {
                        "code": "resource_missing",
                        "message": f"No such customer: '{cid}'",
                        "type": "invalid_request_error",
                    }
                },
            )
        self.customers = [c for c in self.customers if c["id"] != cid]
        return FakeResponse(json={"id": cid, "object": "customer", "deleted": True})


@dataclass
class QuickPay:
    payments: list[dict[str, Any]] = field(default_factory=list)
    api_key: str = QUICKPAY_KEY

    def mount(self, api: FakeApi, prefix: str = "/quickpay") -> None:
        api.add("GET", prefix + "/payments", self.list_payments)

    def list_payments(self, request: FakeRequest) -> FakeResponse:
        if (
            _basic_password(request) != self.api_key
            or request.headers.get("accept-version") != "v10"
        ):
            return FakeResponse(401, {"message": "Invalid API key"})
        rows = sorted(self.payments, key=lambda p: p["id"])
        if since := request.query.get("min_time"):
            rows = [p for p in rows if p["created_at"] >= since]
        page, size = int(request.query.get("page", 1)), int(request.query.get("page_size", 20))
        return FakeResponse(json=rows[(page - 1) * size : page * size])


@dataclass
class Zendesk:
    """Zendesk Sell with its Sync API: each device sees every change once it has acked it."""

    contacts: list[dict[str, Any]] = field(default_factory=list)
    leads: list[dict[str, Any]] = field(default_factory=list)
    token: str = ZENDESK_TOKEN
    queue_page: int = 2
    changes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    acked: dict[str, set[str]] = field(default_factory=dict)
    sessions: dict[str, tuple[str, set[str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, rows in (("contact", self.contacts), ("lead", self.leads)):
            for row in rows:
                self.change(kind, row, "created", keep=True)

    def change(self, kind: str, row: dict[str, Any], event_type: str, keep: bool = False) -> None:
        revision = sum(1 for key, _ in self.changes if key.startswith(f"{kind}-{row['id']}-")) + 1
        ack_key = f"{kind}-{row['id']}-{revision}"
        item = {
            "data": row,
            "meta": {
                "type": kind,
                "sync": {"event_type": event_type, "ack_key": ack_key, "revision": revision},
            },
        }
        self.changes.append((ack_key, item))
        if not keep:
            rows = self.contacts if kind == "contact" else self.leads
            rows[:] = [r for r in rows if r["id"] != row["id"]]
            if event_type != "deleted":
                rows.append(row)

    def mount(self, api: FakeApi, prefix: str = "/zendesk") -> None:
        api.add("POST", prefix + "/v2/sync/start", self.start)
        api.add("GET", prefix + r"/v2/sync/(?P<s>[\w-]+)/queues/main", self.queue)
        api.add("POST", prefix + "/v2/sync/ack", self.ack)
        for kind in ("contacts", "leads"):
            api.add("GET", f"{prefix}/v2/{kind}", self._lister(kind))
            api.add("DELETE", prefix + rf"/v2/{kind}/(?P<id>\d+)", self._deleter(kind))

    def _denied(self, request: FakeRequest) -> FakeResponse | None:
        if _bearer(request) == self.token:
            return None
        return FakeResponse(
            401,
            {
                "errors": [
                    {
                        "error": {"code": "unauthorized", "message": "Invalid token"},
                        "meta": {"type": "error"},
                    }
                ],
                "meta": {"type": "errors", "http_status": "401 Unauthorized"},
            },
        )

    def start(self, request: FakeRequest) -> FakeResponse:
        if denied := self._denied(request):
            return denied
        device = request.headers.get("x-basecrm-device-uuid")
        if not device:
            return FakeResponse(422, {"errors": [{"error": {"code": "missing_device"}}]})
        acked = self.acked.setdefault(device, set())
        pending = [key for key, _ in self.changes if key not in acked]
        if not pending:
            return FakeResponse(204)
        session = str(uuid.uuid4())
        self.sessions[session] = (device, set())
        return FakeResponse(
            201,
            {
                "data": {
                    "id": session,
                    "queues": [
                        {
                            "data": {"name": "main", "pages": 1, "total_count": len(pending)},
                            "meta": {"type": "sync_queue"},
                        }
                    ],
                },
                "meta": {"type": "sync_session"},
            },
        )

    def queue(self, request: FakeRequest) -> FakeResponse:
        if denied := self._denied(request):
            return denied
        assert request.match is not None
        device, delivered = self.sessions.get(request.match["s"], ("", set()))
        acked = self.acked.get(device, set())
        items = [i for k, i in self.changes if k not in acked and k not in delivered]
        items = items[: self.queue_page]
        if not items:
            return FakeResponse(204)
        delivered.update(i["meta"]["sync"]["ack_key"] for i in items)
        return FakeResponse(
            json={"items": items, "meta": {"type": "collection", "count": len(items)}}
        )

    def ack(self, request: FakeRequest) -> FakeResponse:
        if denied := self._denied(request):
            return denied
        device = request.headers.get("x-basecrm-device-uuid", "")
        keys = (request.json() or {}).get("data", {}).get("ack_keys", [])
        self.acked.setdefault(device, set()).update(keys)
        return FakeResponse(202)

    def _lister(self, kind: str) -> Callable[[FakeRequest], FakeResponse]:
        def handler(request: FakeRequest) -> FakeResponse:
            if denied := self._denied(request):
                return denied
            rows = getattr(self, kind)
            if email := request.query.get("email"):
                rows = [r for r in rows if r.get("email") == email]
            page, per = int(request.query.get("page", 1)), int(request.query.get("per_page", 25))
            chunk = rows[(page - 1) * per : page * per]
            return FakeResponse(
                json={
                    "items": [{"data": r, "meta": {"type": kind[:-1]}} for r in chunk],
                    "meta": {"type": "collection", "count": len(chunk)},
                }
            )

        return handler

    def _deleter(self, kind: str) -> Callable[[FakeRequest], FakeResponse]:
        def handler(request: FakeRequest) -> FakeResponse:
            if denied := self._denied(request):
                return denied
            assert request.match is not None
            rows = getattr(self, kind)
            row = next((r for r in rows if str(r["id"]) == request.match["id"]), None)
            if row is None:
                return FakeResponse(404, {"errors": [{"error": {"code": "not_found"}}]})
            self.change(kind[:-1], row, "deleted")
            return FakeResponse(204)

        return handler


@dataclass
class Vendors:
    """Every vendor on one fake server, loaded from the bundled recorded payloads."""

    mailchimp: Mailchimp
    economic: Economic
    stripe: Stripe
    quickpay: QuickPay
    zendesk: Zendesk

    @classmethod
    def recorded(cls) -> Vendors:
        contacts = fixture("economic", "contacts.json")
        return cls(
            mailchimp=Mailchimp(fixture("mailchimp", "members.json")["members"]),
            economic=Economic(
                fixture("economic", "customers.json")["collection"],
                {k: v["collection"] for k, v in contacts.items()},
                fixture("economic", "invoices_booked.json")["collection"],
            ),
            stripe=Stripe(
                fixture("stripe", "customers.json")["data"],
                fixture("stripe", "charges.json")["data"],
                fixture("stripe", "events.json")["data"],
            ),
            quickpay=QuickPay(fixture("quickpay", "payments.json")),
            zendesk=Zendesk(
                [i["data"] for i in fixture("zendesk", "contacts.json")["items"]],
                [i["data"] for i in fixture("zendesk", "leads.json")["items"]],
            ),
        )

    def mount(self, api: FakeApi) -> None:
        for vendor in (self.mailchimp, self.economic, self.stripe, self.quickpay, self.zendesk):
            vendor.mount(api)
