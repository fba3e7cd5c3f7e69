"""Paginators: one small strategy class per way a vendor pages a list.

``pages(api, path, params, resume)`` yields ``Page``s. Each page carries ``resume``: the
parameters that fetch the page after it, so an interrupted sync continues where the last
durable page ended.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lineage.ingest.errors import PayloadError
from lineage.ingest.http import Api


@dataclass
class Page:
    records: list[dict[str, Any]]
    resume: dict[str, Any] | None = None  # None: this was the last page
    total: int | None = None  # records in the whole listing, when the vendor says
    # Called once the page's events are durable (Zendesk Sell acknowledges its queue here).
    on_durable: Callable[[], None] | None = field(default=None, repr=False)


class Paginator(ABC):
    @abstractmethod
    def pages(
        self, api: Api, path: str, params: Mapping[str, Any], resume: Mapping[str, Any] | None
    ) -> Iterator[Page]: ...


def _items(api: Api, body: Any, key: str | None, path: str) -> list[dict[str, Any]]:
    items = body if key is None else (body.get(key) if isinstance(body, dict) else None)
    if not isinstance(items, list):
        where = f"a list under {key!r}" if key else "a JSON array"
        raise PayloadError(api.connector, f"expected {where}", path)
    return items


class OffsetPaginator(Paginator):
    """``count`` + ``offset`` with a total count (Mailchimp)."""

    def __init__(
        self,
        items_key: str,
        *,
        page_size: int = 1000,
        limit_param: str = "count",
        offset_param: str = "offset",
        total_key: str = "total_items",
    ) -> None:
        self.items_key, self.page_size = items_key, page_size
        self.limit_param, self.offset_param, self.total_key = limit_param, offset_param, total_key

    def pages(
        self, api: Api, path: str, params: Mapping[str, Any], resume: Mapping[str, Any] | None
    ) -> Iterator[Page]:
        offset = int((resume or {}).get(self.offset_param, 0))
        while True:
            body = api.get(
                path, {**params, self.limit_param: self.page_size, self.offset_param: offset}
            )
            items = _items(api, body, self.items_key, path)
            total = body.get(self.total_key)
            offset += len(items)
            last = not items or (isinstance(total, int) and offset >= total)
            yield Page(items, None if last else {self.offset_param: offset}, total)
            if last:
                return


class SkipPagesPaginator(Paginator):
    """``skippages`` (0-based) + ``pagesize``; the last page has no ``nextPage`` (e-conomic)."""

    def __init__(self, *, page_size: int = 1000) -> None:
        self.page_size = page_size

    def pages(
        self, api: Api, path: str, params: Mapping[str, Any], resume: Mapping[str, Any] | None
    ) -> Iterator[Page]:
        skip = int((resume or {}).get("skippages", 0))
        while True:
            body = api.get(path, {**params, "skippages": skip, "pagesize": self.page_size})
            items = _items(api, body, "collection", path)
            pagination = body.get("pagination") or {}
            last = not pagination.get("nextPage") or not items
            skip += 1
            yield Page(items, None if last else {"skippages": skip}, pagination.get("results"))
            if last:
                return


class CursorPaginator(Paginator):
    """``limit`` + ``starting_after`` = last id, until ``has_more`` is false (Stripe)."""

    def __init__(self, *, page_size: int = 100) -> None:
        self.page_size = page_size

    def pages(
        self, api: Api, path: str, params: Mapping[str, Any], resume: Mapping[str, Any] | None
    ) -> Iterator[Page]:
        after = (resume or {}).get("starting_after")
        while True:
            query = {**params, "limit": self.page_size}
            if after:
                query["starting_after"] = after
            body = api.get(path, query)
            items = _items(api, body, "data", path)
            more = bool(body.get("has_more")) and bool(items)
            if items:
                after = items[-1].get("id")
                if not isinstance(after, str):
                    raise PayloadError(api.connector, "list item without an id", path)
            yield Page(items, {"starting_after": after} if more else None)
            if not more:
                return


class PageNumberPaginator(Paginator):
    """``page`` + a page size; stops at a short page (QuickPay's bare arrays, Zendesk Sell's
    ``items`` envelope). ``unwrap`` takes the record out of an envelope item."""

    def __init__(
        self,
        *,
        page_size: int = 100,
        size_param: str = "page_size",
        first_page: int = 1,
        items_key: str | None = None,
        unwrap: str | None = None,
    ) -> None:
        self.page_size, self.size_param, self.first_page = page_size, size_param, first_page
        self.items_key, self.unwrap = items_key, unwrap

    def pages(
        self, api: Api, path: str, params: Mapping[str, Any], resume: Mapping[str, Any] | None
    ) -> Iterator[Page]:
        page = int((resume or {}).get("page", self.first_page))
        while True:
            body = api.get(path, {**params, "page": page, self.size_param: self.page_size})
            items = _items(api, body, self.items_key, path)
            if self.unwrap:
                items = [i[self.unwrap] if isinstance(i, dict) else i for i in items]
            last = len(items) < self.page_size
            page += 1
            yield Page(items, None if last else {"page": page})
            if last:
                return
