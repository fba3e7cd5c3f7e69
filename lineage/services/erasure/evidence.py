"""The evidence bundle of one rights request, for a supervisory authority (Art. 5(2)).

Every event of the request as recorded (``queries/request_evidence.sql``), each with its
log position and the SHA-256 of the record's bytes as they are in the log, and the folded
request (who was asked, through which channel, who confirmed, refused or failed, when).
The bundle is signed: HMAC-SHA-256 over its canonical JSON with an evidence key derived
from the pseudonym key, so the company can show any later change; the HTML page renders
the same content for people (``templates/evidence/request.html``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from lineage.timeutil import iso

FORMAT = "lineage.evidence/v1"


def evidence_key(pseudonym_key: bytes) -> bytes:
    return hmac.new(pseudonym_key, b"lineage/evidence/v1", hashlib.sha256).digest()


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def bundle(service: Any, request_id: str) -> dict[str, Any]:
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
    doc: dict[str, Any] = {
        "format": FORMAT,
        "generated_at": iso(at),
        "log_id": log.log_id,
        "request": req.to_json(at),
        "events": events,
    }
    mac = hmac.new(evidence_key(app.settings.pseudonym_key()), canonical(doc), hashlib.sha256)
    doc["signature"] = {"alg": "HMAC-SHA-256", "key": "evidence key of this lineage home",
                        "value": mac.hexdigest()}  # fmt: skip
    return doc


def verify(pseudonym_key: bytes, doc: dict[str, Any]) -> bool:
    body = {k: v for k, v in doc.items() if k != "signature"}
    mac = hmac.new(evidence_key(pseudonym_key), canonical(body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, str(doc.get("signature", {}).get("value", "")))


def html(doc: dict[str, Any], lang: str = "en") -> str:
    from lineage.i18n import render

    return render("evidence/request.html", lang, doc=doc)
