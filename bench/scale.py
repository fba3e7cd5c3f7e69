"""The scale curve: the same measures at 1M, 3M and 10M events on the embedded file log.

For each size (subjects: a tenth of the events), one after the other:

1. Generate a home whose log holds the events (``generate.write_log``; not timed here).
2. ``App.rebuild()`` in a fresh child process (``projection.py``'s run): events/s and peak
   RSS (``VmHWM``).
3. who-has in-process over ``--queries`` random subjects (``whohas.py``'s run): p50 / p99.
4. Bytes on disk per event: the log's segments, and the projection file (after the
   rebuild's checkpoint), with the file's used and free blocks (``PRAGMA database_size``),
   and the kept flow pairs' tables (their rows, and their blocks' bytes).
5. ``lineage ropa --format json`` and ``lineage audit --format json`` as processes, with the
   sample company's catalog (``examples/webshop/lineage.yaml``: the generator's holders and
   purposes): seconds, start-up included; CPU seconds and peak RSS, worker processes
   included (the audit is the first after the rebuild: it folds every subject).
6. Delete the home (``--keep`` keeps it), so the sizes never need their sum of disk.

Aims, against the first (smallest) size of the same run: projection events/s within 20%,
who-has p99 within 2x; peak RSS below 1 GiB at every size. The table is printed, the figures
are written to ``bench/results/scale-<time>.json`` and the curve to a PNG beside it.

    python bench/scale.py                          # 1M, 3M, 10M (about an hour on 2 cores)
    python bench/scale.py --sizes 1000000,3000000
    python bench/scale.py --quick                  # 100k and 300k
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    RESULTS,
    child_env,
    lineage_command,
    prepared_home,
    save,
    table,
    workdir,
)
from projection import projection_run
from whohas import in_process

GIB = 1024
CATALOG = Path(__file__).resolve().parent.parent / "examples" / "webshop" / "lineage.yaml"
FLOW_TABLES = ("flow_subjects", "flow_categories")


def disk_bytes(home: Path) -> tuple[int, int]:
    """(log segments, projection file) in bytes."""
    log = sum(p.stat().st_size for p in home.rglob("*.seg"))
    projection = sum(p.stat().st_size for p in home.rglob("*.duckdb"))
    return log, projection


def projection_blocks(home: Path) -> dict[str, int]:
    """The projection file's blocks in use and free (``PRAGMA database_size``): free blocks
    are space the file keeps but no longer uses."""
    import duckdb

    path = next(home.rglob("*.duckdb"))
    with duckdb.connect(str(path), read_only=True) as con:
        cur = con.execute("PRAGMA database_size")
        row = dict(zip([d[0] for d in cur.description], cur.fetchone() or (), strict=True))
    return {"block_size": row["block_size"], "used": row["used_blocks"], "free": row["free_blocks"]}


def table_sizes(home: Path, names: tuple[str, ...] = FLOW_TABLES) -> dict[str, dict[str, int]]:
    """Rows and bytes on disk (the distinct blocks of its column segments) of some tables."""
    import duckdb

    path = next(home.rglob("*.duckdb"))
    out: dict[str, dict[str, int]] = {}
    with duckdb.connect(str(path), read_only=True) as con:
        block = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()
        for name in names:
            rows = con.execute(f"SELECT count(*) FROM {name}").fetchone()
            blocks = con.execute(
                f"SELECT count(DISTINCT block_id) FROM pragma_storage_info('{name}')"
                " WHERE persistent AND block_id >= 0"
            ).fetchone()
            out[name] = {
                "rows": rows[0] if rows else 0,
                "bytes": (blocks[0] if blocks else 0) * (block[0] if block else 0),
            }
    return out


def command_run(home: Path, *args: str) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MiB) of one ``lineage`` command with the
    catalog (exit 0, or 1: findings). CPU and peak include the worker processes it waited
    for (the peak is the largest one's); CPU seconds move less with the machine's load."""
    began = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [*lineage_command(), "--home", str(home), *args, "--catalog", str(CATALOG)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=child_env(),
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - began
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):
            err.seek(0)
            raise SystemExit(f"lineage {' '.join(args)} failed: {err.read().decode()[-500:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def one_size(
    base: Path, events: int, queries: int, seed: int, keep: bool, commands_max: int | None
) -> dict[str, Any]:
    subjects = max(1, events // 10)
    began = time.perf_counter()
    home, reused = prepared_home(base, events, subjects, seed)
    generated = time.perf_counter() - began
    print(f"{events:,} events: home {'reused' if reused else 'generated'}", file=sys.stderr)
    run = projection_run(home, None, False)
    if run["quarantined"]:
        raise SystemExit(f"{run['quarantined']} records were set aside: generator bug")
    picks = random.Random(seed).sample(range(subjects), min(2 * queries, subjects))
    fresh, warm = in_process(home, picks, len(picks) // 2)
    log_bytes, projection_bytes = disk_bytes(home)
    blocks = projection_blocks(home)
    flows = table_sizes(home)
    ropa = audit = ropa_cpu = audit_cpu = ropa_rss = audit_rss = None
    if commands_max is None or events <= commands_max:
        print(f"{events:,} events: ropa, audit", file=sys.stderr)
        ropa, ropa_cpu, ropa_rss = command_run(home, "ropa", "--format", "json")
        audit, audit_cpu, audit_rss = command_run(home, "audit", "--format", "json")
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
    return {
        "events": events,
        "subjects": subjects,
        "generate_s": None if reused else generated,
        "projection": run,
        "events_per_s": run["events_per_s"],
        "peak_rss_mib": run["memory_mib"].get("VmHWM"),
        "whohas_fresh": fresh,
        "whohas_warm": warm,
        "whohas_p99_ms": fresh["p99_ms"],
        "log_bytes_per_event": log_bytes / events,
        "projection_bytes_per_event": projection_bytes / events,
        "projection_blocks": blocks,
        "flow_tables": flows,
        "flow_bytes_per_event": sum(t["bytes"] for t in flows.values()) / events,
        "ropa_s": ropa,
        "audit_s": audit,
        "ropa_cpu_s": ropa_cpu,
        "audit_cpu_s": audit_cpu,
        "ropa_peak_rss_mib": ropa_rss,
        "audit_peak_rss_mib": audit_rss,
    }


def plot(points: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    sizes = [p["events"] / 1e6 for p in points]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    panels = [
        ("projection events/s", [p["events_per_s"] for p in points]),
        ("who-has p99 in-process (ms)", [p["whohas_p99_ms"] for p in points]),
        ("rebuild peak RSS (MiB)", [p["peak_rss_mib"] for p in points]),
        ("bytes on disk per event", None),
    ]
    for ax, (title, values) in zip(axes.flat, panels, strict=True):
        if values is None:
            ax.plot(sizes, [p["log_bytes_per_event"] for p in points], "o-", label="log")
            ax.plot(
                sizes, [p["projection_bytes_per_event"] for p in points], "o-", label="projection"
            )
            ax.legend()
        else:
            ax.plot(sizes, values, "o-")
        if title.startswith("rebuild"):
            ax.axhline(GIB, color="red", linestyle="--", label="1 GiB")
        ax.set_title(title)
        ax.set_xlabel("million events")
        ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{s:g}" for s in sizes])
        ax.minorticks_off()
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    fig.suptitle("lineage on the file log: 10 events per subject")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,3000000,10000000")
    parser.add_argument("--queries", type=int, default=1000, help="who-has queries per size")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, help="generated data (default: temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated homes")
    parser.add_argument(
        "--commands-max",
        type=int,
        help="run ropa and audit only up to this many events (they take minutes at 10M)",
    )
    parser.add_argument("--quick", action="store_true", help="100,000 and 300,000 events")
    args = parser.parse_args(argv)
    sizes = [100_000, 300_000] if args.quick else [int(s) for s in args.sizes.split(",")]

    base = workdir(args.workdir)
    points: list[dict[str, Any]] = []
    for n in sizes:
        points.append(one_size(base, n, args.queries, args.seed, args.keep, args.commands_max))
        # The sizes done so far, in case a later (larger) one fails or is stopped.
        save("scale-partial", {"sizes": sizes, "points": points})
    first = points[0]
    for p in points:
        p["rate_vs_first"] = p["events_per_s"] / first["events_per_s"]
        p["p99_vs_first"] = p["whohas_p99_ms"] / first["whohas_p99_ms"]
    rows = [
        [
            f"{p['events']:,}",
            p["events_per_s"],
            f"{p['rate_vs_first']:.2f}",
            p["whohas_fresh"]["p50_ms"],
            p["whohas_p99_ms"],
            f"{p['p99_vs_first']:.2f}",
            p["peak_rss_mib"],
            p["log_bytes_per_event"],
            p["projection_bytes_per_event"],
            p["projection_blocks"]["free"],
            p["flow_bytes_per_event"],
            "-" if p["ropa_s"] is None else p["ropa_s"],
            "-" if p["audit_s"] is None else p["audit_s"],
            "-" if p["audit_cpu_s"] is None else p["audit_cpu_s"],
            "-" if p["audit_peak_rss_mib"] is None else p["audit_peak_rss_mib"],
        ]
        for p in points
    ]
    print(
        table(
            rows,
            [
                "events",
                "projection ev/s",
                "× first",
                "who-has p50 ms",
                "p99 ms",
                "× first",
                "peak RSS MiB",
                "log B/ev",
                "projection B/ev",
                "free blocks",
                "flows B/ev",
                "ropa s",
                "audit s",
                "audit CPU s",
                "audit RSS MiB",
            ],
        )
    )
    path = save(
        "scale",
        {
            "sizes": sizes,
            "points": points,
            "aims": {"rate_vs_first": 0.8, "p99_vs_first": 2.0, "peak_rss_mib": GIB},
        },
    )
    png = path.with_suffix(".png")
    plot(points, png)
    shutil.copyfile(png, RESULTS / "scale-latest.png")
    print(f"results: {path} and {png.name}")


if __name__ == "__main__":
    main()
