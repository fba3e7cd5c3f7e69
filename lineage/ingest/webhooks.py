"""Webhook signatures and duplicate detection, shared by the connectors' handlers.

Verifiers are small classes so a vendor that changes its scheme (Mailchimp's newer signed
webhooks) gets a new verifier, not a new handler. Every comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

from lineage.ingest.base import WebhookRequest
from lineage.ingest.config import Secret
from lineage.ingest.errors import PayloadError, SignatureError

DAY = 86400.0
# Vendors retry for days (Stripe up to 3); an id is remembered a day longer than that.
DEFAULT_WINDOW = 4 * DAY
# Expired lines tolerated in a seen-file before it is rewritten (beyond the live ones).
COMPACT_SLACK = 1000


class Verifier(ABC):
    @abstractmethod
    def verify(self, request: WebhookRequest, now: float) -> None:
        """Return when the request is authentic; raise ``SignatureError`` otherwise."""


class StripeSignature(Verifier):
    """``Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]``: HMAC-SHA256 of ``"{t}.{body}"`` with
    the endpoint secret; any v1 may match; ``t`` within ``tolerance`` seconds of now."""

    def __init__(self, connector: str, secret: Secret, tolerance: float = 300) -> None:
        self.connector, self._secret, self.tolerance = connector, secret, tolerance

    def verify(self, request: WebhookRequest, now: float) -> None:
        header = request.headers.get("stripe-signature")
        if not header:
            raise SignatureError(self.connector, "no Stripe-Signature header")
        stamp: str | None = None
        candidates: list[str] = []
        for part in header.split(","):
            name, _, value = part.strip().partition("=")
            if name == "t":
                stamp = value
            elif name == "v1":
                candidates.append(value)
        if stamp is None or not candidates:
            raise SignatureError(self.connector, "Stripe-Signature lacks t= or v1=")
        if not stamp.isdigit() or len(stamp) > 12:
            # Malformed rather than forged: a Unix time has ten digits until the year 2286.
            raise PayloadError(self.connector, "Stripe-Signature t= is not a Unix time", "header")
        if abs(now - int(stamp)) > self.tolerance:
            raise SignatureError(
                self.connector,
                f"signature timestamp is {abs(now - int(stamp)):.0f}s from now "
                f"(tolerance {self.tolerance:g}s): stale or replayed",
            )
        expected = hmac.new(
            self._secret.reveal().encode(), stamp.encode() + b"." + request.body, hashlib.sha256
        ).hexdigest()
        if not any(hmac.compare_digest(expected, c) for c in candidates):
            raise SignatureError(self.connector, "no v1 signature matches the endpoint secret")


def stripe_signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """What Stripe sends (for tests, the demo and the benchmark)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class HmacHexSignature(Verifier):
    """A header holding the hex HMAC-SHA256 of the raw body (QuickPay-Checksum-Sha256)."""

    def __init__(self, connector: str, header: str, secret: Secret) -> None:
        self.connector, self.header, self._secret = connector, header.lower(), secret

    def verify(self, request: WebhookRequest, now: float) -> None:
        given = request.headers.get(self.header)
        if not given:
            raise SignatureError(self.connector, f"no {self.header} header")
        expected = hmac_hex(self._secret.reveal(), request.body)
        if not hmac.compare_digest(expected, given.strip().lower()):
            raise SignatureError(self.connector, f"{self.header} does not match the body")


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class UrlSecret(Verifier):
    """A secret in the webhook URL's query, for vendors that sign nothing (Mailchimp's
    classic webhooks, e-conomic)."""

    def __init__(self, connector: str, secret: Secret, param: str = "secret") -> None:
        self.connector, self._secret, self.param = connector, secret, param

    def verify(self, request: WebhookRequest, now: float) -> None:
        given = request.query.get(self.param, "")
        if not hmac.compare_digest(given.encode(), self._secret.reveal().encode()):
            raise SignatureError(self.connector, f"wrong or missing ?{self.param}= in the URL")


class SeenDeliveries:
    """Delivery ids recorded within the vendor's retry horizon, one file per connector.

    Lines are ``<id> <unix seconds>``, appended and fsynced after the delivery's events are
    durable in the log and before the receiver answers 2xx. Ids are keyed hashes or vendor
    event ids, never raw data. An id is remembered for ``window`` seconds (the vendor's retry
    horizon plus a margin): after that a re-delivery is recorded again, with the same event
    ids (they derive from the delivery), and the projector keeps one of each. The file is
    rewritten without the expired ids once they make up most of it, so it stays bounded by
    the deliveries of one window. Lines without a time (older files) count as seen now.
    """

    def __init__(
        self, path: Path, window: float = DEFAULT_WINDOW, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        # id -> when it was recorded, oldest first (the file's order), so expiry pops the front.
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lines = 0
        now = clock()
        if path.exists():
            for line in path.read_text().split("\n"):
                key, _, stamp = line.partition(" ")
                if not key:
                    continue
                self._lines += 1
                try:
                    at = float(stamp) if stamp else now
                except ValueError:
                    at = now
                self._seen.pop(key, None)
                self._seen[key] = at
            self._expire(now)
            if self._lines > len(self._seen):
                self._compact()

    def __contains__(self, delivery_id: object) -> bool:
        at = self._seen.get(delivery_id)  # type: ignore[call-overload]
        return at is not None and at >= self.clock() - self.window

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, delivery_id: str) -> None:
        self.add_many([delivery_id])

    def add_many(self, delivery_ids: Iterable[str]) -> None:
        """Remember ids, durably (one write and one fsync for all of them)."""
        with self._lock:
            now = self.clock()
            new = list(dict.fromkeys(delivery_ids))
            if not new:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            stamp = f" {now:.0f}\n"
            with open(self.path, "a") as fh:
                fh.write("".join(d + stamp for d in new))
                fh.flush()
                os.fsync(fh.fileno())
            for d in new:
                self._seen.pop(d, None)  # an expired id seen again moves to the back
                self._seen[d] = now
            self._lines += len(new)
            self._expire(now)
            if self._lines > 2 * len(self._seen) + COMPACT_SLACK:
                self._compact()

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        while self._seen:
            if self._seen[next(iter(self._seen))] >= horizon:
                break
            self._seen.popitem(last=False)

    def _compact(self) -> None:
        """Rewrite the file with the live ids only (atomically: a crash keeps the old one)."""
        from lineage.ingest.state import atomic_write

        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, "".join(f"{k} {t:.0f}\n" for k, t in self._seen.items()).encode())
        self._lines = len(self._seen)
