"""``lineage serve`` under load: concurrent clients mixing ingest and who-has.

1. Prepare (or reuse) a home with the generated events (``generate.py``), copy it, and start
   ``lineage serve`` on it (its start-up catch-up is timed, not part of the result). With
   ``--audit-first``, ``lineage audit`` builds the copy's projection and folds its summaries
   first, so that the service starts as one that has run a while (no summary steps between
   the open loop's requests).
2. Phases of ``--duration`` seconds each, one after the other against the same service
   (``--phases``, default all four):

   - ``mixed``: ``--clients`` concurrent clients (asyncio + httpx in this process);
     ``--ingest-clients`` of them post batches of ``--batch`` JSON lines (new events from
     the same generator, another seed) to ``POST /v1/events``, the others ask
     ``POST /v1/who-has`` about random subjects;
   - ``ingest``: the ingest clients alone;
   - ``whohas``: the who-has clients alone;
   - ``open``: the same clients at a fixed rate (below), once per ``--rate``.

   The first three are closed loops: each client sends its next request as soon as the
   last is answered. They measure capacity (answers/s, events/s), not latency: with no
   pause between requests the queue is always full, and by Little's law a client's latency
   is clients / throughput (16 clients at 250 answers/s: 64 ms, however fast one answer).
   A closed-loop client also waits for a slow answer before it sends the next request, so
   a stall delays the requests that would have come meanwhile, and they are never counted
   as slow ("coordinated omission").

   ``open`` measures latency at a stated load, as wrk2 does: the who-has clients together
   send ``--rate`` requests per second (each client every ``clients / rate`` seconds, their
   starts spread evenly), the ingest clients ``--ingest-rate`` events per second in their
   batches; each request has an intended send time on that schedule, and its latency runs
   from that time, not from when it was sent. A client still waiting for an answer when its
   next request is due sends it once the answer comes, late: the time it was held back
   counts in its latency. The default rate is half the capacity the ``whohas`` phase just
   measured (``50%``). The result gives the offered and the achieved rate, the latency at
   the client (from the intended time) and in the service, how late this process's own
   event loop sent requests that were not held back (the clients share the machine), and,
   as the phase's baseline, how late a process that only sleeps 1 ms at a time woke
   meanwhile (``HICCUP``): the machine's own delay, which every latency includes.

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
    python bench/serve.py --events 200000 --subjects 20000 --phases whohas,open --rate 25%,50%
    python bench/serve.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    admin_token,
    child_env,
    free_port,
    lineage_command,
    measured,
    percentile,
    prepared_home,
    save,
    table,
    wait_healthy,
    workdir,
)
from generate import email_of, write_jsonl

# More JSON lines per second than an ingest phase has taken on two cores (about 13,000).
LINES_PER_SECOND = 25_000
# The service's who-has aim (issue "lineage serve"): p99 under this, at a stated load.
AIM_P99_MS = 15.0
ACCESS = re.compile(r"POST /v1/who-has 200 ([0-9.]+)ms token=\S+(?: work=([0-9.]+)ms)?")


def _copy_home(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(
        source, target, ignore=shutil.ignore_patterns("projection*", "*.follower", "*.readers")
    )


@dataclass
class Paced:
    """One open-loop client's record: latencies from the intended send times (ms), how
    late its requests went out when it was not held back by an unanswered one (ms), and
    how many it sent."""

    latencies: list[float] = field(default_factory=list)
    late: list[float] = field(default_factory=list)
    sent: int = 0


async def paced(
    send: Callable[[], Awaitable[Any]], interval: float, first: float, until: float, into: Paced
) -> None:
    """Call ``send`` every ``interval`` seconds from ``first`` (``time.perf_counter``) until
    ``until``, one call at a time, each timed from when it was due (wrk2's way): a call
    that is due while the one before is unanswered goes out when that answer comes, and the
    wait counts in its latency. Nothing is skipped to catch up."""
    answered = first
    for k in itertools.count():
        due = first + k * interval
        if due >= until:
            break
        now = time.perf_counter()
        if now < due:
            await asyncio.sleep(due - now)
        sent = time.perf_counter()
        if answered <= due:  # not held back: any lateness is this process's event loop
            into.late.append((sent - due) * 1000)
        into.sent += 1
        await send()
        answered = time.perf_counter()
        into.latencies.append((answered - due) * 1000)


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
        self.paced_who_has: list[Paced] = []
        self.offered: float | None = None  # open loop: who-has requests/s
        self.offered_as: str | None = None  # as given to --rate
        self.hiccups: dict[str, float] | None = None  # the machine's, meanwhile (HICCUP)
        self.paced_ingest: list[Paced] = []

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

    async def _ingest_once(self, client: httpx.AsyncClient) -> None:
        if self.next_batch >= len(self.batches):
            self.errors.append("ingest: no batches left (generate more lines)")
            return
        index = self.next_batch
        self.next_batch += 1
        headers = {"Content-Type": "application/x-ndjson"}
        answer = await self._post(
            client, "/v1/events", content=self.batches[index], headers=headers
        )
        if answer.status_code == 200:
            self.ingested.append(index)
            self.appended += answer.json()["appended"]
        else:
            self.errors.append(f"ingest {answer.status_code}: {answer.text[:200]}")

    async def _ask_once(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        body = {"identifier": email_of(rng.randrange(self.subjects))}
        answer = await self._post(client, "/v1/who-has", json=body)
        if answer.status_code != 200 or "holders" not in answer.json():
            self.errors.append(f"who-has {answer.status_code}: {answer.text[:200]}")

    async def run_open(
        self, clients: int, ingesters: int, duration: float, rate: float, batch_rate: float
    ) -> float:
        """The open loop: ``rate`` who-has requests/s over the who-has clients, ``batch_rate``
        ingest batches/s over the ingest clients, each client's starts spread evenly."""
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        headers = {"Authorization": f"Bearer {self.token}"}
        askers = clients - ingesters
        self.paced_who_has = [Paced() for _ in range(askers)]
        self.paced_ingest = [Paced() for _ in range(ingesters if batch_rate > 0 else 0)]
        async with httpx.AsyncClient(
            base_url=self.url, headers=headers, limits=limits, timeout=60
        ) as client:
            # Every connection opened before the clock starts (not counted in a latency).
            await asyncio.gather(*(client.get("/v1/health") for _ in range(clients)))
            began = time.perf_counter()
            start = began + 0.2
            until = start + duration
            tasks = []
            if askers and rate > 0:
                every = askers / rate
                for n, into in enumerate(self.paced_who_has):
                    tasks.append(
                        paced(
                            partial(self._ask_once, client, random.Random(n)),
                            every,
                            start + every * n / askers,
                            until,
                            into,
                        )
                    )
            if self.paced_ingest:
                every = len(self.paced_ingest) / batch_rate
                for n, into in enumerate(self.paced_ingest):
                    tasks.append(
                        paced(
                            partial(self._ingest_once, client),
                            every,
                            start + every * n / len(self.paced_ingest),
                            until,
                            into,
                        )
                    )
            await asyncio.gather(*tasks)
            self.who_has = [ms for into in self.paced_who_has for ms in into.latencies]
            self.ingest_ms = [ms for into in self.paced_ingest for ms in into.latencies]
            # The requests due in the phase went out and were answered by now (a late one
            # may have run past its end: the achieved rate is over this time).
            return time.perf_counter() - start

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


PHASES = ("mixed", "ingest", "whohas", "open")

# jHiccup's idea: a process that only sleeps 1 ms at a time, and how much longer than that
# it slept (ms). What it sees is the machine's own delay in running a process that wants
# to (other processes on the cores, the kernel), which any answer's latency includes.
HICCUP = """
import json, sys, time
until = time.perf_counter() + float(sys.argv[1])
late = []
while (now := time.perf_counter()) < until:
    time.sleep(0.001)
    late.append((time.perf_counter() - now - 0.001) * 1000)
late.sort()
n = len(late)
print(json.dumps({"p50": late[n // 2], "p99": late[int(n * 0.99)], "max": late[-1]}))
"""


def _hiccups(duration: float) -> subprocess.Popen[str]:
    """The hiccup meter above, for ``duration`` seconds (its result: ``_hiccup_result``)."""
    return subprocess.Popen(
        [sys.executable, "-c", HICCUP, str(duration)], stdout=subprocess.PIPE, text=True
    )


def _hiccup_result(meter: subprocess.Popen[str]) -> dict[str, float]:
    out, _ = meter.communicate(timeout=120)
    result: dict[str, float] = json.loads(out)
    return result


def _rates(text: str) -> list[str]:
    """``--rate``: who-has requests per second, or a share of the measured capacity (``50%``)."""
    rates = [r.strip() for r in text.split(",") if r.strip()]
    for r in rates:
        try:
            value = float(r[:-1] if r.endswith("%") else r)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{r!r} is neither requests/s nor a share like 50%"
            ) from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{r!r}: a rate must be above 0")
    if not rates:
        raise argparse.ArgumentTypeError("give at least one rate")
    return rates


def _offered(rate: str, capacity: float | None) -> float:
    """Requests/s for a ``--rate`` item, given the ``whohas`` phase's answers/s."""
    if not rate.endswith("%"):
        return float(rate)
    assert capacity is not None  # checked before the service starts
    return capacity * float(rate[:-1]) / 100


def _phase(
    url: str,
    token: str,
    batches: list[str],
    first: int,
    args: argparse.Namespace,
    name: str,
    rate: float | None = None,
) -> Load:
    clients, ingesters = {
        "mixed": (args.clients, args.ingest_clients),
        "ingest": (args.ingest_clients, args.ingest_clients),
        "whohas": (args.clients - args.ingest_clients, 0),
        "open": (args.clients, args.ingest_clients),
    }[name]
    load = Load(url, token, batches, args.subjects, first)
    if rate is None:
        load.seconds = asyncio.run(load.run(clients, ingesters, args.duration))
    else:
        batch_rate = args.ingest_rate / args.batch
        load.seconds = asyncio.run(
            load.run_open(clients, ingesters, args.duration, rate, batch_rate)
        )
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
        help="comma-separated, in order: mixed, ingest (ingest clients alone), whohas, "
        "open (at --rate)",
    )
    parser.add_argument(
        "--rate",
        type=_rates,
        default=["50%"],
        help="open phase: who-has requests/s over all who-has clients, or a share of the "
        "capacity the whohas phase measured before it (e.g. 50%%); comma-separated: one "
        "open phase per rate (default 50%%)",
    )
    parser.add_argument(
        "--ingest-rate",
        type=float,
        default=1000.0,
        help="open phase: events/s the ingest clients post, in --batch batches (default "
        "1000; 0: who-has only)",
    )
    parser.add_argument(
        "--serve-args",
        default="",
        help="more options for lineage serve, e.g. '--ingest-workers 0'",
    )
    parser.add_argument(
        "--audit-first",
        action="store_true",
        help="run lineage audit on the copied home before the service starts: the "
        "projection built and its summaries folded, as in a service that has run a while",
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
    shares = any(r.endswith("%") for r in args.rate)
    if "open" in phases and shares and "whohas" not in phases[: phases.index("open")]:
        parser.error("--rate as a share of capacity needs the whohas phase before open")
    if args.ingest_rate < 0:
        parser.error("--ingest-rate: events/s must be 0 or more")

    base = workdir(args.workdir)
    source, _ = prepared_home(base, args.events, args.subjects, args.seed)
    # New events for the same subjects (another seed): enough for every ingesting phase.
    lines_path = base / f"serve-ingest-{args.subjects}-{args.seed}.jsonl"
    # Enough that no ingesting phase runs out of lines before its end (an exhausted phase
    # reports a rate over its whole duration, and the next one ingests nothing).
    ingesting = sum(len(args.rate) if p == "open" else 1 for p in phases if p != "whohas")
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
    token = admin_token(home, env)
    audit_s = None
    if args.audit_first:
        # The projection built and every summary folded (worker processes), so that the
        # service starts as one that has run a while: nothing left to fold between requests.
        began = time.perf_counter()
        audited = subprocess.run(
            [*lineage, "audit", "--format", "json"], capture_output=True, text=True, env=env
        )
        if audited.returncode not in (0, 1):  # 1: findings (the generated data has some)
            raise SystemExit(f"lineage audit failed:\n{audited.stderr}")
        audit_s = time.perf_counter() - began
    port = free_port()
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
        wait_healthy(url, server, log_path)
        startup = time.perf_counter() - started
        still_waiting = _summaries_folded(url, token, server)
        seen = 0
        first = 0
        runs = [
            (name, rate) for name in phases for rate in (args.rate if name == "open" else [None])
        ]
        for kind, share in runs:
            rate = None
            if share is not None:
                whohas = done.get("whohas")
                capacity = len(whohas.who_has) / whohas.seconds if whohas else None
                rate = _offered(share, capacity)
            name = kind if rate is None else f"open {rate:.0f}/s"
            cpu_before = _cpu_seconds(server.pid)
            meter = _hiccups(args.duration) if rate is not None else None
            load = _phase(url, token, batches, first, args, kind, rate)
            service_cpu[name] = _cpu_seconds(server.pid) - cpu_before
            if meter is not None:
                load.hiccups = _hiccup_result(meter)
            first = load.next_batch
            load.offered = rate
            load.offered_as = share
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

    def who_has_per_s(load: Load) -> float:
        return len(load.who_has) / load.seconds

    result: dict[str, Any] = {
        "events": args.events,
        "subjects": args.subjects,
        "clients": args.clients,
        "ingest_clients": args.ingest_clients,
        "batch_lines": args.batch,
        "serve_args": args.serve_args,
        "duration_s": args.duration,
        "startup_s": startup,
        "audit_first_s": audit_s,
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
                "per_s": who_has_per_s(load),
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
        if load.offered is not None:
            late = [ms for into in load.paced_who_has + load.paced_ingest for ms in into.late]
            phase["open_loop"] = {
                "rate_given": load.offered_as,
                "who_has_offered_per_s": load.offered,
                "who_has_achieved_per_s": who_has_per_s(load),
                "who_has_sent": sum(into.sent for into in load.paced_who_has),
                "ingest_offered_events_per_s": args.ingest_rate if load.paced_ingest else 0.0,
                # Latencies run from the intended send time (see the module docstring).
                "client_p50_ms": pct(load.who_has, 50),
                "client_p99_ms": pct(load.who_has, 99),
                "client_max_ms": max(load.who_has) if load.who_has else None,
                # How late this process sent requests that were not held back.
                "send_late_p99_ms": pct(late, 99),
                # A process that only sleeps 1 ms at a time, meanwhile: how much later it
                # woke (the machine's own delay, in every latency above).
                "machine_hiccup_ms": load.hiccups,
                "aim_p99_ms": AIM_P99_MS,
            }
        result["phases"][name] = phase
        errors += load.errors
        who: dict[str, Any] = phase["who_has"]
        rows.append((f"{name}: clients (ingest)", f"{load.clients} ({load.ingesters})"))
        if load.offered is not None:
            given = (
                f" ({load.offered_as} of the whohas phase)"
                if load.offered_as and load.offered_as.endswith("%")
                else ""
            )
            rows.append(
                (
                    f"{name}: who-has offered / achieved per s{given}",
                    f"{load.offered:.1f} / {who_has_per_s(load):.1f}",
                )
            )
            rows.append(
                (
                    f"{name}: ingest offered / achieved events/s",
                    f"{phase['open_loop']['ingest_offered_events_per_s']:,.0f} / {rate or 0:,.0f}",
                )
            )
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
            since = " (from the intended send time)" if load.offered is not None else ""
            rows.append(
                (
                    f"{name}: who-has at client p50 / p99 ms{since}",
                    f"{who['client_p50_ms']:.1f} / {who['client_p99_ms']:.1f}",
                )
            )
            if load.offered is not None:
                open_loop = phase["open_loop"]
                late = open_loop["send_late_p99_ms"]
                rows.append((f"{name}: this process sent late, p99 ms", late))
                if load.hiccups:
                    rows.append(
                        (
                            f"{name}: machine hiccup (1 ms sleeps woken late) p50 / p99 / max ms",
                            " / ".join(f"{load.hiccups[k]:.1f}" for k in ("p50", "p99", "max")),
                        )
                    )
                met = [
                    where
                    for where, p99 in (
                        ("service", who["service_p99_ms"]),
                        ("client", who["client_p99_ms"]),
                    )
                    if p99 is not None and p99 < AIM_P99_MS
                ]
                rows.append(
                    (
                        f"{name}: who-has p99 < {AIM_P99_MS:g} ms",
                        f"met ({', '.join(met)})"
                        if len(met) == 2
                        else f"met in the {met[0]} only"
                        if met
                        else "not met",
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
    if audit_s is not None:
        rows.append(("lineage audit before the service started, s", audit_s))
    rows.append(("summaries still to fold when the phases began", str(still_waiting)))
    rows.append(("load average before / after", f"{load_before} / {load_after}"))
    result["errors"] = len(errors)
    print(table(rows, ["figure", "value"]))
    print(f"results: {save('serve', result)}")
    print(json.dumps({"errors": errors[:3]}) if errors else "zero errors")


if __name__ == "__main__":
    main()
