"""``lineage emit --file`` throughput against the least work per line, on the same lines.

1. Write (or reuse) ``--lines`` generated JSON lines with raw identifiers.
2. Baselines, in this process: ``json.loads`` of every line (the file read is included, as it
   is for emit); and the least work emit must do per line: ``json.loads``, HMAC-SHA-256 of
   each identifier of ``subject``, and ``fastavro.schemaless_writer`` of the event(s) the
   line becomes (built outside the timed part). The ratio is against the second (aim 0.5).
3. ``lineage init`` and ``lineage emit --file --workers N`` into a fresh home, as real
   processes, once per ``--workers`` value (0: in one process; N: chunks prepared in N
   worker processes); emit's wall time (start-up included) and peak resident memory (the
   largest of the process and its workers).
4. Beside the wall-time ratio, the CPU-time one: lines per CPU second of emit (user + system,
   from ``wait4``) against the baseline's (``process_time`` of its timed part). On a machine
   shared with other work, waiting for a core inflates wall times unevenly; CPU time much less.

    python bench/emit.py --lines 1000000 --subjects 100000 --workers 0,2
    python bench/emit.py --quick
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import child_env, lineage_command, save, table, workdir
from generate import write_jsonl


def prepared_jsonl(base: Path, lines: int, subjects: int, seed: int) -> tuple[Path, int]:
    """(path, events the lines make); reused when already written."""
    path = base / f"events-{lines}-{subjects}-{seed}.jsonl"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, int(json.loads(meta.read_text())["events"])
    events = write_jsonl(path, lines, subjects, seed)
    meta.write_text(json.dumps({"lines": lines, "events": events}))
    return path, events


def json_baseline(path: Path) -> dict[str, Any]:
    loads = json.loads
    was = gc.isenabled()
    gc.disable()  # the parsed objects are dropped at once: no cycles to find
    began = time.perf_counter()
    count = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            loads(line)
            count += 1
    seconds = time.perf_counter() - began
    if was:
        gc.enable()
    return {"lines": count, "seconds": seconds, "lines_per_s": count / seconds}


def least_work_baseline(path: Path, chunk: int = 20_000) -> dict[str, Any]:
    """Lines/s of json.loads + HMAC-SHA-256 per identifier + fastavro encode per event."""
    import hashlib
    import hmac
    import io

    import fastavro

    from lineage.codec import default_codec
    from lineage.edge.identity import Pseudonymizer
    from lineage.edge.jsonl import EventParser

    key = os.urandom(32)
    parser = EventParser(Pseudonymizer(key))
    schemas = {t: fastavro.parse_schema(s) for t, s in default_codec().reader_schemas().items()}
    writer = fastavro.schemaless_writer
    loads = json.loads
    sha256 = hashlib.sha256
    seconds = cpu = 0.0
    count = 0
    with open(path, encoding="utf-8") as fh:
        while lines := fh.readlines(chunk * 300):
            # Outside the timed part: the records each line becomes.
            records = [
                [(schemas[e.event_type], e.to_record()) for e in parser.parse_object(loads(line))]
                for line in lines
            ]
            was = gc.isenabled()
            gc.disable()
            began, began_cpu = time.perf_counter(), time.process_time()
            for line, recs in zip(lines, records, strict=True):
                obj = loads(line)
                for kind, value in obj["subject"].items():
                    hmac.new(key, f"{kind}:{value}".encode(), sha256).hexdigest()
                for schema, rec in recs:
                    writer(io.BytesIO(), schema, rec)
            seconds += time.perf_counter() - began
            cpu += time.process_time() - began_cpu
            if was:
                gc.enable()
            count += len(lines)
    return {
        "lines": count,
        "seconds": seconds,
        "lines_per_s": count / seconds,
        "cpu_seconds": cpu,
        "lines_per_cpu_s": count / cpu,
    }


def measured_cpu(cmd: list[str], **kw: Any) -> tuple[float, float, float]:
    """(seconds, peak RSS in MiB, CPU seconds: user + system) of one child process and the
    processes it waited for (its workers): RSS the largest of them, CPU their sum."""
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, **kw)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status):
        raise subprocess.CalledProcessError(os.waitstatus_to_exitcode(status), cmd)
    # On Linux wait4 reports the child together with the children it waited for.
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, help="generated data (default: temp dir)")
    parser.add_argument("--quick", action="store_true", help="50,000 lines / 5,000 subjects")
    parser.add_argument(
        "--workers",
        default="0,2",
        help="emit's --workers values to run, comma-separated (default 0,2)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.lines, args.subjects = 50_000, 5_000

    base = workdir(args.workdir)
    path, events = prepared_jsonl(base, args.lines, args.subjects, args.seed)
    baseline = json_baseline(path)
    least = least_work_baseline(path)

    lineage = [*lineage_command()]
    env = child_env()
    runs: dict[str, dict[str, Any]] = {}
    for workers in (int(w) for w in args.workers.split(",")):
        home = base / "emit-home"
        shutil.rmtree(home, ignore_errors=True)
        home_cmd = [*lineage, "--home", str(home)]
        subprocess.run([*home_cmd, "init"], check=True, stdout=subprocess.DEVNULL, env=env)
        load_before = os.getloadavg()
        emit = [*home_cmd, "emit", "--file", str(path), "--workers", str(workers)]
        seconds, rss, cpu = measured_cpu(emit, env=env)
        load_after = os.getloadavg()
        shutil.rmtree(home, ignore_errors=True)
        runs[str(workers)] = {
            "lines": args.lines,
            "events": events,
            "seconds": seconds,
            "lines_per_s": args.lines / seconds,
            "events_per_s": events / seconds,
            "peak_rss_mib": rss,
            "cpu_seconds": cpu,
            "lines_per_cpu_s": args.lines / cpu,
            "ratio": args.lines / seconds / least["lines_per_s"],
            "cpu_ratio": args.lines / cpu / least["lines_per_cpu_s"],
            "load_average": [load_before[0], load_after[0]],
        }

    print(f"{args.lines:,} JSON lines -> {events:,} events, {args.subjects:,} subjects")
    rows: list[list[Any]] = [
        ["json.loads per line", baseline["seconds"], baseline["lines_per_s"], "", "", "", ""],
        [
            "json.loads + HMAC + fastavro encode (baseline)",
            *(least["seconds"], least["lines_per_s"], "", "1.000", "", "1.000"),
        ],
    ]
    for name, run in runs.items():
        rows.append(
            [
                f"lineage emit --file --workers {name}",
                *(run["seconds"], run["lines_per_s"], run["events_per_s"], run["ratio"]),
                *(run["peak_rss_mib"], run["cpu_ratio"]),
            ]
        )
    print(table(rows, ["", "seconds", "lines/s", "events/s", "ratio", "peak RSS MiB", "CPU ratio"]))
    print(
        f"baseline CPU {least['cpu_seconds']:.2f} s "
        f"({least['lines_per_cpu_s']:,.0f} lines per CPU second)"
    )
    for name, run in runs.items():
        before, after = run["load_average"]
        print(
            f"--workers {name}: CPU {run['cpu_seconds']:.2f} s "
            f"({run['lines_per_cpu_s']:,.0f} lines per CPU second, the workers' included; "
            f"{run['cpu_seconds'] / run['seconds']:.2f} cores on average); "
            f"load average (1 min) before/after: {before:.2f} / {after:.2f}"
        )
    out = save(
        "emit",
        {
            "lines": args.lines,
            "subjects": args.subjects,
            "json_loads": baseline,
            "baseline": least,
            "emit": runs,
            "aim": 0.5,
        },
    )
    print(f"results: {out}")


if __name__ == "__main__":
    main()
