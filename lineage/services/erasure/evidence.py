"""The evidence bundle of one rights request, for a supervisory authority (Art. 5(2)).

Every event of the request as recorded (``queries/request_evidence.sql``), each with its
log position and the SHA-256 of the record's bytes as they are in the log, and the folded
request (who was asked, through which channel, who confirmed, refused or failed, when).
The HTML page renders the same content for people (``templates/evidence/request.html``).

Signature (format ``lineage.evidence/v2``): Ed25519 with the home's signing key
(``lineage.signing``) over the bundle's *canonical JSON*: every member except
``signature``, keys sorted, no whitespace, UTF-8 without escaping (Python's
``json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``).
``signature.value`` is the 64-byte signature in base64, ``signature.fingerprint`` the
SHA-256 of the signer's public key. Anyone holding the public key can verify it
(``lineage erasure verify``, Python's ``cryptography``, ``openssl pkeyutl -verify -rawin``).

Bundles of format ``lineage.evidence/v1`` were signed with HMAC-SHA-256 under a key derived
from the home's pseudonym key; they are still verified, but only with that home.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lineage.errors import EvidenceError, InputError
from lineage.timeutil import iso

FORMAT = "lineage.evidence/v2"
HMAC_FORMAT = "lineage.evidence/v1"
HMAC_NOTE = "signed with the home's secret key: verifiable only with this home"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def evidence_key(pseudonym_key: bytes) -> bytes:
    return hmac.new(pseudonym_key, b"lineage/evidence/v1", hashlib.sha256).digest()


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def bundle(service: Any, request_id: str) -> dict[str, Any]:
    from lineage.signing import fingerprint, signing_key

    app = service.app
    at = service.clock()
    with app.store() as store:
        app.catch_up(store)
        req = service._request(store, request_id)
        rows = store.fetch_dicts("request_evidence", {"request_id": request_id})
    log = app.log
    events = []
    for row in rows:
        entry = next(iter(log.read({row["log_partition"]: row["log_offset"]})), None)
        digest = (
            hashlib.sha256(entry.value).hexdigest()
            if entry is not None and entry.offset == row["log_offset"] and entry.value
            else None
        )
        detail = json.loads(row["detail"]) if row.get("detail") else {}
        events.append(
            {
                "position": {"partition": row["log_partition"], "offset": row["log_offset"]},
                "sha256": digest,
                "event_id": row["event_id"],
                "event_type": row["event_type"],
                "occurred_at": iso(row["occurred_at"]),
                "recorded_at": iso(row["recorded_at"]),
                "source": row["source"],
                "schema_version": row["schema_version"],
                "holder": row["holder"],
                "categories": list(row["categories"] or []),
                "status": row["status"],
                "reason": row["reason"],
                "at_time": iso(row["at_time"]),
                **{k: v for k, v in detail.items() if v not in (None, [], "")},
            }
        )
    body: dict[str, Any] = {
        "format": FORMAT,
        "generated_at": iso(at),
        "log_id": log.log_id,
        "request": req.to_json(at),
        "events": events,
    }
    # What is signed is what a reader of the file gets back: JSON values only.
    signed = canonical(body)
    doc: dict[str, Any] = json.loads(signed)
    key = signing_key(app.settings.home)
    doc["signature"] = {
        "alg": "Ed25519",
        "fingerprint": fingerprint(key.public_key()),
        "signed": "canonical JSON of every member but signature",
        "value": base64.b64encode(key.sign(signed)).decode(),
    }
    return doc


def verify_hmac(pseudonym_key: bytes, doc: dict[str, Any]) -> bool:
    """A ``lineage.evidence/v1`` bundle's HMAC, with the pseudonym key of its home."""
    body = {k: v for k, v in doc.items() if k != "signature"}
    mac = hmac.new(evidence_key(pseudonym_key), canonical(body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, str(doc.get("signature", {}).get("value", "")))


@dataclass(frozen=True)
class Verified:
    request_id: str
    format: str
    events: int
    key: str  # where the key came from: the file given, or the home
    fingerprint: str | None
    log_checked: bool
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": True,
            "request_id": self.request_id,
            "format": self.format,
            "events": self.events,
            "key": self.key,
            "fingerprint": self.fingerprint,
            "log_checked": self.log_checked,
            "note": self.note,
        }


def read_bundle(path: str) -> dict[str, Any]:
    """The bundle at ``path`` ('-': standard input); ``InputError`` when unreadable."""
    import sys

    where = "<stdin>" if path == "-" else path
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise InputError(exc.strerror or "cannot be read", where) from None
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a JSON evidence bundle ({exc})", where) from None
    if not isinstance(doc, dict) or doc.get("format") not in (FORMAT, HMAC_FORMAT):
        raise InputError("not a lineage evidence bundle (no known format)", where)
    return doc


def verify(
    doc: dict[str, Any],
    *,
    public_key: Any = None,
    key_source: str = "--public-key",
    app: Any = None,
) -> Verified:
    """Check the signature (with ``public_key``, else the home of ``app``), the bundle's
    internal consistency and, with ``app``, that every event is in its log as stated.
    ``EvidenceError`` names the first problem."""
    from lineage.signing import fingerprint, signing_key

    sig = doc.get("signature")
    if not isinstance(sig, dict):
        raise EvidenceError("the bundle has no signature")
    note = None
    found: str | None = None
    if doc["format"] == HMAC_FORMAT:
        if app is None:
            raise EvidenceError(f"{HMAC_NOTE}: run this where that home is (--home)")
        if not verify_hmac(app.settings.pseudonym_key(), doc):
            raise EvidenceError(
                "the HMAC signature does not match: the bundle was changed, or another "
                "home wrote it"
            )
        key_source, note = "home", HMAC_NOTE
    else:
        if public_key is None:
            if app is None:
                raise EvidenceError(
                    "no public key to verify with: give --public-key (the PEM the "
                    "controller gave you)"
                )
            public_key, key_source = signing_key(app.settings.home).public_key(), "home"
        found = fingerprint(public_key)
        if sig.get("alg") != "Ed25519":
            raise EvidenceError(f"unknown signature algorithm {sig.get('alg')!r}")
        if sig.get("fingerprint") != found:
            raise EvidenceError(
                f"signed by another key (fingerprint {str(sig.get('fingerprint'))[:16]}…, "
                f"the {key_source} key is {found[:16]}…)"
            )
        _check_signature(public_key, doc, sig)
    events = _consistent(doc)
    if app is not None:
        _in_log(app, doc, events)
    return Verified(
        request_id=doc["request"]["request_id"],
        format=doc["format"],
        events=len(events),
        key=key_source,
        fingerprint=found,
        log_checked=app is not None,
        note=note,
    )


def _check_signature(public_key: Any, doc: dict[str, Any], sig: dict[str, Any]) -> None:
    from cryptography.exceptions import InvalidSignature

    try:
        value = base64.b64decode(str(sig.get("value", "")), validate=True)
    except (binascii.Error, ValueError):
        raise EvidenceError("the signature value is not base64") from None
    body = {k: v for k, v in doc.items() if k != "signature"}
    try:
        public_key.verify(value, canonical(body))
    except InvalidSignature:
        raise EvidenceError(
            "the signature does not match: the bundle was changed after it was signed"
        ) from None


def _consistent(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Events well formed, each once, in log order; the folded request agrees with them."""
    events = doc.get("events")
    req = doc.get("request")
    if not isinstance(events, list) or not isinstance(req, dict):
        raise EvidenceError("the bundle has no events or no request")
    tasks = req.get("tasks")
    if not isinstance(req.get("request_id"), str) or not isinstance(tasks, list):
        raise EvidenceError("the bundle's request has no id or no tasks")
    if not all(isinstance(t, dict) and isinstance(t.get("history"), list) for t in tasks):
        raise EvidenceError("the bundle's request has a task without its steps")
    last: tuple[int, int] = (-1, -1)
    ids: set[str] = set()
    updates: Counter[tuple[str, str]] = Counter()
    latest: dict[tuple[str, str], str] = {}
    for n, e in enumerate(events):
        where = f"event {n}"
        pos = e.get("position") if isinstance(e, dict) else None
        if not isinstance(pos, dict) or not all(
            isinstance(pos.get(k), int) and pos[k] >= 0 for k in ("partition", "offset")
        ):
            raise EvidenceError(f"{where}: no valid log position")
        here = (pos["partition"], pos["offset"])
        if here <= last:
            raise EvidenceError(f"{where}: log position {here[0]}:{here[1]} out of order")
        last = here
        if not isinstance(e.get("sha256"), str) or not _HEX64.fullmatch(e["sha256"]):
            raise EvidenceError(f"{where}: no SHA-256 of its record")
        if e.get("event_id") in ids:
            raise EvidenceError(f"{where}: event {e.get('event_id')} appears twice")
        ids.add(e.get("event_id"))
        if e.get("event_type") == "ErasureTaskUpdated":
            key = (str(e.get("holder")), str(e.get("action") or "erase"))
            updates[key] += 1
            latest[key] = str(e.get("status"))
    if not any(e.get("event_type") == "ErasureRequested" for e in events):
        raise EvidenceError("the bundle has no ErasureRequested event")
    for t in tasks:
        key = (str(t.get("holder")), str(t.get("action")))
        history = t["history"]
        if updates[key] != len(history) or latest.get(key) != t.get("status"):
            raise EvidenceError(
                f"task {key[0]}/{key[1]}: {len(history)} steps ending {t.get('status')!r}, "
                f"but the events show {updates[key]} ending {latest.get(key)!r}"
            )
    if sum(updates.values()) != sum(len(t["history"]) for t in tasks):
        raise EvidenceError("the events update tasks the request does not have")
    return events


def _in_log(app: Any, doc: dict[str, Any], events: list[dict[str, Any]]) -> None:
    log = app.log
    if doc.get("log_id") != log.log_id:
        raise EvidenceError(
            f"the bundle is of log {doc.get('log_id')}, this home's is {log.log_id}"
        )
    for e in events:
        p, o = e["position"]["partition"], e["position"]["offset"]
        entry = next(iter(log.read({p: o})), None)
        if entry is None or entry.offset != o or entry.partition != p:
            raise EvidenceError(f"log position {p}:{o} holds no record")
        if hashlib.sha256(entry.value or b"").hexdigest() != e["sha256"]:
            raise EvidenceError(f"the record at log position {p}:{o} is not the one stated")


def html(doc: dict[str, Any], lang: str = "en") -> str:
    from lineage.i18n import render

    return render("evidence/request.html", lang, doc=doc)
