"""The eraser seam: how an erasure task reaches a holder's system.

An eraser erases one subject's data at one holder. Connectors provide erasers (Mailchimp
permanent delete, Stripe customer delete, ...); lineage's executor calls them, retries
transient failures with backoff and records every attempt and outcome as an event.

Contract of ``Eraser.erase(target)``:
- Return ``Outcome("confirmed", note)`` when the data is gone, *including when there was
  nothing to erase* (HTTP 404): erasers must be idempotent, because a run that crashed after
  the holder erased but before the confirmation was recorded calls the eraser again.
- Return ``Outcome("refused", reason)`` when the holder declines (e.g. its own legal duty).
- Return ``Outcome("notified", note)`` when the eraser only passed the request on (a ticket,
  an e-mail) and a person must confirm later (``lineage erasure confirm``).
- Return ``Outcome("retained", note, retain_until)`` when the holder erased what it could
  but keeps some of the data under a legal obligation (Art. 17(3)(b)), e.g. booked invoices
  under the bookkeeping act: the task is recorded as retained until then, never confirmed.
- Raise ``TransientEraserError`` for what may pass (timeouts, HTTP 429, 5xx) and
  ``TerminalEraserError`` for what will not (bad credentials, no usable identifier). Any
  other exception counts as terminal for the run; the task stays open either way.

Raw identifiers (``target.identifiers``) come from the command invocation only; lineage
never stores them, so an eraser must not log them either.

An eraser that erases only what no legal obligation keeps, and reports the rest as retained,
sets ``honours_retention = True``: the executor then also calls it for data planned as
retained, before that retention ends (the rest of the holder's copy goes now). Any other
eraser is called for retained data only once its retention has ended.

Erasers are found by holder name in an ``EraserRegistry``. ``load_registry`` builds it from
``<home>/erasers.toml``::

    [mailchimp]              # holder name, as in the events
    eraser = "mailchimp"     # factory: built-in "webhook", or an entry point in the
    list_id = "abc123"       #   group "lineage.erasers"; the other keys are its options

    [crm]
    eraser = "webhook"
    url = "https://crm.internal/erase"
    token_env = "CRM_ERASE_TOKEN"   # secrets: name an environment variable

A holder the catalog declares with ``eraser: <name>`` uses that factory with no options
unless ``erasers.toml`` has a table for it (the file wins). The built-in connectors register
their erasers in the group under the connector's name; they read their credentials as the
connector does (``LINEAGE_<CONNECTOR>_<SETTING>`` or ``HOME/connectors.toml``).

A factory is ``factory(holder: str, options: Mapping[str, Any], home: Path) -> Eraser``.

An eraser that can also stop processing for a purpose whose consent was withdrawn (Art.
7(3), 21(3): Mailchimp's unsubscribe) is a ``Withdrawer``: ``withdraw(target)`` with
``target.purpose``, answering as ``erase`` does (``Outcome("confirmed", step="nothing_held")``
when the holder had no such person). Holders whose eraser is not one are told of a withdrawal
through their e-mail, webhook or manual channel instead.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from lineage.errors import ConfigError, TerminalEraserError, TransientEraserError

ERASERS_FILE = "erasers.toml"
ENTRY_POINT_GROUP = "lineage.erasers"


@dataclass(frozen=True)
class ErasureTarget:
    request_id: str
    holder: str
    categories: tuple[str, ...]
    # Raw identifiers ({"email": "jane@example.com"}), from the command line; never stored.
    identifiers: Mapping[str, str] = field(default_factory=dict, repr=False)
    # A consent withdrawal: the data use to stop processing for.
    purpose: str | None = None


@dataclass(frozen=True)
class Outcome:
    status: Literal["confirmed", "refused", "notified", "retained"]
    note: str | None = None
    retain_until: datetime | None = None  # "retained": until when the holder keeps it
    # The channel step recorded with it: "nothing_held" when the holder had no such person.
    step: str | None = None


class Eraser(Protocol):
    @property
    def name(self) -> str: ...

    def erase(self, target: ErasureTarget) -> Outcome: ...


@runtime_checkable
class Withdrawer(Eraser, Protocol):
    """An eraser whose holder also has a call that stops processing for one purpose."""

    def withdraw(self, target: ErasureTarget) -> Outcome: ...


EraserFactory = Callable[[str, Mapping[str, Any], Path], Eraser]


class EraserRegistry:
    """Erasers by holder name. Tests and connectors fill it directly with ``register``."""

    def __init__(self) -> None:
        self._by_holder: dict[str, Eraser] = {}

    def register(self, holder: str, eraser: Eraser) -> None:
        self._by_holder[holder] = eraser

    def get(self, holder: str) -> Eraser | None:
        return self._by_holder.get(holder)

    def __contains__(self, holder: object) -> bool:
        return holder in self._by_holder

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_holder)


def _factories() -> dict[str, EraserFactory]:
    from importlib.metadata import entry_points

    found: dict[str, EraserFactory] = {"webhook": WebhookEraser.from_options}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.load())
    return found


def load_registry(home: Path, declared: Mapping[str, str] | None = None) -> EraserRegistry:
    """The registry declared in ``<home>/erasers.toml``, plus ``declared`` (holder -> eraser
    name, the catalog's ``eraser`` fields) for holders the file does not name. A catalog
    name that no installed eraser answers to leaves the holder manual: the catalog may name
    systems (an in-house script, say) that lineage cannot call."""
    registry = EraserRegistry()
    path = home / ERASERS_FILE
    config: dict[str, Any] = {}
    if path.exists():
        try:
            config = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
    factories: dict[str, EraserFactory] | None = None
    for holder, name in (declared or {}).items():
        if holder in config:
            continue
        factories = factories if factories is not None else _factories()
        if name in factories:
            registry.register(holder, factories[name](holder, {}, home))
    for holder, options in config.items():
        if not isinstance(options, dict) or not isinstance(options.get("eraser"), str):
            raise ConfigError(f'{path}: [{holder}] needs eraser = "<name>"')
        factories = factories if factories is not None else _factories()
        factory = factories.get(options["eraser"])
        if factory is None:
            known = ", ".join(sorted(factories))
            raise ConfigError(
                f"{path}: [{holder}] names unknown eraser {options['eraser']!r} "
                f"(known: {known}; connectors add theirs in the {ENTRY_POINT_GROUP!r} "
                "entry-point group)"
            )
        rest = {k: v for k, v in options.items() if k != "eraser"}
        registry.register(holder, factory(holder, rest, home))
    return registry


class WebhookEraser:
    """A generic eraser for systems that expose a deletion endpoint of their own.

    Sends ``POST url`` (or ``method``) with JSON ``{"request_id", "holder", "categories",
    "identifiers"}`` and reads the answer: 2xx confirmed (202 Accepted: notified, a person
    confirms later), 404 confirmed (nothing held), 403/409/422 refused with the body as the
    reason, 429 and 5xx transient, any other status terminal. Options: ``url`` (may name
    ``{holder}`` and ``{request_id}``), ``method``, ``timeout`` (seconds, default 10),
    ``token_env`` (environment variable holding a bearer token).
    """

    def __init__(
        self,
        holder: str,
        url: str,
        *,
        method: str = "POST",
        timeout: float = 10.0,
        token: str | None = None,
    ) -> None:
        self.holder = holder
        self.url = url
        self.method = method.upper()
        self.timeout = timeout
        self._token = token

    @property
    def name(self) -> str:
        return "webhook"

    def __repr__(self) -> str:
        return f"WebhookEraser({self.holder!r}, {self.url!r})"

    @classmethod
    def from_options(cls, holder: str, options: Mapping[str, Any], home: Path) -> WebhookEraser:
        url = options.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"eraser for {holder}: url must be an http(s) URL")
        token = None
        if options.get("token_env"):
            token = os.environ.get(str(options["token_env"]))
            if token is None:
                raise ConfigError(
                    f"eraser for {holder}: environment variable {options['token_env']} is not set"
                )
        return cls(
            holder,
            url,
            method=str(options.get("method", "POST")),
            timeout=float(options.get("timeout", 10.0)),
            token=token,
        )

    def erase(self, target: ErasureTarget) -> Outcome:
        import urllib.error
        import urllib.request

        url = self.url.format(holder=target.holder, request_id=target.request_id)
        body = json.dumps(
            {
                "request_id": target.request_id,
                "holder": target.holder,
                "categories": list(target.categories),
                "identifiers": dict(target.identifiers),
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(url, data=body, headers=headers, method=self.method)
        where = f"{self.method} {url}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                code = response.status
        except urllib.error.HTTPError as exc:
            code = exc.code
            # The error holds the connection: close it now, not whenever it is collected.
            with exc:
                text = exc.read(300).decode("utf-8", "replace").strip()
            if code == 404:
                return Outcome("confirmed", f"{where} -> 404: nothing held")
            if code in (403, 409, 422):
                return Outcome("refused", f"{where} -> {code}: {text or exc.reason}")
            if code == 429 or code >= 500:
                raise TransientEraserError(target.holder, f"{where} -> {code}") from None
            raise TerminalEraserError(target.holder, f"{where} -> {code}: {text}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransientEraserError(target.holder, f"{where}: {reason}") from None
        if code == 202:
            return Outcome("notified", f"{where} -> 202: accepted, awaiting confirmation")
        return Outcome("confirmed", f"{where} -> {code}")
