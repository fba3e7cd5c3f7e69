"""bench/serve.py's open loop: requests go out on their schedule, and each latency runs from
when the request was due, so a stall in the server shows in every request it held back
(not only in the one it delayed, as a closed loop would count it)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

from serve import Paced, _rates, paced  # noqa: E402

STALL = 0.5  # seconds the server holds one request
INTERVAL = 0.02  # 50 requests a second
DURATION = 1.01  # 51 requests due: at 0, 0.02, ..., 1.0 s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _run_against_stalling_server() -> Paced:
    seen = 0

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal seen
        if scope["type"] != "http":
            return
        seen += 1
        if seen == 10:  # one slow answer, a fifth of the way in
            await asyncio.sleep(STALL)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    into = Paced()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await client.get("/warm")  # the connection, before the clock starts
            seen = 0
            first = time.perf_counter() + 0.05

            async def send() -> None:
                assert (await client.get("/")).status_code == 200

            await paced(send, INTERVAL, first, first + DURATION, into)
    finally:
        server.should_exit = True
        await serving
    return into


def test_open_loop_counts_the_wait_of_every_request_a_stall_held_back() -> None:
    into = asyncio.run(_run_against_stalling_server())
    # Every request due in the phase went out: none skipped to catch up.
    assert into.sent == 51
    assert len(into.latencies) == into.sent
    # Requests due during the first half of the stall waited at least the other half,
    # counted from when they were due; a closed loop would count one slow request.
    held = [ms for ms in into.latencies if ms >= STALL * 1000 / 2]
    assert len(held) >= (STALL / 2) / INTERVAL - 2
    # Lateness of the sender itself is taken only for requests not held back.
    assert len(into.late) <= into.sent - len(held)


def test_rate_accepts_requests_per_second_or_a_share() -> None:
    assert _rates("25%, 50%,120") == ["25%", "50%", "120"]


@pytest.mark.parametrize("given", ["fast", "0", "-5%", ","])
def test_rate_refuses_what_is_no_rate(given: str) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError):
        _rates(given)


def test_a_share_of_capacity_needs_the_whohas_phase_first() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "serve.py"), "--phases", "open,whohas", "--rate", "50%"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "needs the whohas phase before open" in done.stderr.strip().splitlines()[-1]
