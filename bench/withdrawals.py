"""Consent withdrawals picked up by the notices step, against the existing notice path.

    python bench/withdrawals.py [--subjects 300] [--out bench/results/withdrawals.json]

A home with ``--subjects`` subjects, each shared with four recipients under marketing uses
and one under essential.service, every recipient on a manual channel (nothing is sent: this
measures recording and planning), and one ``ConsentWithdrawn`` (marketing) per subject as
ingest records it.

  restrict   baseline, the existing notice path: ``open_request(kind="restriction")`` for
             every subject (record + plan a notice to each recipient).
  notices    ``open_withdrawals``: one withdrawal request per recorded withdrawal (the scan,
             the still-withdrawn check, record + plan over the covered uses).
  rerun      ``open_withdrawals`` again: nothing left to open.
Ratios are against ``restrict`` per request, measured in the same run. Writes JSON to
``--out``.
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

from lineage.cli.erasure import service_for
from lineage.config import resolve
from lineage.ingest.record import from_lines, parser_for, record
from lineage.services.app import App
from lineage.services.erasure.notices import open_withdrawals

RECIPIENTS = {
    "mail-a": "marketing.communications.email",
    "mail-b": "marketing.communications",
    "ads-a": "marketing.advertising",
    "ads-b": "marketing.advertising.first_party",
    "books": "essential.service",
}


def _catalog() -> dict[str, Any]:
    holders: dict[str, Any] = {"shop": {"role": "own", "country": "DK"}}
    for h in RECIPIENTS:
        holders[h] = {
            "role": "processor",
            "country": "DK",
            "dpa_signed": "2023-01-01",
            "channel": {"kind": "manual"},
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

        def ev(kind: str, at: str, who: dict[str, str] = who, **fields: Any) -> str:
            return json.dumps({"event_type": kind, "occurred_at": at, "subject": who, **fields})

        lines.append(ev("DataCollected", "2025-01-01T00:00:00Z", categories=["user.name"],
                        system="shop", purpose="essential.service", legal_basis="contract",
                        data_subject="customer"))  # fmt: skip
        for h, use in RECIPIENTS.items():
            basis = "contract" if use.startswith("essential") else "consent"
            lines.append(ev("DataShared", "2025-01-01T00:01:00Z", categories=["user.name"],
                            from_holder="shop", recipient=h, recipient_role="processor",
                            purpose=use, legal_basis=basis))  # fmt: skip
        lines.append(ev("ConsentWithdrawn", "2025-02-01T00:00:00Z", purpose="marketing"))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=300)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    n = args.subjects
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir(mode=0o700)
        (home / "lineage.yaml").write_text(yaml.safe_dump(_catalog()))
        app = App(resolve(home))
        app.init()
        record(app, from_lines(parser_for(app, "bench"), _events(n), "bench"))
        service = service_for(app)
        with app.store() as store:
            app.catch_up(store)

        t0 = time.perf_counter()
        for i in range(n):
            service.open_request([("email", f"user{i}@example.com")], kind="restriction")
        restrict = time.perf_counter() - t0

        t0 = time.perf_counter()
        opened = open_withdrawals(service)
        notices = time.perf_counter() - t0

        t0 = time.perf_counter()
        again = open_withdrawals(service)
        rerun = time.perf_counter() - t0

        told = {t.holder for q in opened for t in q.tasks.values()}
        assert len(opened) == n and not again, (len(opened), len(again))
        assert told == set(RECIPIENTS) - {"books"}, told
        assert all(len(q.tasks) == 4 for q in opened)
        app.close()
    per = restrict / n
    result = {
        "subjects": n,
        "restrict_s": round(restrict, 3),
        "notices_s": round(notices, 3),
        "rerun_s": round(rerun, 3),
        "restrict_per_request_ms": round(per * 1000, 2),
        "notices_per_request_ms": round(notices / n * 1000, 2),
        "notices_vs_restrict": round(notices / restrict, 2),
        "rerun_vs_one_restrict": round(rerun / per, 2),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
