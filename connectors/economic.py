"""e-conomic (Visma): customers, their contacts and booked invoices.

e-conomic is the bookkeeping processor: what it holds falls under the bookkeeping act, so
booked invoices can never be deleted and erasure there is deferred until their retention
ends. Customers and contacts can be deleted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from connectors import mapping as m
from lineage.events.model import Event
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
from lineage.ingest.http import Api
from lineage.ingest.paginate import Page, SkipPagesPaginator
from lineage.timeutil import iso

_CUSTOMER = (
    ("name", m.NAME),
    ("email", m.EMAIL),
    ("address", m.STREET),
    ("zip", m.POSTAL),
    ("city", m.CITY),
    ("country", m.COUNTRY),
    ("telephoneAndFaxNumber", m.PHONE),
    ("mobilePhone", m.PHONE),
    ("corporateIdentificationNumber", m.GOV_ID),
    ("website", m.URL),
)
_CONTACT = (("name", m.NAME), ("email", m.EMAIL), ("phone", m.PHONE))
_RECIPIENT = (
    ("recipient.name", m.NAME),
    ("recipient.address", m.STREET),
    ("recipient.zip", m.POSTAL),
    ("recipient.city", m.CITY),
    ("recipient.country", m.COUNTRY),
    ("recipient.ean", m.ORG),
)


@dataclass(frozen=True, kw_only=True)
class EconomicConfig(MappedConfig):
    app_secret_token: Secret
    agreement_grant_token: Secret
    page_size: int = 1000
    # Bookkeeping act: 5 years from the end of the financial year (calendar year by default).
    bookkeeping_years: int = 5
    financial_year_end_month: int = 12


class EconomicConnector(Connector):
    name = "e-conomic"
    title = "e-conomic (customers, contacts, booked invoices)"
    config_class = EconomicConfig
    auth_setting = "agreement_grant_token"
    default_base_url = "https://restapi.e-conomic.com"
    defaults = Defaults(
        recipient="e-conomic",
        recipient_country="DK",
        purpose="essential.legal_obligation",
        legal_basis="legal_obligation",
        retention="P6Y",  # 5 years from the end of the financial year: at most 6 from now
    )
    eraser_honours_retention = True  # booked invoices are kept, the rest deleted
    config: EconomicConfig

    def headers(self) -> dict[str, str]:
        return {
            "X-AppSecretToken": self.config.app_secret_token.reveal(),
            "X-AgreementGrantToken": self.config.agreement_grant_token.reveal(),
            "Content-Type": "application/json",
        }

    def resources(self) -> list[Resource]:
        paginator = SkipPagesPaginator(page_size=self.config.page_size)

        def customers(api: Api, since: Any, resume: Mapping[str, Any] | None) -> Iterator[Page]:
            params = {"filter": f"lastUpdated$gte:{iso(since)}"} if since is not None else {}
            return paginator.pages(api, "/customers", params, resume)

        def contacts(api: Api, since: Any, resume: Mapping[str, Any] | None) -> Iterator[Page]:
            # Contacts have no timestamp of their own: follow the customers changed since
            # the watermark and read their contacts, stamped with the customer's lastUpdated.
            for page in customers(api, since, resume):
                records: list[dict[str, Any]] = []
                for customer in page.records:
                    number = customer["customerNumber"]
                    for sub in paginator.pages(api, f"/customers/{number}/contacts", {}, None):
                        for contact in sub.records:
                            records.append(
                                {
                                    **contact,
                                    "_customerNumber": number,
                                    "_lastUpdated": customer.get("lastUpdated"),
                                }
                            )
                yield Page(records, page.resume, page.total)

        def booked(api: Api, since: Any, resume: Mapping[str, Any] | None) -> Iterator[Page]:
            # Booked invoices never change: their number is the cursor.
            params = {"filter": f"bookedInvoiceNumber$gte:{since}"} if since is not None else {}
            return paginator.pages(api, "/invoices/booked", params, resume)

        return [
            Resource(
                "customers",
                customers,
                key=lambda r: str(r["customerNumber"]),
                map=map_customer,
                cursor=lambda r: m.required_time(r, "lastUpdated"),
                cursor_kind="time",
                description="customers (lastUpdated watermark)",
            ),
            Resource(
                "contacts",
                contacts,
                key=lambda r: f"{r['_customerNumber']}/{r['customerContactNumber']}",
                map=map_contact,
                cursor=lambda r: m.required_time(r, "_lastUpdated"),
                cursor_kind="time",
                description="customer contacts (of customers changed since the watermark)",
            ),
            Resource(
                "invoices-booked",
                booked,
                key=lambda r: str(r["bookedInvoiceNumber"]),
                map=map_booked_invoice,
                cursor=lambda r: int(r["bookedInvoiceNumber"]),
                cursor_kind="int",
                description="booked invoices (invoice-number cursor)",
            ),
        ]

    def eraser(self) -> Eraser:
        return EconomicEraser(self.config.bookkeeping_years, self.config.financial_year_end_month)


def map_customer(record: dict[str, Any], ctx: MappingContext) -> list[Event]:
    at = m.required_time(record, "lastUpdated")
    number = str(record["customerNumber"])
    ref, links = ctx.subject([("email", record.get("email")), ("customer_number", number)], at)
    cats = m.categories(record, _CUSTOMER)
    ids = (
        ctx.event_id("customers", number, iso(at), "shared"),
        ctx.event_id("customers", number, iso(at), "transferred"),
    )
    return [*links, *m.shared_events(ctx, ref, at, cats, ids)]


def map_contact(record: dict[str, Any], ctx: MappingContext) -> list[Event]:
    at = m.required_time(record, "_lastUpdated")
    key = f"{record['_customerNumber']}/{record['customerContactNumber']}"
    ref, links = ctx.subject([("email", record.get("email")), ("economic_contact", key)], at)
    cats = m.categories(record, _CONTACT)
    ids = (
        ctx.event_id("contacts", key, iso(at), "shared"),
        ctx.event_id("contacts", key, iso(at), "transferred"),
    )
    return [*links, *m.shared_events(ctx, ref, at, cats, ids)]


def map_booked_invoice(record: dict[str, Any], ctx: MappingContext) -> list[Event]:
    number = str(record["bookedInvoiceNumber"])
    at = m.required_time({"date": record["date"] + "T00:00:00Z"}, "date")
    customer = str(record["customer"]["customerNumber"])
    ref = ctx.ref("customer_number", customer)
    cats = (*m.categories(record, _RECIPIENT), m.PURCHASES)
    ids = (
        ctx.event_id("invoices-booked", number, 0, "shared"),
        ctx.event_id("invoices-booked", number, 0, "transferred"),
    )
    return m.shared_events(ctx, ref, at, cats, ids)


def retain_until(last_invoice: date, years: int, year_end_month: int) -> datetime:
    """End of the financial year of the last booked invoice, plus ``years``."""
    end_year = last_invoice.year if last_invoice.month <= year_end_month else last_invoice.year + 1
    if year_end_month == 12:
        end = datetime(end_year + years + 1, 1, 1, tzinfo=UTC)
    else:
        end = datetime(end_year + years, year_end_month + 1, 1, tzinfo=UTC)
    return end


class EconomicEraser(Eraser):
    """Deletes the customer's contacts and the customer; booked invoices stay (they cannot be
    deleted and keep a copy of name and address) until the bookkeeping retention ends."""

    def __init__(self, years: int, year_end_month: int) -> None:
        self.years, self.year_end_month = years, year_end_month

    def erase(self, api: Api, identifiers: Mapping[str, str]) -> list[ErasureOutcome]:
        numbers: list[str] = []
        if identifiers.get("customer_number"):
            numbers.append(str(identifiers["customer_number"]))
        if identifiers.get("email"):
            found = api.get("/customers", {"filter": f"email$eq:{identifiers['email']}"})
            numbers += [str(c["customerNumber"]) for c in found.get("collection", [])]
        numbers = list(dict.fromkeys(numbers))
        if not numbers:
            return [ErasureOutcome("e-conomic", "confirmed", "no customer with these identifiers")]
        actions: list[str] = []
        outcomes: list[ErasureOutcome] = []
        for number in numbers:
            contacts = api.get(f"/customers/{number}/contacts").get("collection", [])
            for contact in contacts:
                path = f"/customers/{number}/contacts/{contact['customerContactNumber']}"
                api.request("DELETE", path)
                actions.append(f"DELETE {path}")
            api.request("DELETE", f"/customers/{number}")
            actions.append(f"DELETE /customers/{number}")
            booked = api.get(
                "/invoices/booked", {"filter": f"customer.customerNumber$eq:{number}"}
            ).get("collection", [])
            if booked:
                last = max(date.fromisoformat(b["date"]) for b in booked)
                outcomes.append(
                    ErasureOutcome(
                        "e-conomic",
                        "retained",
                        f"{len(booked)} booked invoice(s) of customer {number} kept under the "
                        "bookkeeping act (they cannot be deleted)",
                        retain_until=retain_until(last, self.years, self.year_end_month),
                    )
                )
        return [ErasureOutcome("e-conomic", "confirmed", actions=tuple(actions)), *outcomes]
