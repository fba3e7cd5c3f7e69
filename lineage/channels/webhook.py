"""The webhook channel's transport: a signed JSON request, the answer, the signed callback.

The shape follows the open DSR forwarding protocols (the Ketch forwarder's ``dsr/v1``
request/response/status-event objects; OpenDSR's signed callbacks) so a recipient that
speaks one needs little to speak this. One request per task::

    POST <url>
    Content-Type: application/json
    X-Lineage-Timestamp: 1767225600
    X-Lineage-Signature: sha256=<hex HMAC-SHA-256(secret, timestamp + "." + body)>
    Idempotency-Key: <metadata.uid>

    {"apiVersion": "lineage.dsr/v1", "kind": "DeleteRequest",
     "metadata": {"uid": "<delivery id>", "controller": "Webshop ApS"},
     "request": {"requestID": "3f2a…", "holder": "gift-supplier", "action": "erase",
                 "regulation": "gdpr", "legalBasis": "Art. 28(3)(g)",
                 "identities": [{"identitySpace": "email", "identityFormat": "raw",
                                 "identityValue": "jane@example.com"}],
                 "categories": ["user.name"], "submittedTimestamp": 1767225600,
                 "dueTimestamp": 1769904000,
                 "callbacks": [{"url": "https://lineage.example/hooks/channels/callback/…"}]}}

``kind`` is ``DeleteRequest``, ``CorrectionRequest``, ``RestrictProcessingRequest`` or
``ConsentWithdrawalNotice`` (whose ``request.purpose`` names the fideslang data use the
subject withdrew consent to: stop processing for it and its narrower uses). The answer
(HTTP 200, now) or a later status event (POST to the callback URL, signed the same way with
the same secret) carries::

    {"apiVersion": "lineage.dsr/v1", "kind": "DeleteResponse" | "DeleteStatusEvent",
     "metadata": {"uid": "<delivery id>"},
     "response" | "event": {"status": "completed" | "not_held" | "denied" | "pending" |
                                      "in_progress",
                            "reason": "why denied", "subProcessors": ["name", ...]}}

``completed`` confirms, ``not_held`` confirms that nothing was held, ``denied`` refuses
(with the reason), ``pending``/``in_progress`` (or HTTP 202) means an answer will follow by
the callback. A callback older than ``MAX_SKEW`` seconds, not signed with the recipient's
secret, or for a task already answered is rejected and records nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lineage.errors import ConfigError, InputError

API_VERSION = "lineage.dsr/v1"
KINDS = {
    "erasure": "Delete",
    "rectification": "Correction",
    "restriction": "RestrictProcessing",
    "withdrawal": "ConsentWithdrawal",
}
STATUSES = {
    "completed": "confirmed",
    "not_held": "nothing_held",
    "denied": "refused",
    "pending": None,
    "in_progress": None,
}
MAX_SKEW = 300


@dataclass(frozen=True)
class Answer:
    """What a recipient said: an answer step (confirmed, nothing_held, refused) or None while
    it works on it, its reason, and the sub-processors it names."""

    step: str | None
    reason: str | None = None
    sub_processors: tuple[str, ...] = ()


def secret(channel: Any, home: Path) -> bytes:
    """The recipient's signing secret, by environment variable or file in the home."""
    if channel.secret_env:
        value = os.environ.get(channel.secret_env)
        if not value:
            raise ConfigError(f"environment variable {channel.secret_env} is not set")
        return value.encode()
    path = home / channel.secret_file
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"webhook secret {path}: {exc.strerror}") from None
    if not value:
        raise ConfigError(f"webhook secret {path} is empty")
    return value.encode()


def signature(key: bytes, timestamp: str, body: bytes) -> str:
    mac = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def headers(key: bytes, body: bytes, uid: str, now: float | None = None) -> dict[str, str]:
    ts = str(int(now if now is not None else time.time()))
    return {
        "Content-Type": "application/json",
        "X-Lineage-Timestamp": ts,
        "X-Lineage-Signature": signature(key, ts, body),
        "Idempotency-Key": uid,
    }


def check_signature(
    key: bytes, body: bytes, given: Mapping[str, str], now: float | None = None
) -> None:
    """Raise ``InputError`` unless the body is signed with ``key`` within ``MAX_SKEW``."""
    ts = given.get("x-lineage-timestamp", "")
    sig = given.get("x-lineage-signature", "")
    if not ts.isdigit() or not sig:
        raise InputError("the callback is not signed (X-Lineage-Timestamp, X-Lineage-Signature)")
    if not hmac.compare_digest(sig, signature(key, ts, body)):
        raise InputError("the callback's signature does not match")
    if abs((now if now is not None else time.time()) - int(ts)) > MAX_SKEW:
        raise InputError(f"the callback is older than {MAX_SKEW}s (replayed?)")


def request_body(
    *,
    uid: str,
    controller: str,
    kind: str,
    request_id: str,
    holder: str,
    action: str,
    basis: str,
    identities: Mapping[str, str],
    categories: tuple[str, ...],
    submitted: float,
    due: float,
    callback: str,
    purpose: str | None = None,
) -> bytes:
    doc = {
        "apiVersion": API_VERSION,
        "kind": f"{KINDS.get(kind, 'Delete')}{'Notice' if kind == 'withdrawal' else 'Request'}",
        "metadata": {"uid": uid, "controller": controller},
        "request": {
            "requestID": request_id,
            "holder": holder,
            "action": action,
            "regulation": "gdpr",
            "legalBasis": basis,
            "identities": [
                {"identitySpace": k, "identityFormat": "raw", "identityValue": v}
                for k, v in sorted(identities.items())
            ],
            "categories": list(categories),
            **({"purpose": purpose} if purpose else {}),
            "submittedTimestamp": int(submitted),
            "dueTimestamp": int(due),
            "callbacks": [{"url": callback}],
        },
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def parse_answer(data: bytes, part: str) -> Answer:
    """The answer in a response (``part`` = "response") or status event ("event");
    ``InputError`` for anything else."""
    try:
        doc = json.loads(data)
        body = doc[part]
        status = body["status"]
    except (ValueError, KeyError, TypeError):
        raise InputError(f"the answer is not a {API_VERSION} object with {part}.status") from None
    if not isinstance(doc, dict) or doc.get("apiVersion") != API_VERSION:
        raise InputError(f"apiVersion must be {API_VERSION}")
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InputError("reason must be text")
    subs = body.get("subProcessors") or []
    if not isinstance(subs, list) or not all(isinstance(s, str) for s in subs):
        raise InputError("subProcessors must be a list of names")
    step = STATUSES[status]
    if step == "refused" and not (reason and reason.strip()):
        raise InputError("a denial needs its reason")
    return Answer(step, reason, tuple(subs))
