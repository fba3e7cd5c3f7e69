"""Where a rebuild's memory and file space go: DuckDB's own accounting beside the process's.

    python bench/rebuild_memory.py --events 3000000 [--maintained] [--memory-limit 256MB]

Projects a generated home (``generate.py``'s, reused) into a new file in this process, as
``App.rebuild`` does: by default without the lookup indexes and under a DuckDB memory limit,
then ``Store.create_indexes`` and ``Store.fill_flows``; ``--maintained`` keeps the indexes
from the start and no limit (the rebuild before). It samples ``/proc/self/status`` every
20 ms (peak RSS per phase) and prints ``duckdb_memory()`` after the load, the index build
and the fill of the kept flow pairs, and ``PRAGMA database_size`` (used and free blocks)
after the checkpoint.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import prepared_home, save, workdir


def _status() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(value.split()[0]) // 1024
    return out


def _duckdb_memory(con: Any) -> dict[str, int]:
    rows = con.execute(
        "SELECT tag, memory_usage_bytes // 1048576 FROM duckdb_memory() "
        "WHERE memory_usage_bytes >= 1048576"
    ).fetchall()
    return {tag: mib for tag, mib in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--maintained", action="store_true", help="indexes from the start")
    parser.add_argument("--memory-limit", default=None, help="default: the rebuild's")
    parser.add_argument("--index-memory-limit", default=None, help="default: the rebuild's")
    args = parser.parse_args()

    from lineage.config import resolve
    from lineage.projection.store import Store
    from lineage.services.app import REBUILD_MEMORY_LIMIT, App, index_memory_limit

    home, _ = prepared_home(workdir(args.workdir), args.events, args.events // 10, args.seed)
    app = App(resolve(home))
    path = home / "rebuild-memory.duckdb"
    for stale in (path, Path(f"{path}.wal")):
        stale.unlink(missing_ok=True)
    limit = None if args.maintained else (args.memory_limit or REBUILD_MEMORY_LIMIT)
    store = Store(path, indexes=args.maintained, memory_limit=limit)
    peak = {"rss": 0}

    def sample() -> None:
        while True:
            peak["rss"] = max(peak["rss"], _status()["VmRSS"])
            time.sleep(0.02)

    threading.Thread(target=sample, daemon=True).start()
    out: dict[str, Any] = {"events": args.events, "maintained": args.maintained, "limit": limit}
    began = time.perf_counter()
    app.projector(store).run()
    out["load"] = {
        "seconds": time.perf_counter() - began,
        "peak_rss_mib": peak["rss"],
        "status": _status(),
        "duckdb": _duckdb_memory(store.con),
    }
    peak["rss"] = 0
    began = time.perf_counter()
    if not args.maintained:
        store.create_indexes(args.index_memory_limit or index_memory_limit(args.events))
    out["index"] = {
        "seconds": time.perf_counter() - began,
        "peak_rss_mib": peak["rss"],
        "duckdb": _duckdb_memory(store.con),
    }
    peak["rss"] = 0
    began = time.perf_counter()
    if not args.maintained:  # kept batch by batch when maintained
        store.fill_flows()
    out["fill"] = {
        "seconds": time.perf_counter() - began,
        "peak_rss_mib": peak["rss"],
        "duckdb": _duckdb_memory(store.con),
    }
    store.con.execute("CHECKPOINT")
    cur = store.con.execute("PRAGMA database_size")
    size = dict(zip([d[0] for d in cur.description], cur.fetchone() or (), strict=True))
    out["file"] = {
        "mib": path.stat().st_size / 2**20,
        "used_blocks": size["used_blocks"],
        "free_blocks": size["free_blocks"],
    }
    store.close()
    for leftover in (path, Path(f"{path}.wal")):
        leftover.unlink(missing_ok=True)
    print(out)
    save("rebuild_memory", out)


if __name__ == "__main__":
    main()
