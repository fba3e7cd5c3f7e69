"""The webhook receiver as a real server (uvicorn on 127.0.0.1 in a thread)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from lineage.ingest.runner import open_connector
from lineage.ingest.server import Receiver
from lineage.ingest.webhooks import hmac_hex, stripe_signature_header
from tests.connectors.conftest import PSEUDO, Sink

STRIPE_SECRET = "whsec_fake_0000"
QUICKPAY_PRIVATE = "fake-quickpay-private-key"
MAILCHIMP_SECRET = "fake-url-secret"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, receiver: Receiver, url: str, sink: Sink) -> None:
        self.receiver, self.url, self.sink = receiver, url, sink


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    import uvicorn

    connectors = [
        open_connector("stripe", None, {"api_key": "sk_test_x", "webhook_secret": STRIPE_SECRET}),
        open_connector("quickpay", None, {"api_key": "k", "private_key": QUICKPAY_PRIVATE}),
        open_connector(
            "mailchimp",
            None,
            {"api_key": "k-us1", "list_id": "l1", "webhook_secret": MAILCHIMP_SECRET},
        ),
    ]
    sink = Sink()
    receiver = Receiver(connectors, PSEUDO, sink, tmp_path / "seen")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(receiver.app(), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield Served(receiver, f"http://127.0.0.1:{port}", sink)
    server.should_exit = True
    thread.join(5)


def stripe_event(event_id: str = "evt_1Fake") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "customer.created",
            "created": 1707000000,
            "data": {
                "object": {
                    "id": "cus_Fake1",
                    "object": "customer",
                    "email": "jane@example.com",
                    "name": "Jane",
                    "created": 1707000000,
                }
            },
        }
    ).encode()


def post_stripe(served: Served, body: bytes, header: str) -> httpx.Response:
    return httpx.post(
        f"{served.url}/hooks/stripe",
        content=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def test_stripe_valid_signature_is_recorded(served: Served) -> None:
    body = stripe_event()
    response = post_stripe(
        served, body, stripe_signature_header(STRIPE_SECRET, body, int(time.time()))
    )
    assert response.status_code == 200 and response.json()["recorded"] == 2
    assert [e.event_type for e in served.sink.events] == ["IdentityLinked", "DataShared"]


def test_stripe_forged_and_stale_are_rejected(served: Served) -> None:
    body = stripe_event()
    now = int(time.time())
    forged = post_stripe(served, body, stripe_signature_header("whsec_other", body, now))
    assert forged.status_code == 401 and "no v1 signature" in forged.json()["error"]
    tampered = post_stripe(
        served, body.replace(b"Jane", b"Joan"), stripe_signature_header(STRIPE_SECRET, body, now)
    )
    assert tampered.status_code == 401
    stale = post_stripe(served, body, stripe_signature_header(STRIPE_SECRET, body, now - 301))
    assert stale.status_code == 401 and "stale" in stale.json()["error"]
    missing = httpx.post(f"{served.url}/hooks/stripe", content=body)
    assert missing.status_code == 401
    assert served.sink.events == []


def test_duplicate_delivery_is_recorded_once(served: Served) -> None:
    body = stripe_event("evt_dup")
    for _ in range(2):
        header = stripe_signature_header(STRIPE_SECRET, body, int(time.time()))
        assert post_stripe(served, body, header).status_code == 200
    assert len(served.sink.batches) == 1
    assert served.receiver.counts["duplicates"] == 1
    # QuickPay retries the same body; Mailchimp may deliver twice.
    payment = json.dumps(
        {
            "id": 42,
            "order_id": "NW-1",
            "created_at": "2024-02-01T10:00:00Z",
            "invoice_address": {"name": "Jane", "email": "jane@example.com"},
            "metadata": {"last4": "0008"},
        }
    ).encode()
    for _ in range(2):
        response = httpx.post(
            f"{served.url}/hooks/quickpay",
            content=payment,
            headers={
                "QuickPay-Checksum-Sha256": hmac_hex(QUICKPAY_PRIVATE, payment),
                "QuickPay-Resource-Type": "Payment",
            },
        )
        assert response.status_code == 200
    assert len(served.sink.batches) == 2
    bad = httpx.post(
        f"{served.url}/hooks/quickpay",
        content=payment,
        headers={"QuickPay-Checksum-Sha256": hmac_hex("wrong", payment)},
    )
    assert bad.status_code == 401


def mailchimp_form(kind: str, **data: Any) -> dict[str, str]:
    form = {"type": kind, "fired_at": "2024-03-01 10:00:00"}
    form.update({f"data[{k}]": v for k, v in data.items()})
    return form


def test_mailchimp_webhooks(served: Served) -> None:
    url = f"{served.url}/hooks/mailchimp?secret={MAILCHIMP_SECRET}"
    assert httpx.get(url).status_code == 200  # Mailchimp's URL validation
    assert httpx.get(f"{served.url}/hooks/mailchimp?secret=nope").status_code == 401
    subscribe = mailchimp_form(
        "subscribe", id="abc", email="jane@example.com", **{"merges][FNAME": "Jane"}
    )
    response = httpx.post(url, content=urlencode(subscribe), headers=FORM)
    assert response.status_code == 200
    assert [e.event_type for e in served.sink.events] == [
        "ConsentGiven", "DataShared", "DataTransferred",
    ]  # fmt: skip
    transferred = served.sink.events[2]
    assert transferred.destination_country == "US"  # type: ignore[attr-defined]
    assert set(transferred.categories) == {"user.contact.email", "user.name"}  # type: ignore[attr-defined]
    unsubscribe = mailchimp_form("unsubscribe", id="abc", email="jane@example.com", reason="manual")
    httpx.post(url, content=urlencode(unsubscribe),
               headers=FORM)  # fmt: skip
    assert served.sink.events[-1].event_type == "ConsentWithdrawn"
    upemail = mailchimp_form(
        "upemail", new_id="def", new_email="jane@new.example", old_email="jane@example.com"
    )
    httpx.post(url, content=urlencode(upemail),
               headers=FORM)  # fmt: skip
    assert served.sink.events[-3].event_type == "IdentityLinked"
    assert httpx.post(f"{served.url}/hooks/nobody").status_code == 404


def test_events_are_durable_before_the_answer(served: Served) -> None:
    def failing(events: object) -> None:
        raise OSError("log unavailable")

    served.receiver.sink = failing
    body = stripe_event("evt_fail")
    response = post_stripe(
        served, body, stripe_signature_header(STRIPE_SECRET, body, int(time.time()))
    )
    assert response.status_code == 503  # the vendor retries later
    served.receiver.sink = served.sink
    response = post_stripe(
        served, body, stripe_signature_header(STRIPE_SECRET, body, int(time.time()))
    )
    assert response.status_code == 200 and response.json()["recorded"] == 2  # not a duplicate


def test_seen_deliveries_are_bounded_by_the_retry_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lineage.ingest import webhooks
    from lineage.ingest.webhooks import SeenDeliveries

    monkeypatch.setattr(webhooks, "COMPACT_SLACK", 0)
    now = [1_000_000.0]
    path = tmp_path / "stripe.seen"
    path.write_text("evt_legacy\n")  # a line of the older format: seen now
    seen = SeenDeliveries(path, window=100, clock=lambda: now[0])
    assert "evt_legacy" in seen
    for i in range(50):
        now[0] += 10
        seen.add(f"evt_{i}")
    # Only the last 100 seconds are remembered, in memory and on disk.
    assert "evt_49" in seen and "evt_39" in seen and "evt_38" not in seen
    assert "evt_legacy" not in seen and len(seen) == 11
    lines = path.read_text().splitlines()
    assert len(lines) <= 2 * len(seen) and lines[-1] == f"evt_49 {now[0]:.0f}"
    # A restart reads the window back and forgets what expired meanwhile.
    now[0] += 95
    again = SeenDeliveries(path, window=100, clock=lambda: now[0])
    assert "evt_49" in again and "evt_48" not in again and len(again) == 1
    assert len(path.read_text().splitlines()) == 1
    # An expired id delivered again is remembered again.
    again.add("evt_0")
    assert "evt_0" in again


def test_concurrent_deliveries_share_one_append(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from lineage.ingest.base import WebhookRequest

    stripe = open_connector(
        "stripe", None, {"api_key": "sk_test_x", "webhook_secret": STRIPE_SECRET}
    )
    batches: list[int] = []

    def slow_sink(events: Any) -> None:
        time.sleep(0.05)  # an fsync on a slow disk: deliveries pile up meanwhile
        batches.append(len(events))

    receiver = Receiver([stripe], PSEUDO, slow_sink, tmp_path / "seen")

    def request(i: int) -> WebhookRequest:
        body = stripe_event(f"evt_c{i % 20}")  # every delivery twice, often in one batch
        header = stripe_signature_header(STRIPE_SECRET, body, int(time.time()))
        return WebhookRequest("POST", "/hooks/stripe", {"stripe-signature": header}, {}, body)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: receiver.deliver("stripe", request(i)), range(40)))
    assert all(status == 200 for status, _ in answers)
    assert receiver.counts["accepted"] == 20 and receiver.counts["duplicates"] == 20
    assert sum(batches) == 40  # two events per delivery, each delivery recorded once
    assert len(batches) < 20  # grouped: fewer appends than deliveries
    seen = (tmp_path / "seen" / "stripe.seen").read_text().split()
    assert len({s for s in seen if s.startswith("evt_")}) == 20
