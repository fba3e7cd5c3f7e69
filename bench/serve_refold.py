"""``lineage serve`` when every kept audit summary is stale (after ``lineage rebuild``, the
schema-7 migration, a catalog or rulebook change): how long until the follower has folded
them all again, and how far behind the projection falls meanwhile, against the cold
``lineage audit`` of the same home in the same run.

    python bench/serve_refold.py --events 1000000 --subjects 100000
    python bench/serve_refold.py --quick
    python bench/serve_refold.py --base-src DIR   # also older code: ``git archive`` unpacked

1. The prepared home (``generate.py``), projected and its summaries folded once (kept
   between runs); each measurement works on a copy whose summaries were folded under
   another catalog (every reference is to be folded again).
2. Baseline: ``lineage audit --format json`` on such a copy, a process: the cold fold of
   every component (worker processes), which stores the summaries.
3. For this checkout's code (and, with ``--base-src``, the code in DIR put first on
   ``PYTHONPATH``): ``lineage serve`` on such a copy; from its first healthy answer, the
   status is asked every second until ``summaries_waiting`` is 0 (at most ``--limit``
   seconds). Until it first falls below half the references (the stale summaries are
   folded; what is left is the batches' marks), a client posts a batch of ``--batch`` new
   JSON lines every second and at once asks who-has about a subject of that batch: the
   answer waits until the follower has projected the batch, so its latency is the
   projection lag meanwhile. Then the posts stop, and the rest is the steps' work.
Results go to bench/results/serve_refold-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    admin_token,
    child_env,
    free_port,
    lineage_command,
    percentile,
    prepared_home,
    save,
    table,
    wait_healthy,
    workdir,
)
from generate import stories


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _stale_copy(source: Path, target: Path) -> None:
    """A copy of the home whose summaries were folded under another catalog."""
    from lineage.projection.store import Store

    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.lock", "*.follower"))
    store = Store(str(target / "projection.duckdb"))
    try:
        store.set_meta("summary_fingerprint", "another catalog")
    finally:
        store.close()


def _audit(home: Path, env: dict[str, str]) -> float:
    """Seconds of one ``lineage audit`` process (exit 1: it found errors, as it should)."""
    began = time.perf_counter()
    done = subprocess.run(
        [*lineage_command(), "--home", str(home), "audit", "--format", "json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"lineage audit failed: {done.stderr}")
    return time.perf_counter() - began


def _serve(
    name: str, home: Path, env: dict[str, str], batches: list[tuple[str, str]], limit: float
) -> dict[str, Any]:
    lineage = [*lineage_command(), "--home", str(home)]
    token = admin_token(home, env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    log_path = home.parent / f"{home.name}-serve-{name}.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([*lineage, "serve", "--port", str(port)], stderr=log, env=env)
    lags: list[float] = []
    errors: list[str] = []
    done = threading.Event()

    def ingest() -> None:
        """A batch a second and a who-has about it at once (it waits for the projection)."""
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            for body, email in batches:
                if done.wait(1.0):
                    return
                posted = client.post(
                    "/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"}
                )
                began = time.perf_counter()
                asked = client.post("/v1/who-has", json={"identifier": email})
                lags.append(time.perf_counter() - began)
                if posted.status_code != 200 or asked.status_code != 200:
                    errors.append(f"{posted.status_code} {asked.status_code}: {asked.text[:200]}")

    try:
        began = time.perf_counter()
        wait_healthy(url, server, log_path)
        startup = time.perf_counter() - began
        feeder = threading.Thread(target=ingest, daemon=True)
        feeder.start()
        started = time.perf_counter()
        current: float | None = None
        folded: float | None = None
        waiting: list[tuple[float, int]] = []
        while time.perf_counter() - started < limit:
            status = httpx.get(url + "/v1/status", headers=headers, timeout=120).json()
            left = int(status["projection"]["summaries_waiting"])
            waiting.append((round(time.perf_counter() - started, 1), left))
            if folded is None and left < waiting[0][1] / 2:
                folded = time.perf_counter() - started
                done.set()  # what is left is the batches' marks: the steps' work
            if left == 0:
                current = time.perf_counter() - started
                break
            time.sleep(1.0)
        done.set()
        feeder.join()
    finally:
        server.terminate()
        server.wait(120)
    return {
        "startup_s": startup,
        "folded_after_s": folded,
        "current_after_s": current,
        "still_waiting": waiting[-1][1] if waiting else None,
        "first_waiting": waiting[0][1] if waiting else None,
        "waiting_over_time": waiting[:: max(1, len(waiting) // 20)],
        "batches": len(lags),
        "lag_p50_s": percentile(lags, 50) if lags else None,
        "lag_max_s": max(lags) if lags else None,
        "errors": errors[:5],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch", type=int, default=200, help="JSON lines per posted batch")
    parser.add_argument("--limit", type=float, default=300.0, help="seconds to wait at most")
    parser.add_argument("--base-src", type=Path, help="older code to measure too (a source tree)")
    parser.add_argument("--workdir", type=Path, help="generated data (default: temp dir)")
    parser.add_argument("--quick", action="store_true", help="50,000 events, 5,000 subjects")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.subjects = 50_000, 5_000

    base = workdir(args.workdir)
    source, _ = prepared_home(base, args.events, args.subjects, args.seed)
    env = child_env()
    lineage = [*lineage_command(), "--home", str(source)]
    if not (source / "projection.duckdb").exists():  # projected and folded once, kept
        subprocess.run([*lineage, "project"], check=True, env=env, stdout=subprocess.DEVNULL)
    _audit(source, env)

    # More lines for the home's subjects (another seed), a batch per second of the wait.
    lines = list(stories(int(args.limit + 10) * args.batch, args.subjects, args.seed + 7))
    batches = []
    for i in range(0, len(lines) - args.batch + 1, args.batch):
        part = lines[i : i + args.batch]
        for obj in part:
            obj.pop("link", None)
        email = next(o["subject"]["email"] for o in part if "email" in o.get("subject", {}))
        batches.append(("".join(json.dumps(o) + "\n" for o in part), email))

    load_before = _loadavg()
    home = base / "refold-home"
    _stale_copy(source, home)
    audit_s = _audit(home, env)
    codes = [("this", env)]
    if args.base_src is not None:
        codes.append(("base", {**env, "PYTHONPATH": str(args.base_src.resolve())}))
    runs: dict[str, Any] = {}
    for name, code_env in codes:
        _stale_copy(source, home)
        runs[name] = _serve(name, home, code_env, batches, args.limit)
    shutil.rmtree(home, ignore_errors=True)
    result = {
        "events": args.events,
        "subjects": args.subjects,
        "cold_audit_s": audit_s,
        "runs": runs,
        "load_average_before": load_before,
        "load_average_after": _loadavg(),
    }
    print(f"{args.events:,} events, {args.subjects:,} subjects; load {load_before} -> {_loadavg()}")
    print(f"cold lineage audit (the baseline): {audit_s:.1f} s")
    rows = []
    for name, r in runs.items():
        cells: list[Any] = [name, r["first_waiting"]]
        for key in ("folded_after_s", "current_after_s"):
            t = r[key]
            cells += [f"{t:.1f}", f"{t / audit_s:.2f}"] if t is not None else ["-", "-"]
        if r["current_after_s"] is None:
            cells[-2] = f"> {args.limit:g} ({r['still_waiting']:,} left)"
        rows.append((*cells, r["batches"], r["lag_p50_s"], r["lag_max_s"]))
    headers = (
        "code",
        "waiting",
        "half folded s",
        "x audit",
        "current s",
        "x audit",
        "batches",
        "lag p50 s",
        "lag max s",
    )
    print(table(rows, headers))
    for name, r in runs.items():
        if r["errors"]:
            print(f"{name}: errors {r['errors']}")
    save("serve_refold", result)


if __name__ == "__main__":
    main()
