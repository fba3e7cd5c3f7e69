"""Erasure through the channels: many requests to the same recipients by e-mail and webhook.

    python bench/channels.py [--requests 1000] [--fail 0.3] [--out bench/results/channels.json]

A home with ``--requests`` subjects, each shared with five recipients: three with an e-mail
channel, two with a webhook channel, all on 127.0.0.1 (aiosmtpd; a threaded HTTP receiver
that checks every signature). ``--fail`` of the deliveries fail at first (SMTP 451 on the
message's first DATA, HTTP 503 on the delivery's first POST) and succeed when retried.

  open     ``open_request`` for every subject (recorded, planned, nothing sent).
  send     one ``execute_many`` over all requests: the e-mails batched per recipient (100
           requests a message), one signed POST per webhook task, retries with backoff.
           Webhooks answer ``completed`` at once. tasks/s over the five recipients' tasks.
  confirm  every e-mailed task answered by following its signed link: a form POST to a
           ``lineage serve`` process on the home (4 concurrent clients).
Then every (request, recipient) pair must be confirmed. Writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import yaml

from lineage.channels import webhook
from lineage.cli.erasure import service_for
from lineage.config import resolve
from lineage.ingest.record import from_lines, parser_for, record
from lineage.services.app import App
from tests.channels import Receiver, smtp_server
from tests.serve.conftest import Server, free_port

EMAIL = ("mail-a", "mail-b", "mail-c")
HOOKS = ("hook-a", "hook-b")
SECRET = b"bench-webhook-secret"
LINK = re.compile(r"https?://\S+/hooks/channels/answer/\S+")


def _catalog(receiver: str) -> dict[str, Any]:
    holders: dict[str, Any] = {"shop": {"role": "own", "country": "DK"}}
    for h in EMAIL:
        holders[h] = {
            "role": "processor",
            "country": "DK",
            "dpa_signed": "2023-01-01",
            "channel": {"kind": "email", "email": f"privacy@{h}.example"},
        }
    for h in HOOKS:
        holders[h] = {
            "role": "processor",
            "country": "DK",
            "dpa_signed": "2023-01-01",
            "channel": {"kind": "webhook", "url": receiver, "secret_file": "hook.secret"},
        }
    return {
        "version": 1,
        "controller": {"name": "Bench ApS", "country": "DK"},
        "holders": holders,
        "purposes": {},
    }


def _events(n: int) -> list[str]:
    lines = []
    for i in range(n):
        who = {"email": f"user{i}@example.com"}
        lines.append(
            json.dumps(
                {
                    "event_type": "DataCollected",
                    "occurred_at": "2025-01-01T00:00:00Z",
                    "subject": who,
                    "categories": ["user.name"],
                    "system": "shop",
                    "purpose": "essential.service",
                    "legal_basis": "contract",
                    "data_subject": "customer",
                }
            )
        )
        for h in EMAIL + HOOKS:
            lines.append(
                json.dumps(
                    {
                        "event_type": "DataShared",
                        "occurred_at": "2025-01-01T00:01:00Z",
                        "subject": who,
                        "categories": ["user.name"],
                        "from_holder": "shop",
                        "recipient": h,
                        "recipient_role": "processor",
                        "purpose": "essential.service",
                        "legal_basis": "contract",
                    }
                )
            )
    return lines


def _text(msg: Any) -> str:
    return str(msg.get_body(("plain",)).get_content())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--fail", type=float, default=0.3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rng = random.Random(7)
    tried: set[str] = set()

    def reply(doc: dict[str, Any]) -> tuple[int, Any]:
        uid = doc["metadata"]["uid"]
        if uid not in tried:
            tried.add(uid)
            if rng.random() < args.fail:
                return 503, None
        return 200, {
            "apiVersion": webhook.API_VERSION,
            "kind": "DeleteResponse",
            "metadata": {"uid": uid},
            "response": {"status": "completed"},
        }

    receiver = Receiver(SECRET, reply)
    port, serve_port = free_port(), free_port()
    controller, box = smtp_server(port)
    box.fail_rate = args.fail
    box.rng = rng
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            home.mkdir(mode=0o700)
            (home / "lineage.yaml").write_text(yaml.safe_dump(_catalog(receiver.url)))
            (home / "hook.secret").write_text(SECRET.decode())
            (home / "config.toml").write_text(
                f'smtp_host = "127.0.0.1"\nsmtp_port = {port}\nsmtp_tls = "none"\n'
                'smtp_from = "privacy@bench.example"\n'
                f'public_url = "http://127.0.0.1:{serve_port}"\n'
            )
            app = App(resolve(home))
            app.init()
            record(app, from_lines(parser_for(app, "bench"), _events(args.requests), "bench"))
            service = service_for(app, retries=5, backoff=0.01, timeout=10)

            t0 = time.perf_counter()
            batch = []
            for i in range(args.requests):
                email = f"user{i}@example.com"
                req = service.open_request([("email", email)])
                batch.append((req, {"email": email}))
            opened = time.perf_counter() - t0

            t0 = time.perf_counter()
            service.execute_many(batch)
            sent = time.perf_counter() - t0
            tasks = args.requests * (len(EMAIL) + len(HOOKS))

            links = [u for m in box.messages for u in LINK.findall(_text(m))]
            app.close()
            server = Server(home)
            server.port, server.url = serve_port, f"http://127.0.0.1:{serve_port}"
            server.start()
            t0 = time.perf_counter()
            try:
                with httpx.Client(timeout=60) as client, ThreadPoolExecutor(4) as pool:
                    codes = list(
                        pool.map(
                            lambda u: client.post(u, data={"answer": "confirmed"}).status_code,
                            links,
                        )
                    )
            finally:
                server.stop()
            confirmed_s = time.perf_counter() - t0
            app = App(resolve(home))
            service = service_for(app)
            final = service.requests()
            pairs = [
                (q.request_id, t.holder)
                for q in final
                for t in q.tasks.values()
                if t.holder in EMAIL + HOOKS
            ]
            done = sum(
                1
                for q in final
                for t in q.tasks.values()
                if t.holder in EMAIL + HOOKS and t.status == "confirmed"
            )
            result = {
                "requests": args.requests,
                "recipients": len(EMAIL) + len(HOOKS),
                "fail_first": args.fail,
                "open_s": round(opened, 2),
                "send_s": round(sent, 2),
                "send_tasks_per_s": round(tasks / sent, 1),
                "messages": len({m["Message-ID"] for m in box.messages}),
                "smtp_first_refusals": box.refused,
                "webhook_posts": len(receiver.received),
                "confirm_s": round(confirmed_s, 2),
                "confirm_per_s": round(len(links) / confirmed_s, 1) if links else None,
                "confirm_errors": sum(c != 200 for c in codes),
                "pairs": len(pairs),
                "pairs_confirmed": done,
                "machine": platform.machine(),
                "python": platform.python_version(),
            }
    finally:
        controller.stop()
        receiver.close()
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    if result["pairs_confirmed"] != result["pairs"] or result["pairs"] != tasks:
        sys.exit("not every pair was confirmed")


if __name__ == "__main__":
    main()
