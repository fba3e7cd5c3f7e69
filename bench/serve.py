"""``lineage serve`` under load: concurrent clients mixing ingest and who-has.

1. Prepare (or reuse) a home with the generated events (``generate.py``), copy it, and start
   ``lineage serve`` on it (its start-up catch-up is timed, not part of the result).
2. Phases of ``--duration`` seconds each, one after the other against the same service
   (``--phases``, default all three):

   - ``mixed``: ``--clients`` concurrent clients (asyncio + httpx in this process);
     ``--ingest-clients`` of them post batches of ``--batch`` JSON lines (new events from
     the same generator, another seed) to ``POST /v1/events``, the others ask
     ``POST /v1/who-has`` about random subjects;
   - ``ingest``: the ingest clients alone;
   - ``whohas``: the who-has clients alone.

   429/503 answers are backpressure (counted, retried after Retry-After); anything else
   that is not 200 is an error.
3. who-has latency in the service: from the service's access log (middleware to response),
   p50/p99 per phase; the clients' own view beside it.
4. Baseline, same run: every line the service ingested, as one file through
   ``lineage emit --file`` into a copy of the same home (a process; start-up included), as
   it runs by default (worker processes for a large file) and with ``--workers 0``. Each
   phase's ingest events/s is reported as a ratio to both; the aim is against the first.

   Like with like: the same lines (those of the acknowledged batches, in order) into the
   same home as the service began with (same key, catalog and log), through the same
   ``prepare``, each acknowledged only once fsynced: emit in one all-or-nothing append
   fsynced once at its end, the service once per group commit (requests that queue behind
   a commit share the next). Not the same work: the service also projects every event it
   takes as it goes (emit leaves that to the next command that reads), parses HTTP and
   hands batches to its workers and back, and the clients of this script share its cores;
   emit pays its start-up (imports, catalog) instead. So the ratio tells how much of the
   machine the service turns into ingest, against one emit process or emit's workers.

    python bench/serve.py --events 1000000 --subjects 100000 --duration 60
    python bench/serve.py --events 100000 --subjects 10000 --duration 20 --phases mixed
    python bench/serve.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    child_env,
    lineage_command,
    measured,
    percentile,
    prepared_home,
    save,
    table,
    workdir,
)
from generate import email_of, write_jsonl

# More JSON lines per second than an ingest phase has taken on two cores (about 13,000).
LINES_PER_SECOND = 25_000
ACCESS = re.compile(r"POST /v1/who-has 200 ([0-9.]+)ms token=\S+(?: work=([0-9.]+)ms)?")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _copy_home(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(
        source, target, ignore=shutil.ignore_patterns("projection*", "*.follower", "*.readers")
    )


class Load:
    def __init__(
        self, url: str, token: str, batches: list[str], subjects: int, first: int = 0
    ) -> None:
        self.url, self.token, self.batches, self.subjects = url, token, batches, subjects
        self.next_batch = first
        self.ingested: list[int] = []  # batch indexes acknowledged
        self.appended = 0
        self.who_has: list[float] = []
        self.ingest_ms: list[float] = []
        self.errors: list[str] = []
        self.seconds = 0.0
        self.clients = self.ingesters = 0
        self.backpressure = 0

    async def _post(self, client: httpx.AsyncClient, path: str, **kw: Any) -> httpx.Response:
        while True:
            answer = await client.post(path, **kw)
            if answer.status_code not in (429, 503):
                return answer
            self.backpressure += 1
            await asyncio.sleep(float(answer.headers.get("retry-after", "1")) / 10)

    async def ingest(self, client: httpx.AsyncClient, until: float) -> None:
        headers = {"Content-Type": "application/x-ndjson"}
        while time.monotonic() < until and self.next_batch < len(self.batches):
            index = self.next_batch
            self.next_batch += 1
            began = time.perf_counter()
            answer = await self._post(
                client, "/v1/events", content=self.batches[index], headers=headers
            )
            self.ingest_ms.append((time.perf_counter() - began) * 1000)
            if answer.status_code == 200:
                self.ingested.append(index)
                self.appended += answer.json()["appended"]
            else:
                self.errors.append(f"ingest {answer.status_code}: {answer.text[:200]}")

    async def ask(self, client: httpx.AsyncClient, until: float, seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < until:
            body = {"identifier": email_of(rng.randrange(self.subjects))}
            began = time.perf_counter()
            answer = await self._post(client, "/v1/who-has", json=body)
            self.who_has.append((time.perf_counter() - began) * 1000)
            if answer.status_code != 200 or "holders" not in answer.json():
                self.errors.append(f"who-has {answer.status_code}: {answer.text[:200]}")

    async def run(self, clients: int, ingesters: int, duration: float) -> float:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(
            base_url=self.url, headers=headers, limits=limits, timeout=60
        ) as client:
            began = time.monotonic()
            until = began + duration
            tasks = [self.ingest(client, until) for _ in range(ingesters)]
            tasks += [self.ask(client, until, n) for n in range(clients - ingesters)]
            await asyncio.gather(*tasks)
            return time.monotonic() - began


PHASES = ("mixed", "ingest", "whohas")


def _phase(
    url: str,
    token: str,
    batches: list[str],
    first: int,
    args: argparse.Namespace,
    name: str,
) -> Load:
    clients, ingesters = {
        "mixed": (args.clients, args.ingest_clients),
        "ingest": (args.ingest_clients, args.ingest_clients),
        "whohas": (args.clients - args.ingest_clients, 0),
    }[name]
    load = Load(url, token, batches, args.subjects, first)
    load.seconds = asyncio.run(load.run(clients, ingesters, args.duration))
    load.clients, load.ingesters = clients, ingesters
    return load


def _summaries_folded(
    url: str, token: str, server: subprocess.Popen[bytes], limit: float = 180.0
) -> int:
    """Wait (at most ``limit`` seconds) until the follower has folded the audit summaries
    it found marked: it folds them while no request is in hand, and that CPU would
    otherwise count in the first phase's answers. Returns how many were still waiting."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + limit
    waiting = 0
    while server.poll() is None:
        status = httpx.get(url + "/v1/status", headers=headers, timeout=30).json()
        waiting = int(status["projection"].get("summaries_waiting") or 0)
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(2)  # rarely: each request pauses the follower's steps
    return waiting


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _uptime() -> str:
    """The machine's load average (1, 5, 15 minutes): the figures mean little beside a
    high one."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--ingest-clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=500, help="JSON lines per ingest request")
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help="comma-separated, in order: mixed, ingest (ingest clients alone), whohas",
    )
    parser.add_argument(
        "--serve-args",
        default="",
        help="more options for lineage serve, e.g. '--ingest-workers 0'",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, help="generated data (default: temp dir)")
    parser.add_argument("--quick", action="store_true", help="20,000 events, 5 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.subjects, args.duration = 20_000, 2_000, 5.0
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        parser.error(f"unknown phase {unknown[0]!r}: choose from {', '.join(PHASES)}")

    base = workdir(args.workdir)
    source, _ = prepared_home(base, args.events, args.subjects, args.seed)
    # New events for the same subjects (another seed): enough for every ingesting phase.
    lines_path = base / f"serve-ingest-{args.subjects}-{args.seed}.jsonl"
    # Enough that no ingesting phase runs out of lines before its end (an exhausted phase
    # reports a rate over its whole duration, and the next one ingests nothing).
    ingesting = sum(1 for p in phases if p != "whohas")
    wanted = max(200_000, args.events, int(ingesting * args.duration * LINES_PER_SECOND))
    lines = lines_path.read_text().splitlines(keepends=True) if lines_path.exists() else []
    if len(lines) < wanted:
        write_jsonl(lines_path, wanted, args.subjects, args.seed + 1)
        lines = lines_path.read_text().splitlines(keepends=True)
    batches = ["".join(lines[i : i + args.batch]) for i in range(0, len(lines), args.batch)]

    home = base / "serve-home"
    _copy_home(source, home)
    env = child_env()
    lineage = [*lineage_command(), "--home", str(home)]
    made = subprocess.run(
        [*lineage, "token", "create", "--scope", "admin", "--name", "bench"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    token = made.stdout.strip()
    port = _free_port()
    log_path = base / "serve-access.log"
    load_before = _uptime()
    started = time.perf_counter()
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [
                *lineage,
                "serve",
                "--port",
                str(port),
                "--max-ingests",
                str(args.clients),
                *args.serve_args.split(),
            ],
            stderr=log,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    done: dict[str, Load] = {}
    service_ms: dict[str, list[float]] = {}
    work_ms: dict[str, list[float]] = {}
    service_cpu: dict[str, float] = {}
    try:
        while True:
            if server.poll() is not None:
                raise SystemExit(f"lineage serve exited:\n{log_path.read_text()}")
            try:
                if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        startup = time.perf_counter() - started
        still_waiting = _summaries_folded(url, token, server)
        seen = 0
        first = 0
        for name in phases:
            cpu_before = _cpu_seconds(server.pid)
            load = _phase(url, token, batches, first, args, name)
            service_cpu[name] = _cpu_seconds(server.pid) - cpu_before
            first = load.next_batch
            done[name] = load
            # The access log's who-has lines of this phase (all answered by now).
            answered: list[tuple[str, str]] = ACCESS.findall(log_path.read_text())[seen:]
            seen += len(answered)
            service_ms[name] = [float(total) for total, _ in answered]
            # Of it, computing the answer once its turn came (the rest is waiting for a core).
            work_ms[name] = [float(work) for _, work in answered if work]
    finally:
        server.terminate()
        server.wait(60)
    load_after = _uptime()

    # Baseline: the same lines through `lineage emit --file` into a copy of the same home.
    acked = sorted(i for load in done.values() for i in load.ingested)
    appended = sum(load.appended for load in done.values())
    # Emit as it runs by default (worker processes for a large file) and in one process.
    emit_rate = emit_rate_one = None
    emit_seconds = emit_seconds_one = None
    if acked:
        emitted_path = base / "serve-emit.jsonl"
        emitted_path.write_text("".join(batches[i] for i in acked))
        emit_home = base / "serve-emit-home"
        for extra in ([], ["--workers", "0"]):
            _copy_home(source, emit_home)
            seconds, _ = measured(
                [
                    *lineage_command(),
                    *("--home", str(emit_home), "emit", "--file", str(emitted_path), *extra),
                ],
                env=env,
            )
            shutil.rmtree(emit_home, ignore_errors=True)
            if extra:
                emit_seconds_one, emit_rate_one = seconds, appended / seconds
            else:
                emit_seconds, emit_rate = seconds, appended / seconds

    def pct(values: list[float], p: float) -> float | None:
        return percentile(values, p) if values else None

    result: dict[str, Any] = {
        "events": args.events,
        "subjects": args.subjects,
        "clients": args.clients,
        "ingest_clients": args.ingest_clients,
        "batch_lines": args.batch,
        "serve_args": args.serve_args,
        "duration_s": args.duration,
        "startup_s": startup,
        # Summaries the follower had still to fold when the phases began (see the wait).
        "summaries_waiting_at_start": still_waiting,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "emit_file": {"events": appended, "seconds": emit_seconds, "events_per_s": emit_rate},
        "emit_file_one_process": {
            "events": appended,
            "seconds": emit_seconds_one,
            "events_per_s": emit_rate_one,
        },
        "phases": {},
    }
    rows: list[tuple[str, Any]] = []
    errors: list[str] = []
    for name, load in done.items():
        rate = load.appended / load.seconds if load.ingesters else None
        in_service = service_ms[name]
        phase: dict[str, Any] = {
            "clients": load.clients,
            "ingest_clients": load.ingesters,
            "seconds": load.seconds,
            "errors": len(load.errors),
            "error_samples": load.errors[:5],
            "backpressure_answers": load.backpressure,
            "who_has": {
                "requests": len(load.who_has),
                "per_s": len(load.who_has) / load.seconds,
                # The service's CPU time in the phase per answer (whohas phase: all of it
                # is answering; mixed: ingest's share is in it too).
                "service_cpu_ms_per_answer": service_cpu[name] * 1000 / len(load.who_has)
                if load.who_has
                else None,
                "service_p50_ms": pct(in_service, 50),
                "service_p99_ms": pct(in_service, 99),
                "work_p50_ms": pct(work_ms[name], 50),
                "work_p99_ms": pct(work_ms[name], 99),
                "client_p50_ms": pct(load.who_has, 50),
                "client_p99_ms": pct(load.who_has, 99),
            },
            "ingest": {
                "requests": len(load.ingested),
                "events": load.appended,
                "events_per_s": rate,
                "request_p50_ms": pct(load.ingest_ms, 50),
                "request_p99_ms": pct(load.ingest_ms, 99),
            },
            "ingest_vs_emit": rate / emit_rate if rate and emit_rate else None,
            "ingest_vs_emit_one_process": rate / emit_rate_one if rate and emit_rate_one else None,
        }
        result["phases"][name] = phase
        errors += load.errors
        who: dict[str, Any] = phase["who_has"]
        rows.append((f"{name}: clients (ingest)", f"{load.clients} ({load.ingesters})"))
        rows.append((f"{name}: errors / backpressure", f"{len(load.errors)} / {load.backpressure}"))
        if load.who_has:
            rows.append(
                (
                    f"{name}: who-has in service p50 / p99 ms",
                    f"{who['service_p50_ms']:.1f} / {who['service_p99_ms']:.1f}",
                )
            )
            if who["work_p50_ms"] is not None:
                rows.append(
                    (
                        f"{name}: of it computing the answer p50 / p99 ms",
                        f"{who['work_p50_ms']:.1f} / {who['work_p99_ms']:.1f}",
                    )
                )
            rows.append(
                (
                    f"{name}: who-has at client p50 / p99 ms",
                    f"{who['client_p50_ms']:.1f} / {who['client_p99_ms']:.1f}",
                )
            )
            rows.append((f"{name}: who-has requests/s", who["per_s"]))
            rows.append(
                (f"{name}: service CPU ms per who-has answer", who["service_cpu_ms_per_answer"])
            )
        if rate is not None:
            rows.append((f"{name}: ingest events/s", rate))
            rows.append((f"{name}: ingest / emit", phase["ingest_vs_emit"]))
            rows.append((f"{name}: ingest / emit --workers 0", phase["ingest_vs_emit_one_process"]))
    rows.append(("emit --file events/s (all ingested events)", emit_rate))
    rows.append(("emit --file --workers 0 events/s", emit_rate_one))
    rows.append(("summaries still to fold when the phases began", str(still_waiting)))
    rows.append(("load average before / after", f"{load_before} / {load_after}"))
    result["errors"] = len(errors)
    print(table(rows, ["figure", "value"]))
    print(f"results: {save('serve', result)}")
    print(json.dumps({"errors": errors[:3]}) if errors else "zero errors")


if __name__ == "__main__":
    main()
