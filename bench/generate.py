"""Synthetic event data in realistic shapes, for the benchmarks.

Every subject gets a story: collected by the webshop (2-4 categories), invoices to e-conomic,
card data to QuickPay, parcels to GLS, the newsletter through Mailchimp in the US (with an
onward transfer to its hosting sub-processor), sometimes a second identifier (customer number),
a withdrawn consent, an erasure. Stories of a few thousand subjects at a time are interleaved,
so one subject's events are spread over the log as they would be in production.

Two outputs:
- JSON Lines with raw identifiers, the input of ``lineage emit --file`` (``--jsonl``);
- encoded records appended straight to a lineage home's file log (``--home``), skipping the
  edge: the quick way to prepare a million events for the projection and who-has benchmarks.

    python bench/generate.py --events 1000000 --subjects 100000 --jsonl events.jsonl
    python bench/generate.py --events 1000000 --subjects 100000 --home /tmp/lineage-bench
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2019, 1, 1, tzinfo=UTC)
SPAN_DAYS = 5 * 365
# Subjects whose events are interleaved with each other in the log.
WINDOW = 2_000

CONTACT = [
    "user.name",
    "user.contact.email",
    "user.contact.phone_number",
    "user.contact.address.street",
    "user.contact.address.postal_code",
    "user.contact.address.city",
]
ADDRESS = ["user.name", "user.contact.address.street", "user.contact.address.postal_code"]
DPF = datetime(2023, 7, 10, tzinfo=UTC)
NEW_SCC = datetime(2021, 6, 27, tzinfo=UTC)


def email_of(i: int) -> str:
    """The raw e-mail address of subject ``i`` (what a who-has benchmark asks about)."""
    return f"subject{i}@example.com"


def customer_number_of(i: int) -> str:
    return f"C{i:08d}"


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _mechanism(t: datetime) -> str:
    return "dpf" if t >= DPF else "scc" if t >= NEW_SCC else "scc_2010"


def story(rng: random.Random, i: int, length: int) -> list[dict[str, Any]]:
    """``length`` events of subject ``i`` in the JSON Lines input form (raw identifiers).

    An event whose ``subject`` names a second identifier stands for two log events (the
    event and the implicit IdentityLinked); ``link`` marks it so both outputs agree."""
    who: dict[str, str] = {"email": email_of(i)}
    t = START + timedelta(days=rng.randrange(SPAN_DAYS), seconds=rng.randrange(86_400))
    out: list[dict[str, Any]] = []

    def ev(event_type: str, **fields: Any) -> None:
        nonlocal t
        t += timedelta(days=rng.randrange(0, 30), seconds=rng.randrange(1, 7_200))
        out.append(
            {"event_type": event_type, "occurred_at": _ts(t), "subject": dict(who), **fields}
        )

    categories = ["user.name", "user.contact.email", *rng.sample(CONTACT[2:], rng.randint(0, 2))]
    first = {
        "source": "webshop",
        "categories": categories,
        "system": "webshop-db",
        "purpose": "essential.service",
        "legal_basis": "contract",
        "data_subject": "customer",
        "retention": "P5Y",
    }
    if rng.random() < 0.3:
        who["customer_number"] = customer_number_of(i)
        ev("DataCollected", **first)
        out[-1]["link"] = True
        who.pop("customer_number")
    else:
        ev("DataCollected", **first)
    ev(
        "DataShared",
        source="billing",
        categories=["user.name", "user.contact.email"],
        from_holder="webshop-db",
        recipient="e-conomic",
        recipient_role="processor",
        recipient_country="DK",
        purpose="essential.legal_obligation",
        legal_basis="legal_obligation",
        retention="P5Y",
    )
    ev(
        "DataShared",
        source="checkout",
        categories=["user.name", "user.financial.credit_card"],
        from_holder="webshop-db",
        recipient="quickpay",
        recipient_role="processor",
        recipient_country="DK",
        purpose="essential.service.payment_processing",
        legal_basis="contract",
        retention="P13M",
    )
    consent = rng.random() < 0.6
    if consent:
        ev(
            "ConsentGiven",
            source="newsletter",
            purpose="marketing.communications.email",
            evidence={"text_version": "nl-2019-1", "channel": "web"},
        )
        ev(
            "DataTransferred",
            source="newsletter",
            categories=["user.contact.email"],
            from_holder="webshop-db",
            recipient="mailchimp",
            recipient_role="processor",
            destination_country="US",
            mechanism=_mechanism(t),
            purpose="marketing.communications.email",
            legal_basis="consent",
        )
        ev(
            "DataTransferred",
            source="newsletter",
            categories=["user.contact.email"],
            from_holder="mailchimp",
            recipient="aws-us-east",
            recipient_role="sub_processor",
            destination_country="US",
            mechanism="dpf" if t >= DPF else "scc",
            purpose="marketing.communications.email",
            legal_basis="consent",
        )
    withdraw = consent and rng.random() < 0.3
    erase = rng.random() < 0.05
    links = sum(1 for e in out if e.get("link"))
    budget = length - links - 2 * withdraw - 2 * erase
    while len(out) < budget:  # repeat orders: parcels and payments
        if rng.random() < 0.2:
            ev(
                "DataCollected",
                source="webshop",
                categories=["user.behavior.purchase_history"],
                system="crm",
                purpose="essential.service",
                legal_basis="contract",
                data_subject="customer",
                retention="P3Y",
            )
        else:
            ev(
                "DataShared",
                source="shipping",
                categories=ADDRESS,
                from_holder="webshop-db",
                recipient="gls",
                recipient_role="processor",
                recipient_country="DE",
                purpose="essential.service",
                legal_basis="contract",
                retention="P1Y",
            )
    if withdraw:
        ev("ConsentWithdrawn", source="newsletter", purpose="marketing.communications.email")
        ev("DataErased", source="newsletter", holder="mailchimp", categories=[])
    if erase:
        ev("ErasureRequested", source="dpo", scope=[])
        ev("DataErased", source="dpo", holder="quickpay", categories=["user.financial.credit_card"])
    # The implicit identity link is an event of the log too.
    while len(out) + links > length and len(out) > 1:
        out.pop()
    return out


def stories(events: int, subjects: int, seed: int = 42) -> Iterator[dict[str, Any]]:
    """About ``events`` log events over ``subjects`` subjects, interleaved within windows."""
    rng = random.Random(seed)
    per, extra = divmod(events, subjects)
    for lo in range(0, subjects, WINDOW):
        window: list[dict[str, Any]] = []
        for i in range(lo, min(lo + WINDOW, subjects)):
            window.extend(story(rng, i, per + (1 if i < extra else 0)))
        rng.shuffle(window)
        yield from window


def write_jsonl(path: Path, lines: int, subjects: int, seed: int = 42) -> int:
    """Write ``lines`` lines of JSON Lines input (a line with two identifiers also makes an
    IdentityLinked event); returns the number of log events they make."""
    written = events = 0
    with open(path, "w", encoding="utf-8") as fh:
        # Links make the log longer than the input: ask for more and stop at ``lines``.
        for obj in stories(lines + lines // 10, subjects, seed):
            events += 2 if obj.pop("link", False) else 1
            fh.write(json.dumps(obj, separators=(",", ":")) + "\n")
            written += 1
            if written == lines:
                break
    return events


@dataclass
class Prepared:
    home: Path
    events: int
    subjects: int
    seconds: float


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def write_log(home: Path, events: int, subjects: int, seed: int = 42) -> Prepared:
    """Create a lineage home and append the events as encoded records (no edge, no checks:
    the generator only writes valid events)."""
    from lineage.codec import default_codec
    from lineage.config import resolve
    from lineage.edge.identity import Pseudonymizer
    from lineage.events.model import EVENT_TYPES, Evidence, IdentityLinked
    from lineage.log.base import LogRecord
    from lineage.services.app import App

    began = time.perf_counter()
    app = App(resolve(home))
    app.init()
    pseudo = Pseudonymizer(app.settings.pseudonym_key())
    codec = default_codec()
    recorded = datetime.now(UTC)
    ref = pseudo.ref

    def records() -> Iterator[LogRecord]:
        for obj in stories(events, subjects, seed):
            subject = obj["subject"]
            subject_ref = ref("email", subject["email"])
            at = _parse_time(obj["occurred_at"])
            cls = EVENT_TYPES[obj["event_type"]]
            body: dict[str, Any] = {
                k: (tuple(v) if isinstance(v, list) else v)
                for k, v in obj.items()
                if k not in ("event_type", "occurred_at", "subject", "link")
            }
            if "evidence" in body:
                body["evidence"] = Evidence(**body["evidence"])
            if cls.event_type == "ErasureRequested":
                body["request_id"] = str(uuid.uuid4())
                body["received_at"] = at
            event = cls(subject_ref=subject_ref, occurred_at=at, recorded_at=recorded, **body)
            data = codec.encode(event)
            yield LogRecord(data, subject_ref.encode())
            if obj.get("link"):
                link = IdentityLinked(
                    subject_ref=subject_ref,
                    linked_ref=ref("customer_number", customer_number_of(_index(subject))),
                    occurred_at=at,
                    recorded_at=recorded,
                    source=body["source"],
                )
                yield LogRecord(codec.encode(link), subject_ref.encode())

    result = app.log.append(records())
    return Prepared(home, result.count, subjects, time.perf_counter() - began)


def _index(subject: dict[str, str]) -> int:
    return int(subject["email"].removeprefix("subject").partition("@")[0])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--jsonl", type=Path, help="write --events JSON lines here")
    parser.add_argument("--home", type=Path, help="create this lineage home and fill its log")
    args = parser.parse_args(argv)
    if not args.jsonl and not args.home:
        parser.error("give --jsonl FILE and/or --home DIR")
    if args.jsonl:
        began = time.perf_counter()
        events = write_jsonl(args.jsonl, args.events, args.subjects, args.seed)
        took = time.perf_counter() - began
        print(f"{args.jsonl}: {args.events:,} lines ({events:,} events) in {took:.1f} s")
    if args.home:
        prepared = write_log(args.home, args.events, args.subjects, args.seed)
        print(f"{args.home}: {prepared.events:,} events in {prepared.seconds:.1f} s")


if __name__ == "__main__":
    main()
