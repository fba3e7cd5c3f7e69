"""``lineage serve``'s who-has in one process: the service's ASGI application (middleware,
FastAPI, the answer) called directly, one request after the other, no HTTP and no threads.

What one answer costs the service's CPU, without the queue, the GIL's hand-offs and the
network that ``serve.py`` measures beside it. The endpoint's thread hand-off is made a
direct call (here only), so that ``--profile`` sees the whole answer in one thread.

1. Prepare (or reuse) a home with the generated events (``generate.py``), copy it, open the
   service's runtime on it (catch-up and the warm identity graph, as ``lineage serve`` does)
   and build its application as ``lineage serve`` does.
2. ``--warmup`` requests, then ``--requests`` who-has about random subjects, timed: CPU
   (``time.process_time``, every thread of the process, the follower's polls included) and
   wall per answer.
3. ``--profile``: the timed requests under ``cProfile`` (cumulative and own time);
   ``--answers FILE``: every answer as JSON lines, to compare two versions' answers.

    python bench/serve_inprocess.py --events 200000 --subjects 20000 --requests 400
    python bench/serve_inprocess.py --events 200000 --subjects 20000 --profile
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import prepared_home, save, table, workdir
from generate import email_of


async def _direct(func: Any, *args: Any, **kw: Any) -> Any:
    return func(*args, **kw)


def _inline_threads() -> None:
    """Run the endpoints' thread hand-off as a direct call (this process only)."""
    import anyio.to_thread
    import fastapi.routing
    import starlette.concurrency

    import lineage.serve.api

    anyio.to_thread.run_sync = _direct  # type: ignore[assignment]
    for module in (starlette.concurrency, fastapi.routing, lineage.serve.api):
        module.run_in_threadpool = _direct  # type: ignore[attr-defined]


def _application(home: Path) -> tuple[Any, Any, str]:
    """The runtime and the application as ``lineage serve`` builds them, and a token."""
    from lineage.config import resolve
    from lineage.serve.api import create_api
    from lineage.serve.http import AccessLog, Limits
    from lineage.serve.runtime import Runtime, settle
    from lineage.serve.tokens import TokenFile, Verifier
    from lineage.serve.web import Dispatch, create_web

    runtime = Runtime(resolve(home), None, 2.0, 0, None)
    runtime.follower.catch_up()
    # No summary steps: the follower takes them only while no request is in flight, which
    # under load is never, but between these sequential requests would be always (and its
    # CPU time counted as the answers').
    runtime.follower.catalog = None
    runtime.follower.start()
    _, secret = TokenFile(home).create("admin", None)
    verifier = Verifier(home)
    api = create_api(runtime, verifier)
    wrapped = Limits(
        Dispatch(api, create_web(runtime, verifier)),
        max_body=64 * 1024,
        large_body_paths=frozenset({"/v1/events"}),
        max_large_body=100 * 1024 * 1024,
        body_timeout=10.0,
    )
    # The access log as the service writes it, into nothing.
    access = logging.getLogger("lineage.access")
    access.addHandler(logging.NullHandler())
    access.setLevel(logging.INFO)
    access.propagate = False
    settle()
    return runtime, AccessLog(wrapped), secret


async def _ask(app: Any, secret: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/who-has",
        "raw_path": b"/v1/who-has",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {secret}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if given:
            return {"type": "http.disconnect"}
        given = True
        return {"type": "http.request", "body": data, "more_body": False}

    out: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    await app(scope, receive, send)
    if out[0]["status"] != 200:
        raise SystemExit(f"who-has answered {out[0]['status']}: {out[1].get('body')!r}")
    return b"".join(m.get("body", b"") for m in out[1:])


async def _run(app: Any, secret: str, bodies: list[dict[str, Any]], args: Any) -> dict[str, Any]:
    for body in bodies[: args.warmup]:
        await _ask(app, secret, body)
    timed = bodies[args.warmup :]
    answers = []
    profile = None
    if args.profile:
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    cpu, began = time.process_time(), time.perf_counter()
    for body in timed:
        answers.append(await _ask(app, secret, body))
    cpu, seconds = time.process_time() - cpu, time.perf_counter() - began
    if profile is not None:
        import pstats

        profile.disable()
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
    if args.answers:
        args.answers.write_bytes(b"".join(a + b"\n" for a in answers))
    return {
        "requests": len(timed),
        "cpu_ms_per_answer": cpu * 1000 / len(timed),
        "wall_ms_per_answer": seconds * 1000 / len(timed),
    }


def _uptime() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=400, help="timed who-has requests")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--as-of", help="every request's as_of (default: now)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--profile", action="store_true", help="print cProfile's statistics")
    parser.add_argument("--answers", type=Path, help="write every timed answer here (JSONL)")
    parser.add_argument("--workdir", type=Path, help="generated data (default: temp dir)")
    args = parser.parse_args(argv)

    base = workdir(args.workdir)
    source, _ = prepared_home(base, args.events, args.subjects, args.seed)
    home = base / "serve-inprocess-home"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(source, home)
    _inline_threads()
    runtime, app, secret = _application(home)
    rng = random.Random(args.seed + 7)
    bodies: list[dict[str, Any]] = []
    for _ in range(args.warmup + args.requests):
        body: dict[str, Any] = {"identifier": email_of(rng.randrange(args.subjects))}
        if args.as_of:
            body["as_of"] = args.as_of
        bodies.append(body)
    load_before = _uptime()
    try:
        result = asyncio.run(_run(app, secret, bodies, args))
    finally:
        runtime.close()
        shutil.rmtree(home, ignore_errors=True)
    result.update(
        events=args.events,
        subjects=args.subjects,
        load_average_before=load_before,
        load_average_after=_uptime(),
    )
    print(table(list(result.items()), ["figure", "value"]))
    print(f"results: {save('serve_inprocess', result)}")


if __name__ == "__main__":
    main()
