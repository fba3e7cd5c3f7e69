"""Erasure: planning latency in a large projection, and execution throughput.

    python bench/erasure.py [--events 1000000] [--holders 50] [--runs 200]
                            [--erasures 100] [--out bench/results/erasure.json]

  plan     One subject with ``--holders`` holders (own system, processors, sub-processors,
           independent controllers, a legal-obligation holder) among other subjects'
           events, ``--events`` in all, in an embedded-log home with a current projection.
           Times ``RequestService.open_request(dry_run=True)`` in-process, ``--runs``
           times: the whole planning path (identity component, the subject's events,
           replay, open requests, the plan) without recording. p50/p99/mean in ms.
  execute  ``--erasures`` subjects, each held at an own system and a CRM (webhook erasers)
           and at Mailchimp (the Mailchimp connector's permanent delete), all against a fake
           API on 127.0.0.1. Times open_request + execute for every subject: tasks/s and
           the per-erasure latency.

Writes JSON to ``--out`` (bench/results/ is not committed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lineage.codec import default_codec
from lineage.config import resolve
from lineage.edge.jsonl import EventParser
from lineage.log.base import LogRecord
from lineage.services.app import App

TARGET = "target@example.com"
AT = datetime(2024, 1, 15, 9, 30, tzinfo=UTC)


def _template(parser: EventParser, obj: dict[str, Any]) -> dict[str, Any]:
    return parser.parse_object(obj, "bench")[0].to_record()


def _subject_events(parser: EventParser, email: str, holders: int) -> list[Any]:
    """One subject's flows to ``holders`` holders: every fifth recipient is a sub-processor
    of the one before, every seventh an independent controller, and e-conomic keeps the
    bookkeeping data under a legal obligation."""
    subject = {"email": email}
    out = [
        {
            "event_type": "DataCollected",
            "occurred_at": "2024-01-15T09:30:00Z",
            "subject": subject,
            "categories": ["user.name", "user.contact.email", "user.contact.address"],
            "system": "webshop-db",
            "purpose": "essential.service",
            "legal_basis": "contract",
            "data_subject": "customer",
        },
        {
            "event_type": "DataShared",
            "occurred_at": "2024-01-15T09:31:00Z",
            "subject": subject,
            "categories": ["user.name", "user.contact.address"],
            "from_holder": "webshop-db",
            "recipient": "e-conomic",
            "recipient_role": "processor",
            "recipient_country": "DK",
            "purpose": "essential.legal_obligation",
            "legal_basis": "legal_obligation",
            "retention": "P5Y",
        },
    ]
    for i in range(holders - 2):
        sub = i % 5 == 4
        role = "sub_processor" if sub else "controller" if i % 7 == 6 else "processor"
        out.append(
            {
                "event_type": "DataShared",
                "occurred_at": f"2024-01-15T10:{i % 60:02d}:00Z",
                "subject": subject,
                "categories": ["user.name", "user.contact.email"],
                "from_holder": f"holder-{i - 1}" if sub else "webshop-db",
                "recipient": f"holder-{i}",
                "recipient_role": role,
                "recipient_country": "DK",
                "purpose": "essential.service",
                "legal_basis": "contract",
            }
        )
    return [e for obj in out for e in parser.parse_object(obj, "bench")]


def _filler(parser: EventParser, n: int) -> Iterator[LogRecord]:
    """``n`` other subjects' events (four per subject: collected, three shares), encoded
    from templates so that building a million takes seconds, not minutes."""
    codec = default_codec()
    collected = _template(
        parser,
        {
            "event_type": "DataCollected",
            "occurred_at": "2024-01-15T09:30:00Z",
            "subject": {"email": "x@example.com"},
            "categories": ["user.name", "user.contact.email"],
            "system": "webshop-db",
            "purpose": "essential.service",
            "legal_basis": "contract",
            "data_subject": "customer",
            "retention": "P2Y",
        },
    )
    shared = _template(
        parser,
        {
            "event_type": "DataShared",
            "occurred_at": "2024-01-15T09:35:00Z",
            "subject": {"email": "x@example.com"},
            "categories": ["user.name"],
            "from_holder": "webshop-db",
            "recipient": "crm",
            "recipient_role": "processor",
            "recipient_country": "DK",
            "purpose": "essential.service",
            "legal_basis": "contract",
        },
    )
    for i in range(n):
        ref = f"{i // 4:064x}"
        base = collected if i % 4 == 0 else shared
        rec = {**base, "envelope": {**base["envelope"], "event_id": str(uuid.UUID(int=i + 1))}}
        rec["envelope"]["subject_ref"] = ref
        if i % 4:
            rec["recipient"] = f"holder-{i % 40}"
        yield LogRecord(codec.encode_record(rec["envelope"]["event_type"], rec), ref.encode())


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def plan_bench(home: Path, events: int, holders: int, runs: int) -> dict[str, Any]:
    from lineage.services.erasure.service import RequestService

    app = App(resolve(home))
    app.init()
    parser = EventParser(app.pseudonymizer(), default_source="bench")
    own = _subject_events(parser, TARGET, holders)
    started = time.perf_counter()
    batch: list[LogRecord] = []
    for record in _filler(parser, events - len(own)):
        batch.append(record)
        if len(batch) == 50_000:
            app.log.append(batch)
            batch = []
    app.log.append(batch)
    app.append(own)
    written = time.perf_counter() - started
    started = time.perf_counter()
    with app.store() as store:
        app.catch_up(store)
    projected = time.perf_counter() - started

    service = RequestService(app)
    req = service.open_request([("email", TARGET)], dry_run=True)
    actions: dict[str, int] = {}
    for t in req.tasks.values():
        actions[t.action] = actions.get(t.action, 0) + 1
    held = len({t.holder for t in req.tasks.values()})
    assert held == holders, (held, holders)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        service.open_request([("email", TARGET)], dry_run=True)
        times.append((time.perf_counter() - t0) * 1000)
    app.close()
    return {
        "events": events,
        "holders": holders,
        "tasks": len(req.tasks),
        "actions": actions,
        "runs": runs,
        "p50_ms": _percentile(times, 0.50),
        "p99_ms": _percentile(times, 0.99),
        "mean_ms": statistics.fmean(times),
        "build_log_s": written,
        "build_projection_s": projected,
    }


def execute_bench(home: Path, erasures: int) -> dict[str, Any]:
    from connectors.mailchimp import subscriber_hash
    from lineage.demo import fakes
    from lineage.demo.fakeapi import FakeApi, FakeRequest, FakeResponse
    from lineage.erasers import load_registry
    from lineage.services.erasure.service import RequestService

    app = App(resolve(home))
    app.init()
    parser = EventParser(app.pseudonymizer(), default_source="bench")
    emails = [f"member{i}@example.com" for i in range(erasures)]
    events = []
    for email in emails:
        subject = {"email": email}
        for obj in (
            {
                "event_type": "DataCollected",
                "occurred_at": "2024-01-15T09:30:00Z",
                "subject": subject,
                "categories": ["user.name", "user.contact.email"],
                "system": "webshop-db",
                "purpose": "essential.service",
                "legal_basis": "contract",
                "data_subject": "customer",
            },
            {
                "event_type": "DataShared",
                "occurred_at": "2024-01-15T09:31:00Z",
                "subject": subject,
                "categories": ["user.name"],
                "from_holder": "webshop-db",
                "recipient": "crm",
                "recipient_role": "processor",
                "recipient_country": "DK",
                "purpose": "essential.service",
                "legal_basis": "contract",
            },
            {
                "event_type": "DataTransferred",
                "occurred_at": "2024-01-15T09:32:00Z",
                "subject": subject,
                "categories": ["user.contact.email"],
                "from_holder": "webshop-db",
                "recipient": "mailchimp",
                "recipient_role": "processor",
                "destination_country": "US",
                "mechanism": "dpf",
                "purpose": "marketing.communications.email",
                "legal_basis": "consent",
            },
        ):
            events += parser.parse_object(obj, "bench")
    app.append(events)
    members = [
        {"id": subscriber_hash(e), "email_address": e, "status": "subscribed"} for e in emails
    ]
    erased: list[str] = []

    def holder_erase(request: FakeRequest) -> FakeResponse:
        erased.append(request.json()["holder"])
        return FakeResponse(200, {"erased": True})

    with FakeApi() as api:
        fakes.Mailchimp(members).mount(api)
        api.add("POST", r"/erase/(?P<holder>[^/]+)", holder_erase)
        (home / "erasers.toml").write_text(
            "".join(
                f'[{h}]\neraser = "webhook"\nurl = "{api.url}/erase/{{holder}}"\n\n'
                for h in ("webshop-db", "crm")
            )
            + f'[mailchimp]\neraser = "mailchimp"\nbase_url = "{api.url}/mailchimp/3.0"\n'
            f'list_id = "{fakes.MAILCHIMP_LIST}"\n'
        )
        os.environ["LINEAGE_MAILCHIMP_API_KEY"] = fakes.MAILCHIMP_KEY
        service = RequestService(app, load_registry(home), backoff=0)
        with app.store() as store:
            app.catch_up(store)
        per: list[float] = []
        tasks = 0
        started = time.perf_counter()
        for email in emails:
            t0 = time.perf_counter()
            req = service.open_request([("email", email)])
            service.execute(req, {"email": email})
            per.append((time.perf_counter() - t0) * 1000)
            assert all(t.status == "confirmed" for t in req.tasks.values()), req.tasks
            tasks += len(req.tasks)
        wall = time.perf_counter() - started
        calls = len(api.log)
    app.close()
    return {
        "erasures": erasures,
        "tasks": tasks,
        "http_calls": calls,
        "seconds": wall,
        "tasks_per_s": tasks / wall,
        "erasure_p50_ms": _percentile(per, 0.50),
        "erasure_p99_ms": _percentile(per, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--holders", type=int, default=50)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--erasures", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("bench/results/erasure.json"))
    args = parser.parse_args()
    for name in list(os.environ):
        if name.startswith("LINEAGE_"):
            del os.environ[name]
    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_bench(Path(tmp) / "plan", args.events, args.holders, args.runs)
        print(json.dumps({"plan": plan}, indent=2), flush=True)
        execute = execute_bench(Path(tmp) / "execute", args.erasures)
        print(json.dumps({"execute": execute}, indent=2), flush=True)
    result = {
        "plan": plan,
        "execute": execute,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
