"""Projection throughput against the raw fastavro decode rate of the same events.

1. Prepare (or reuse) a lineage home whose file log holds ``--events`` generated events.
2. Baseline, in this process: ``fastavro.schemaless_reader`` with each record's writer
   schema (logical types included) over every record body. Records are read from the log in
   chunks outside the timed part, so the baseline is decoding alone.
3. The projection, in a fresh child process: ``App.rebuild()`` (what ``lineage rebuild``
   runs: read, checksum, decode, validate, Arrow batches, DuckDB commits, checkpoint). The
   child reports its wall time and its peak resident memory.

The ratio projection / baseline (aim: >= 0.8) is meaningful on a shared machine because both
rates are measured in the same run. A second baseline decodes a lean record with the same
information (12 flat fields: no envelope, no unions beyond nullable strings), encoded from
the same events outside the timed part: what the information itself costs fastavro.

    python bench/projection.py --events 1000000 --subjects 100000
    python bench/projection.py --quick
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    child_env,
    peak_rss_mib,
    prepared_home,
    save,
    table,
    workdir,
)

CHUNK = 50_000


def fastavro_baseline(home: Path, repeat: int = 1) -> dict[str, Any]:
    """Events/s of bare fastavro over every record body of the log (best of ``repeat``)."""
    import fastavro

    from lineage.codec import default_codec
    from lineage.codec.avro import HEADER_LEN
    from lineage.config import resolve
    from lineage.log.factory import open_log

    codec = default_codec()
    # Every writer schema the codec knows (older versions too): bare decoding, no resolution.
    by_fp = {w.fingerprint: w.parsed for w in codec.writer_schemas()}
    log = open_log(resolve(home))
    reader = fastavro.schemaless_reader
    best = float("inf")
    count = 0
    for _ in range(repeat):
        elapsed = 0.0
        count = 0
        chunk: list[bytes] = []

        def decode(chunk: list[bytes]) -> float:
            was = gc.isenabled()
            gc.disable()
            began = time.perf_counter()
            for data in chunk:
                buf = io.BytesIO(data)
                buf.seek(HEADER_LEN)
                reader(buf, by_fp[data[2:HEADER_LEN]], None)
            took = time.perf_counter() - began
            if was:
                gc.enable()
            return took

        for entry in log.read():
            if entry.value is None:
                continue
            chunk.append(entry.value)
            if len(chunk) == CHUNK:
                elapsed += decode(chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            elapsed += decode(chunk)
            count += len(chunk)
        best = min(best, elapsed)
    return {"events": count, "seconds": best, "events_per_s": count / best}


LEAN_SCHEMA = {
    "type": "record",
    "name": "Lean",
    "fields": [
        {"name": "event_id", "type": "string"},
        {"name": "event_type", "type": "string"},
        {"name": "occurred_at", "type": "long"},
        {"name": "recorded_at", "type": "long"},
        {"name": "source", "type": "string"},
        {"name": "subject_ref", "type": "string"},
        {"name": "categories", "type": {"type": "array", "items": "string"}},
        {"name": "holder", "type": ["null", "string"]},
        {"name": "from_holder", "type": ["null", "string"]},
        {"name": "purpose", "type": ["null", "string"]},
        {"name": "legal_basis", "type": ["null", "string"]},
        {"name": "country", "type": ["null", "string"]},
    ],
}


def lean_baseline(home: Path) -> dict[str, Any]:
    """Events/s of bare fastavro over lean records holding the same information."""
    import fastavro

    from lineage.codec import default_codec
    from lineage.config import resolve
    from lineage.log.factory import open_log

    codec = default_codec()
    schema = fastavro.parse_schema(LEAN_SCHEMA)
    bodies = []
    for entry in open_log(resolve(home)).read():
        if entry.value is None:
            continue
        rec = codec.decode_raw(entry.value)
        env = rec["envelope"]
        lean = {k: env[k] for k in ("event_id", "event_type", "occurred_at", "recorded_at")}
        lean.update(source=env["source"], subject_ref=env["subject_ref"])
        lean["categories"] = rec.get("categories") or []
        lean["holder"] = rec.get("system") or rec.get("recipient") or rec.get("holder")
        lean["from_holder"] = rec.get("from_holder")
        lean["purpose"] = rec.get("purpose")
        lean["legal_basis"] = rec.get("legal_basis")
        lean["country"] = rec.get("recipient_country") or rec.get("destination_country")
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, lean)
        bodies.append(buf.getvalue())
    reader = fastavro.schemaless_reader
    was = gc.isenabled()
    gc.disable()
    began = time.perf_counter()
    for data in bodies:
        reader(io.BytesIO(data), schema, None)
    seconds = time.perf_counter() - began
    if was:
        gc.enable()
    return {"events": len(bodies), "seconds": seconds, "events_per_s": len(bodies) / seconds}


def child(home: Path, batch_size: int | None, no_index: bool) -> None:
    """Run in a fresh process: rebuild the projection, print timing and memory as JSON."""
    from lineage.config import resolve
    from lineage.services.app import App

    if no_index:  # measure what the who-has indexes cost the projection
        import lineage.projection.store as store

        plain = store.statements
        store.statements = lambda name: [s for s in plain(name) if "CREATE INDEX" not in s]

    flags = {"batch_size": batch_size} if batch_size else {}
    app = App(resolve(home, **flags))
    began = time.perf_counter()
    result = app.rebuild()
    seconds = time.perf_counter() - began
    out = {
        "events": result.applied,
        "read": result.read,
        "quarantined": result.quarantined,
        "seconds": seconds,
        "events_per_s": result.read / seconds,
        "memory_mib": peak_rss_mib(),
        "batch_size": app.settings.batch_size,
        "indexes": not no_index,
    }
    print(json.dumps(out))


def projection_run(home: Path, batch_size: int | None, no_index: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(home)]
    if batch_size:
        cmd += ["--batch-size", str(batch_size)]
    if no_index:
        cmd.append("--no-index")
    done = subprocess.run(cmd, capture_output=True, text=True, env=child_env())
    if done.returncode:
        raise SystemExit(f"the rebuild failed (exit {done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, help="generated data (default: temp dir)")
    parser.add_argument(
        "--batch-size",
        type=int,
        action="append",
        help="projector batch size (repeat to compare several; default: the setting's)",
    )
    parser.add_argument(
        "--no-index",
        action="store_true",
        help="also project without the per-subject indexes (their cost on writes)",
    )
    parser.add_argument("--quick", action="store_true", help="100,000 events / 10,000 subjects")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, (args.batch_size or [None])[0], args.no_index)
        return
    if args.quick:
        args.events, args.subjects = 100_000, 10_000

    home, reused = prepared_home(workdir(args.workdir), args.events, args.subjects, args.seed)
    print(f"data: {home} ({'reused' if reused else 'generated'})", file=sys.stderr)
    baseline = fastavro_baseline(home)
    lean = lean_baseline(home)
    runs = []
    variants = [(size, False) for size in args.batch_size or [None]]
    if args.no_index:
        # First, so that the home is left with a projection that has its indexes.
        variants.insert(0, (variants[0][0], True))
    for size, no_index in variants:
        run = projection_run(home, size, no_index)
        if run["quarantined"]:
            raise SystemExit(f"{run['quarantined']} records were set aside: generator bug")
        run["ratio"] = run["events_per_s"] / baseline["events_per_s"]
        run["lean_ratio"] = run["events_per_s"] / lean["events_per_s"]
        runs.append(run)

    rows: list[list[Any]] = [
        [
            "fastavro schemaless_reader (baseline)",
            *(baseline["seconds"], baseline["events_per_s"], "1.00", "", "", ""),
        ],
        [
            "fastavro, lean 12-field record (2nd baseline)",
            *(lean["seconds"], lean["events_per_s"], "", "1.00", "", ""),
        ],
    ]
    for run in runs:
        mem = run["memory_mib"]
        rows.append(
            [
                f"projection (rebuild, batch {run['batch_size']:,}"
                + (", no indexes)" if not run["indexes"] else ")"),
                run["seconds"],
                run["events_per_s"],
                f"{run['ratio']:.2f}",
                f"{run['lean_ratio']:.2f}",
                mem.get("VmHWM", 0.0),
                mem.get("RssAnon", 0.0),
            ]
        )
    print(f"{args.events:,} events, {args.subjects:,} subjects")
    print(
        table(
            rows,
            [
                "",
                "seconds",
                "events/s",
                "ratio",
                "lean ratio",
                "peak RSS MiB",
                "anon RSS MiB at end",
            ],
        )
    )
    path = save(
        "projection",
        {
            "events": args.events,
            "subjects": args.subjects,
            "baseline": baseline,
            "lean_baseline": lean,
            "runs": runs,
            "aims": {"ratio": 0.8, "peak_rss_mib": 1024},
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
