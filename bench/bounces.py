"""Delivery reports read back: ``lineage erasure bounces`` over a Maildir of bounces.

    python bench/bounces.py [--requests 300] [--out bench/results/bounces.json]

A home with ``--requests`` erasure requests, each e-mailed on its own (one message per
request) to one recipient through aiosmtpd on 127.0.0.1. Each message then bounces
(Postfix's shape, ``tests/dsn.py``), delivered through a second aiosmtpd into a Maildir.

  read     ``record_bounces`` over the whole Maildir: every report parsed, matched and its
           task recorded ``failed`` (one durable append per report). reports/s.
  replay   the same Maildir again: everything already recorded, nothing appended.
  one      one report for no known message (what a mail-server pipe sends most), best of 5,
           against the baseline measured in the same run: folding every request in the home
           (``service.requests()``, what ``erasure status`` does and what a report would
           cost if it looked through all of them).
Writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from lineage.channels.dsn import messages
from lineage.cli.erasure import service_for
from lineage.config import resolve
from lineage.ingest.record import from_lines, parser_for, record
from lineage.services.app import App
from lineage.services.erasure.bounces import record_bounces
from tests import dsn
from tests.channels import smtp_server
from tests.serve.conftest import free_port

RCPT = "privacy@mail-a.example"


def _events(n: int) -> list[str]:
    lines = []
    for i in range(n):
        who = {"email": f"user{i}@example.com"}
        common = {"subject": who, "categories": ["user.name"], "purpose": "essential.service",
                  "legal_basis": "contract"}  # fmt: skip
        lines.append(json.dumps({"event_type": "DataCollected", "occurred_at":
                                 "2025-01-01T00:00:00Z", "system": "shop",
                                 "data_subject": "customer", **common}))  # fmt: skip
        lines.append(json.dumps({"event_type": "DataShared", "occurred_at":
                                 "2025-01-01T00:01:00Z", "from_holder": "shop",
                                 "recipient": "mail-a", "recipient_role": "processor",
                                 **common}))  # fmt: skip
    return lines


def _best(f: Any, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    port, mx = free_port(), free_port()
    controller, box = smtp_server(port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            home.mkdir(mode=0o700)
            catalog = {
                "version": 1,
                "controller": {"name": "Bench ApS", "country": "DK"},
                "holders": {
                    "shop": {"role": "own", "country": "DK"},
                    "mail-a": {"role": "processor", "country": "DK", "dpa_signed": "2023-01-01",
                               "channel": {"kind": "email", "email": RCPT}},
                },
                "purposes": {},
            }  # fmt: skip
            (home / "lineage.yaml").write_text(yaml.safe_dump(catalog))
            (home / "config.toml").write_text(
                f'smtp_host = "127.0.0.1"\nsmtp_port = {port}\nsmtp_tls = "none"\n'
                'smtp_from = "privacy@bench.example"\npublic_url = "http://127.0.0.1:1"\n'
            )
            app = App(resolve(home))
            app.init()
            record(app, from_lines(parser_for(app, "bench"), _events(args.requests), "bench"))
            service = service_for(app, retries=1)
            for i in range(args.requests):
                email = f"user{i}@example.com"
                service.execute(service.open_request([("email", email)]), {"email": email})
            sent = list(box.messages)
            maildir = Path(tmp) / "Maildir"
            with dsn.maildir_server(maildir, mx):
                for i in range(0, len(sent), 50):
                    dsn.deliver(mx, *(dsn.postfix(m) for m in sent[i : i + 50]))
            unknown = dsn.postfix(dsn.original(RCPT)).as_bytes()

            t0 = time.perf_counter()
            first = record_bounces(service, messages(str(maildir)))
            read_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = record_bounces(service, messages(str(maildir)))
            replay_s = time.perf_counter() - t0
            one_s = _best(lambda: record_bounces(service, [("one", unknown)]))
            fold_s = _best(service.requests)
            app.close()
    finally:
        controller.stop()
    reports = len(sent)
    result = {
        "requests": args.requests,
        "reports": reports,
        "bounced": first.bounced,
        "replayed_already_recorded": again.duplicates,
        "read_s": round(read_s, 3),
        "read_reports_per_s": round(reports / read_s, 1),
        "replay_s": round(replay_s, 3),
        "replay_reports_per_s": round(reports / replay_s, 1),
        "one_unmatched_report_s": round(one_s, 4),
        "baseline_fold_all_requests_s": round(fold_s, 4),
        "one_report_vs_fold_all": round(one_s / fold_s, 3),
        "load_average": os.getloadavg()[0],
        "python": platform.python_version(),
    }
    assert first.bounced == reports and again.duplicates == reports, result
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
