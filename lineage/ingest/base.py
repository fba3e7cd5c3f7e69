"""The connector interface: what a plugin implements, and what it gets to work with.

A connector has a ``name``, a typed config (``config_class``), one or more ``Resource``s
(a reader that pages through the vendor's API plus a pure mapping from a source record to
events), and optionally a webhook handler and an eraser. It depends on lineage's events and
edge only; the sync engine, state and the log are somebody else's business.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from lineage.edge.identity import Pseudonymizer
from lineage.edge.jsonl import EVENT_NAMESPACE
from lineage.events.model import Event, IdentityLinked, utcnow
from lineage.ingest.config import ConnectorConfig, where_to_set
from lineage.ingest.http import Api, RetryPolicy
from lineage.ingest.paginate import Page

if TYPE_CHECKING:
    import httpx

CursorKind = Literal["time", "int"]


@dataclass(frozen=True)
class Defaults:
    """Who holds the data and why, when the catalog (or the config) does not say."""

    own_system: str = "webshop-db"
    recipient: str = ""
    recipient_role: str = "processor"
    recipient_country: str | None = None
    purpose: str = "essential.service"
    legal_basis: str = "contract"
    data_subject: str = "customer"
    retention: str | None = None
    transfer_country: str | None = None  # set: the recipient is outside the EEA
    mechanism: str = "scc"
    mechanism_ref: str | None = None


@dataclass(frozen=True)
class MappedConfig(ConnectorConfig):
    """Config of a connector whose events name holders and purposes: every field overrides
    the connector's ``Defaults`` (the catalog's entry for the holder, once it exists)."""

    own_system: str | None = None
    recipient: str | None = None
    recipient_role: str | None = None
    recipient_country: str | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    data_subject: str | None = None
    retention: str | None = None
    transfer_country: str | None = None
    mechanism: str | None = None
    mechanism_ref: str | None = None


class MappingContext:
    """What a mapping needs besides the record: the source name, pseudonymisation, the
    defaults, and deterministic event ids.

    Event ids come from a keyed reference of (connector, resource, record id) plus the
    record's version and a tag for which of the record's events it is: the same record
    version always yields the same ids, so re-runs and overlapping windows never duplicate.
    The record id goes through the pseudonym key first because some vendor ids are unkeyed
    hashes of e-mail addresses (Mailchimp's member id is an MD5)."""

    def __init__(self, source: str, pseudo: Pseudonymizer, defaults: Defaults) -> None:
        self.source = source
        self.pseudo = pseudo
        self.defaults = defaults
        # Set by the sync for a whole page: one clock read per page, not one per event.
        self.recorded_at: datetime | None = None
        self._keyed: tuple[str, str] = ("", "")

    def now(self) -> datetime:
        """The ``recorded_at`` of the events being mapped."""
        return self.recorded_at or utcnow()

    def ref(self, kind: str, value: str) -> str:
        return self.pseudo.ref(kind, value)

    def record_ref(self, resource: str, key: str) -> str:
        """The keyed reference of a vendor record's id: what event ids and sync state use,
        so neither holds an id that may be an identifier or an unkeyed hash of one."""
        name = f"{self.source}:{resource}:{key}"
        # A record's events ask for its keyed reference several times in a row.
        if self._keyed[0] == name:
            return self._keyed[1]
        keyed = self.pseudo.ref("record", name)
        self._keyed = (name, keyed)
        return keyed

    def event_id(self, resource: str, key: str, version: object, tag: str) -> uuid.UUID:
        keyed = self.record_ref(resource, key)
        return uuid.uuid5(EVENT_NAMESPACE, f"{keyed}:{version}:{tag}")

    def subject(
        self, identifiers: Sequence[tuple[str, object]], at: datetime
    ) -> tuple[str, list[Event]]:
        """The reference of the first present identifier, and ``IdentityLinked`` events
        joining it to the others (ids as ``lineage emit`` derives them, so links from two
        sources are recorded once)."""
        refs: list[str] = []
        for kind, value in identifiers:
            if value is None or value == "":
                continue
            ref = self.ref(kind, str(value))
            if ref not in refs:
                refs.append(ref)
        if not refs:
            raise ValueError("no identifier (e-mail or vendor id) in the record")
        links: list[Event] = [
            IdentityLinked(
                subject_ref=refs[0],
                linked_ref=other,
                occurred_at=at,
                source=self.source,
                event_id=uuid.uuid5(EVENT_NAMESPACE, f"link:{refs[0]}:{other}"),
                recorded_at=self.now(),
            )
            for other in refs[1:]
        ]
        return refs[0], links


Mapper = Callable[[dict[str, Any], MappingContext], list[Event]]
Reader = Callable[[Api, Any, Mapping[str, Any] | None], Iterator[Page]]


@dataclass(frozen=True)
class Resource:
    """One listing of a vendor. ``read(api, since, resume)`` pages through it from the
    cursor value ``since`` (None: from the start); ``cursor`` gives a record's value for the
    watermark (None: the vendor tracks progress itself, e.g. acknowledged queues)."""

    name: str
    read: Reader
    key: Callable[[dict[str, Any]], str]
    map: Mapper
    cursor: Callable[[dict[str, Any]], Any] | None = None
    cursor_kind: CursorKind | None = None
    description: str = ""


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    body: bytes


@dataclass
class WebhookDelivery:
    """The events of one delivery. ``delivery_id`` (keyed, no raw identifiers) is what
    duplicates are recognised by; None when the delivery carries nothing to record."""

    delivery_id: str | None
    events: list[Event] = field(default_factory=list)


class WebhookHandler(ABC):
    """Verifies and maps one vendor's webhook deliveries. Raises ``SignatureError`` for a
    missing, forged or stale signature and ``PayloadError`` for a body it cannot read."""

    @abstractmethod
    def handle(
        self, request: WebhookRequest, ctx: MappingContext, now: float
    ) -> WebhookDelivery: ...


@dataclass(frozen=True)
class ErasureOutcome:
    """What happened at one holder. ``status`` is an ``ErasureTaskUpdated`` status:
    confirmed (deleted), retained (kept under a legal obligation until ``retain_until``),
    planned (needs a manual request), refused or failed."""

    holder: str
    status: str
    reason: str | None = None
    retain_until: datetime | None = None
    actions: tuple[str, ...] = ()


class Eraser(ABC):
    """Erases one person at a vendor, given the raw identifiers of the erasure request."""

    @abstractmethod
    def erase(self, api: Api, identifiers: Mapping[str, str]) -> list[ErasureOutcome]: ...


class Unsubscriber(ABC):
    """Stops processing for a purpose at a vendor when consent to it is withdrawn (Art.
    7(3), 21(3)): e.g. Mailchimp's unsubscribe. Answers like an eraser: ``confirmed`` when
    processing stopped, with ``reason`` "nothing held" when the vendor had no such person."""

    @abstractmethod
    def unsubscribe(
        self, api: Api, identifiers: Mapping[str, str], purpose: str
    ) -> list[ErasureOutcome]: ...


class Connector(ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    config_class: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    auth_setting: ClassVar[str] = ""  # the setting a 401 points to
    default_base_url: ClassVar[str] = ""
    defaults: ClassVar[Defaults] = Defaults()
    # Set when there is no erasure API: what a person must do instead.
    manual_erasure: ClassVar[str | None] = None
    # True when the eraser erases only what no legal obligation keeps and reports the rest
    # as "retained": lineage may then call it before a planned retention ends.
    eraser_honours_retention: ClassVar[bool] = False
    # How long the vendor keeps retrying one webhook delivery (seconds): the receiver
    # remembers delivery ids a day longer than this.
    webhook_retry_horizon: ClassVar[float] = 3 * 86400.0

    def __init__(self, config: ConnectorConfig, home: Path | None = None) -> None:
        self.config = config
        self.home = home

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    @abstractmethod
    def resources(self) -> list[Resource]: ...

    def webhook(self) -> WebhookHandler | None:
        return None

    def eraser(self) -> Eraser | None:
        return None

    def unsubscriber(self) -> Unsubscriber | None:
        """The vendor's own call for a consent withdrawal, if it has one."""
        return None

    def mapping_defaults(self, catalog: Mapping[str, Any] | None = None) -> Defaults:
        """The class defaults, then the catalog's entry for this holder, then the config.
        A None in the catalog's entry is a declaration (no transfer, no retention period)
        and overrides; a None in the config means "not set"."""
        values = {f.name: v for f, v in _items(self.defaults) if v is not None}
        known = {f.name for f in fields(Defaults)}
        values.update({k: v for k, v in (catalog or {}).items() if k in known})
        overrides = _config_overrides(self.config)
        values.update({k: v for k, v in overrides.items() if k in known and v is not None})
        return replace(Defaults(), **values)

    def base_url(self) -> str:
        return self.config.base_url or self.default_base_url

    def headers(self) -> dict[str, str]:
        return {}

    def auth(self) -> Any:
        return None

    def make_client(self, transport: httpx.BaseTransport | None = None) -> httpx.Client:
        import httpx

        return httpx.Client(
            base_url=self.base_url(),
            headers={"User-Agent": "lineage-connector", **self.headers()},
            auth=self.auth(),
            timeout=self.config.timeout,
            transport=transport,
        )

    def api(
        self,
        client: httpx.Client,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> Api:
        kwargs: dict[str, Any] = {"retry": retry}
        if sleep is not None:
            kwargs["sleep"] = sleep
        return Api(
            client,
            self.name,
            auth_setting=self.auth_setting,
            auth_where=where_to_set(self.name, self.auth_setting, self.home),
            **kwargs,
        )


def _items(obj: Any) -> list[tuple[Any, Any]]:
    return [(f, getattr(obj, f.name)) for f in fields(obj)]


def _config_overrides(config: ConnectorConfig) -> dict[str, Any]:
    if not isinstance(config, MappedConfig):
        return {}
    return {f.name: getattr(config, f.name) for f in fields(MappedConfig)}
