"""The SDK's ``Recorder`` (edge + batching + durable append into a file-log home) in
events/s, against fastavro encoding the same events alone (the codec's floor).

    python bench/sdk.py --events 100000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import child_env, lineage_command


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--batch-size", type=int, default=1000)
    args = ap.parse_args()

    from lineage.codec import default_codec
    from lineage.sdk import Recorder

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        subprocess.run(
            [*lineage_command(), "--home", str(home), "init"], env=child_env(), check=True
        )
        with Recorder(home=home, batch_size=args.batch_size) as rec:
            start = time.perf_counter()
            for i in range(args.events):
                rec.collected(
                    {"email": f"person{i % 10_000}@example.com"},
                    categories=["user.name", "user.contact.email"],
                    system="webshop-db",
                    purpose="essential.service",
                    legal_basis="contract",
                    data_subject="customer",
                    at=f"2024-01-15T09:{i // 60 % 60:02d}:{i % 60:02d}Z",
                )
            rec.flush()
            recorder = time.perf_counter() - start
            # The same events, built by the edge once more, for the baseline.
            events = [
                e
                for i in range(min(args.events, 10_000))
                for e in rec._parser.parse_object(
                    {
                        "event_type": "DataCollected",
                        "subject": {"email": f"person{i % 10_000}@example.com"},
                        "occurred_at": f"2024-01-15T09:{i // 60 % 60:02d}:{i % 60:02d}Z",
                        "categories": ["user.name", "user.contact.email"],
                        "system": "webshop-db",
                        "purpose": "essential.service",
                        "legal_basis": "contract",
                        "data_subject": "customer",
                    }
                )
            ]
        # The same events (the first 10,000, repeated) through the codec alone.
        codec = default_codec()
        sample = events
        start = time.perf_counter()
        done = 0
        while done < args.events:
            for event in sample:
                codec.encode(event)
            done += len(sample)
        encode = time.perf_counter() - start
    rate = args.events / recorder
    floor = done / encode if encode else float("nan")
    print(f"events {args.events:,}  batch {args.batch_size}")
    print(f"Recorder           {rate:>12,.0f} events/s")
    print(f"fastavro encode    {floor:>12,.0f} events/s")
    print(f"ratio              {rate / floor:>12.2f}")


if __name__ == "__main__":
    main()
