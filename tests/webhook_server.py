"""``lineage connector serve`` as a real process on a free loopback port, for tests."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from tests.conftest import Lineage
from tests.kafka_broker import free_port


@dataclass
class Served:
    url: str
    port: int
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def serve_webhooks(lineage: Lineage, env: dict[str, str], *args: str) -> Iterator[Served]:
    """Run the receiver with the connectors' settings in ``env`` until the block ends."""
    port = free_port()
    process = subprocess.Popen(
        lineage.command("connector", "serve", "--port", str(port), *args),
        env={**lineage.process_env(), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the webhook receiver did not start") from None
                time.sleep(0.1)
        yield Served(url, port, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
