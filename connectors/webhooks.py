"""Webhook signatures and duplicate detection, shared by the connectors' handlers.

Verifiers are small classes so a vendor that changes its scheme (Mailchimp's newer signed
webhooks) gets a new verifier, not a new handler. Every comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from abc import ABC, abstractmethod
from pathlib import Path

from connectors.base import WebhookRequest
from connectors.config import Secret
from connectors.errors import SignatureError


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
        if stamp is None or not stamp.isdigit() or not candidates:
            raise SignatureError(self.connector, "Stripe-Signature lacks t= or v1=")
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
    """Delivery ids already recorded, one file per connector, appended and fsynced before
    the receiver answers 2xx. Ids are keyed hashes or vendor event ids, never raw data."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        if path.exists():
            self._seen.update(line for line in path.read_text().split("\n") if line)

    def __contains__(self, delivery_id: str) -> bool:
        return delivery_id in self._seen

    def add(self, delivery_id: str) -> None:
        with self._lock:
            if delivery_id in self._seen:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as fh:
                fh.write(delivery_id + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            self._seen.add(delivery_id)
