"""Benchmark: a Mailchimp sync of 100,000 members from the fake API on 127.0.0.1 into the
embedded log, and the webhook receiver under load from a second process on loopback.

    .venv/bin/python bench/connector_sync.py [--members 100000] [--requests 2000]

Prints records/s with the share of time in HTTP (request + JSON decoding), mapping (with
validation) and the log (encode + append + fsync), then webhook requests/s and p99 latency.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def sync_bench(members: int, home: Path) -> dict[str, float]:
    from connectors.mailchimp import subscriber_hash
    from lineage.config import resolve
    from lineage.demo import fakes
    from lineage.demo.fakeapi import FakeApi
    from lineage.ingest.runner import open_connector, run, state_root
    from lineage.ingest.state import StateStore
    from lineage.services.app import App

    rows: list[dict[str, object]] = []
    for i in range(members):
        email = f"member{i}@example.com"
        rows.append(
            {
                "id": subscriber_hash(email),
                "email_address": email,
                "status": "subscribed" if i % 5 else "unsubscribed",
                "merge_fields": {"FNAME": f"N{i}", "LNAME": "Hansen", "PHONE": "", "ADDRESS": "",
                                 "BIRTHDAY": ""},
                "ip_signup": "192.0.2.1",
                "timestamp_signup": "2023-01-01T00:00:00+00:00",
                "ip_opt": "192.0.2.1",
                "timestamp_opt": "2023-01-01T00:00:00+00:00",
                "last_changed": "2024-01-01T00:00:00+00:00",
                "list_id": fakes.MAILCHIMP_LIST,
                "location": {"latitude": 0, "longitude": 0, "country_code": ""},
                "tags": [],
            }
        )  # fmt: skip
    app = App(resolve(home))
    app.init()
    with FakeApi() as api:
        fakes.Mailchimp(rows).mount(api)
        connector = open_connector(
            "mailchimp",
            None,
            {"base_url": api.url + "/mailchimp/3.0", "api_key": fakes.MAILCHIMP_KEY,
             "list_id": fakes.MAILCHIMP_LIST},
        )  # fmt: skip
        started = time.perf_counter()
        [result] = run(connector, app.pseudonymizer(), app.append, StateStore(state_root(home)))
        wall = time.perf_counter() - started
    assert result.records == members, result
    return {
        "records": result.records,
        "events": result.events,
        "seconds": wall,
        "records_per_s": result.records / wall,
        "http_share": result.http_seconds / wall,
        "map_share": result.map_seconds / wall,
        "log_share": result.log_seconds / wall,
        "state_share": result.state_seconds / wall,
    }


def webhook_bench(requests: int, concurrency: int, home: Path) -> dict[str, float]:
    import uvicorn

    from lineage.config import resolve
    from lineage.ingest.runner import open_connector
    from lineage.ingest.server import Receiver
    from lineage.services.app import App

    app = App(resolve(home))
    app.init()
    secret = "whsec_bench_fake"
    stripe = open_connector("stripe", None, {"api_key": "sk_test_fake", "webhook_secret": secret})
    receiver = Receiver([stripe], app.pseudonymizer(), app.append, home / "seen")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(receiver.app(), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--load", f"http://127.0.0.1:{port}/hooks/stripe",
             "--requests", str(requests), "--concurrency", str(concurrency), "--secret", secret],
            capture_output=True, text=True, check=True, timeout=300,
        )  # fmt: skip
    finally:
        server.should_exit = True
        thread.join(10)
    result: dict[str, float] = json.loads(out.stdout)
    result["recorded_deliveries"] = receiver.counts["accepted"]
    result["commits"] = receiver.counts["commits"]  # log appends: deliveries share them
    return result


def load(url: str, requests: int, concurrency: int, secret: str) -> None:
    """The second process: signed Stripe deliveries, bounded in count, on loopback."""
    import httpx

    from lineage.ingest.webhooks import stripe_signature_header

    def body(i: int) -> bytes:
        return json.dumps(
            {"id": f"evt_bench_{i}", "object": "event", "type": "customer.created",
             "created": 1707000000,
             "data": {"object": {"id": f"cus_bench_{i}", "object": "customer",
                                 "email": f"c{i}@example.com", "name": "Bench",
                                 "created": 1707000000}}}
        ).encode()  # fmt: skip

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    local = threading.local()

    def one(i: int) -> None:
        nonlocal errors
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=30)
        payload = body(i)
        header = stripe_signature_header(secret, payload, int(time.time()))
        t0 = time.perf_counter()
        response = client.post(url, content=payload, headers={"Stripe-Signature": header})
        took = time.perf_counter() - t0
        with lock:
            latencies.append(took)
            errors += response.status_code != 200

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(requests)))
    wall = time.perf_counter() - started
    latencies.sort()
    print(json.dumps({
        "requests": requests, "concurrency": concurrency, "errors": errors,
        "requests_per_s": requests / wall,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--load")
    parser.add_argument("--secret")
    args = parser.parse_args()
    if args.load:
        load(args.load, args.requests, args.concurrency, args.secret)
        return
    os.environ.pop("LINEAGE_PSEUDONYM_KEY", None)
    with tempfile.TemporaryDirectory(prefix="lineage-bench-") as tmp:
        s = sync_bench(args.members, Path(tmp) / "sync")
        print(
            f"mailchimp sync: {s['records']:,} members, {s['events']:,} events in "
            f"{s['seconds']:.1f}s = {s['records_per_s']:,.0f} records/s; time in HTTP "
            f"{s['http_share']:.0%}, mapping {s['map_share']:.0%}, log {s['log_share']:.0%}, "
            f"checkpoints {s['state_share']:.0%}"
        )
        w = webhook_bench(args.requests, args.concurrency, Path(tmp) / "hooks")
        print(
            f"webhook receiver: {w['requests']:,} signed Stripe deliveries, concurrency "
            f"{w['concurrency']}: {w['requests_per_s']:,.0f} requests/s, p50 {w['p50_ms']:.1f} ms, "
            f"p99 {w['p99_ms']:.1f} ms, errors {w['errors']}, "
            f"{w['recorded_deliveries']:,} recorded in {w['commits']:,} log appends"
        )


if __name__ == "__main__":
    main()
