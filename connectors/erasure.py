"""Connectors' erasers as lineage erasure executors.

A connector's ``Eraser`` speaks the vendor's API and answers with ``ErasureOutcome``s;
lineage's executor wants ``lineage.erasers.Eraser.erase(target) -> Outcome``. The adapter
opens the connector with its configured credentials (``LINEAGE_<CONNECTOR>_<SETTING>`` or
``HOME/connectors.toml``; options from ``erasers.toml`` override non-secret settings such as
``base_url``) and maps the answer:

  connector outcome          lineage
  confirmed (all of them)    Outcome confirmed
  retained (any)             Outcome retained, until the latest date: never "confirmed"
  planned                    Outcome notified: a person makes the request and confirms it
  refused                    Outcome refused
  failed                     TerminalEraserError
  TransientError / other     TransientEraserError / TerminalEraserError

A connector without an erasure API but with ``manual_erasure`` (QuickPay) answers
"notified" with that instruction. The built-in connectors register their factories in the
entry-point group ``lineage.erasers`` under the connector's name (pyproject.toml); a
third-party connector does the same with ``factory_for("<its name>")``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage.erasers import ErasureTarget, Outcome
from lineage.errors import ConfigError, LineageError, TerminalEraserError, TransientEraserError
from lineage.ingest.base import Connector, ErasureOutcome
from lineage.ingest.errors import ConnectorError
from lineage.ingest.http import RetryPolicy

if TYPE_CHECKING:
    import httpx

# The executor retries with backoff and records every attempt: a short inner policy keeps
# one attempt within the executor's time limit.
RETRY = RetryPolicy(attempts=2, backoff=0.5, max_backoff=2.0, max_wait=10.0)


class ConnectorEraser:
    """One holder erased through one connector's eraser."""

    def __init__(
        self,
        connector: str,
        holder: str,
        home: Path | None,
        options: Mapping[str, Any] | None = None,
        *,
        retry: RetryPolicy = RETRY,
    ) -> None:
        self.connector = connector
        self.holder = holder
        self.home = home
        self.options = dict(options or {})
        self.retry = retry
        self._opened: Connector | None = None
        self._http: httpx.Client | None = None
        cls = self._check()
        # Only an eraser that keeps what the law requires by itself may run before the
        # planned retention ends (e-conomic deletes the customer, keeps booked invoices).
        self.honours_retention = cls.eraser_honours_retention

    @property
    def name(self) -> str:
        return self.connector

    def __repr__(self) -> str:
        return f"ConnectorEraser({self.connector!r}, holder={self.holder!r})"

    def _check(self) -> type[Connector]:
        from dataclasses import fields

        from lineage.ingest.registry import load

        cls = load(self.connector)
        if cls.eraser is Connector.eraser and not cls.manual_erasure:
            raise ConfigError(f"connector {self.connector!r} has no eraser (holder {self.holder})")
        known = {f.name for f in fields(cls.config_class)}
        unknown = sorted(set(self.options) - known)
        if unknown:
            raise ConfigError(
                f"eraser for {self.holder}: {self.connector} has no setting {unknown[0]!r} "
                f"(known: {', '.join(sorted(known))})"
            )
        return cls

    def _connector(self) -> Connector:
        if self._opened is None:
            from lineage.ingest.runner import open_connector

            # Credentials are resolved at the first call, not when the registry is built:
            # a missing setting fails that holder's task (with the setting to fix), not
            # every command that plans an erasure.
            self._opened = open_connector(self.connector, self.home, self.options)
        return self._opened

    def _client(self, connector: Connector) -> httpx.Client:
        # One client for all of this holder's tasks: building one costs tens of
        # milliseconds (TLS context), more than a call to a nearby API.
        if self._http is None:
            self._http = connector.make_client()
            weakref.finalize(self, self._http.close)
        return self._http

    def _opened_connector(self, target: ErasureTarget) -> Connector:
        try:
            return self._connector()
        except LineageError as exc:
            raise TerminalEraserError(target.holder, str(exc)) from None

    def erase(self, target: ErasureTarget) -> Outcome:
        connector = self._opened_connector(target)
        eraser = connector.eraser()
        if eraser is None:
            return Outcome("notified", connector.manual_erasure or "no erasure API: erase by hand")
        try:
            outcomes = eraser.erase(
                connector.api(self._client(connector), retry=self.retry), target.identifiers
            )
        except ConnectorError as exc:
            error = TransientEraserError if exc.transient else TerminalEraserError
            raise error(target.holder, str(exc)) from None
        return to_outcome(target.holder, outcomes)


class ConnectorWithdrawer(ConnectorEraser):
    """A connector with an unsubscribe call as well (``Connector.unsubscriber``)."""

    def withdraw(self, target: ErasureTarget) -> Outcome:
        connector = self._opened_connector(target)
        unsubscriber = connector.unsubscriber()
        assert unsubscriber is not None, "built only for connectors with an unsubscriber"
        try:
            outcomes = unsubscriber.unsubscribe(
                connector.api(self._client(connector), retry=self.retry),
                target.identifiers,
                target.purpose or "",
            )
        except ConnectorError as exc:
            error = TransientEraserError if exc.transient else TerminalEraserError
            raise error(target.holder, str(exc)) from None
        outcome = to_outcome(target.holder, outcomes)
        if outcome.status == "confirmed" and not any(o.actions for o in outcomes):
            # Confirmed without a call that changed anything: the vendor had no such person.
            return Outcome("confirmed", outcome.note, step="nothing_held")
        return outcome


def unsubscribes(connector: str) -> bool:
    """Whether the connector has its own call for a consent withdrawal."""
    from lineage.ingest.registry import load

    return load(connector).unsubscriber is not Connector.unsubscriber


def to_outcome(holder: str, outcomes: list[ErasureOutcome]) -> Outcome:
    """One lineage outcome for a connector's outcomes at one holder."""
    by: dict[str, list[ErasureOutcome]] = {}
    for o in outcomes:
        by.setdefault(o.status, []).append(o)
    if by.get("failed"):
        raise TerminalEraserError(holder, _notes(by["failed"]) or "the connector failed")
    if by.get("refused"):
        return Outcome("refused", _notes(by["refused"]))
    done = _notes(by.get("confirmed", []))
    if by.get("retained"):
        dates = [o.retain_until for o in by["retained"] if o.retain_until is not None]
        until: datetime | None = max(dates) if dates else None
        kept = _notes(by["retained"])
        note = f"{kept}; erased the rest: {done}" if done else kept
        return Outcome("retained", note, until)
    if by.get("planned"):
        return Outcome("notified", _notes(by["planned"]))
    if not by.get("confirmed"):
        raise TerminalEraserError(holder, "the connector reported no outcome")
    return Outcome("confirmed", done or None)


def _notes(outcomes: list[ErasureOutcome]) -> str:
    parts: list[str] = []
    for o in outcomes:
        if o.reason:
            parts.append(o.reason)
        if o.actions:
            parts.append(", ".join(o.actions))
    return "; ".join(parts)


def factory_for(connector: str) -> Callable[[str, Mapping[str, Any], Path], ConnectorEraser]:
    """The ``lineage.erasers`` factory for a connector's eraser."""

    def factory(holder: str, options: Mapping[str, Any], home: Path) -> ConnectorEraser:
        cls = ConnectorWithdrawer if unsubscribes(connector) else ConnectorEraser
        return cls(connector, holder, home, options)

    factory.__name__ = f"erase_with_{connector.replace('-', '_')}"
    return factory


economic = factory_for("e-conomic")
mailchimp = factory_for("mailchimp")
stripe = factory_for("stripe")
quickpay = factory_for("quickpay")
zendesk_sell = factory_for("zendesk-sell")

__all__ = ["ConnectorEraser", "ConnectorWithdrawer", "factory_for", "to_outcome", "unsubscribes"]
