"""Benchmark: ``GET /v1/audit`` in ``lineage serve`` after ingest, with the follower keeping
the audit summaries (bounded steps between batches) and without (every answer folds again
what the service projected: the behaviour before the steps), in the same run.

    .venv/bin/python bench/serve_audit.py [--events 200000] [--purposes 50] [--repeat 3]

1. A home as ``bench/ropa_audit.py`` builds it (its catalog and events), the events appended
   to the file log and not projected.
2. For each mode, on a fresh copy of that home, the service's ``Runtime`` in this process
   (its follower thread and request snapshots, no HTTP): the start-up catch-up projects
   every event (the ingest). The audit is the handler of ``GET /v1/audit`` (``report`` in a
   ``query_store`` snapshot): once right after the follower starts (with steps: while they
   run), then, with steps once the follower reports none waiting, --repeat times (median).
3. The follower's steps: how many, their total, the longest (what a batch arriving
   meanwhile waits at most), apart while the first audit ran in the same process (the two
   threads share Python's GIL). Both modes' answers must have the same digest.
Results go to bench/results/serve_audit-<time>.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ropa_audit import make_catalog, records  # noqa: E402

AS_OF = datetime(2026, 11, 30, 1, tzinfo=UTC)


def _digest(answer: dict[str, Any]) -> str:
    lines = sorted(json.dumps(f, sort_keys=True, default=str) for f in answer["findings"])
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def build(home: Path, n: int, purposes: int) -> None:
    from lineage.config import resolve
    from lineage.services.app import App

    os.environ.pop("LINEAGE_PSEUDONYM_KEY", None)
    app = App(resolve(home))
    app.init()
    (home / "lineage.yaml").write_text(make_catalog(purposes))
    app.log.append(records(n, purposes))
    app.close()


def serve(home: Path, steps: bool, repeat: int) -> dict[str, Any]:
    from lineage.config import resolve
    from lineage.serve.runtime import Runtime
    from lineage.services.audit import report
    from lineage.services.company import fingerprint, waiting

    runtime = Runtime(resolve(home))
    follower = runtime.follower
    if not steps:
        follower.catalog = None  # the service as it was: it never stores summaries
    try:
        started = time.perf_counter()
        follower.catch_up()
        catch_up = time.perf_counter() - started
        follower.start()
        started = time.perf_counter()
        served = runtime.app()
        catalog = served.catalog()

        def answer() -> tuple[float, dict[str, Any]]:
            t = time.perf_counter()
            with served.query_store() as store:
                out = report(catalog, store, AS_OF)
            return time.perf_counter() - t, out

        first_s, first = answer()
        # Steps share the GIL with a request's fold: the longest while one ran, and after.
        longest_beside = follower.longest_step
        follower.longest_step = 0.0
        current_s = None
        if steps:
            want = fingerprint(catalog)
            while True:
                with runtime.snapshot() as store:
                    if waiting(store, want) == 0 and store.meta("summary_fingerprint") == want:
                        break
                time.sleep(0.05)
            current_s = time.perf_counter() - started
        times, last = [], first
        for _ in range(repeat):
            t, last = answer()
            times.append(t)
        assert _digest(last) == _digest(first)
        return {
            "catch_up_s": catch_up,
            "first_audit_s": first_s,
            "audit_s": statistics.median(times),
            "audit_times_s": times,
            "summaries_current_after_s": current_s,
            "steps": follower.steps,
            "longest_step_beside_audit_s": longest_beside,
            "longest_step_s": follower.longest_step,
            "digest": _digest(last),
        }
    finally:
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--purposes", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lineage-bench-") as tmp:
        source = Path(tmp) / "source"
        build(source, args.events, args.purposes)
        result: dict[str, Any] = {"events": args.events, "purposes": args.purposes}
        for mode, steps in (("without steps", False), ("with steps", True)):
            home = Path(tmp) / mode.replace(" ", "-")
            shutil.copytree(source, home)
            result[mode] = serve(home, steps, args.repeat)
    off, on = result["without steps"], result["with steps"]
    assert off["digest"] == on["digest"], (off["digest"], on["digest"])
    result["ratio"] = off["audit_s"] / on["audit_s"]
    result["load_average"] = os.getloadavg()
    print(f"{args.events:,} events, {args.purposes} purposes; digest {on['digest']}")
    print(f"{'':44} {'without steps':>14} {'with steps':>11}")
    for label, key in (
        ("start-up catch-up (the ingest), s", "catch_up_s"),
        ("first audit after start, s", "first_audit_s"),
        ("audit (median), s", "audit_s"),
    ):
        print(f"{label:44} {off[key]:14.3f} {on[key]:11.3f}")
    print(
        f"steps: {on['steps']}, summaries current {on['summaries_current_after_s']:.1f} s "
        f"after start; longest step {on['longest_step_s'] * 1000:.0f} ms "
        f"({on['longest_step_beside_audit_s'] * 1000:.0f} ms beside the first audit)"
    )
    print(f"audit without / with steps: {result['ratio']:.1f}x")
    print("load average: " + " ".join(f"{x:.2f}" for x in result["load_average"]))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"serve_audit-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
