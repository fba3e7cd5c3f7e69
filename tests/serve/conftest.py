"""``lineage serve`` as a real process on 127.0.0.1, with tokens of every scope."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lineage.config import KEY_ENV


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(home: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lineage.cli.main", "--home", str(home), *args],
        capture_output=True,
        text=True,
        input=input,
        env=_env(),
        check=False,
    )


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_") or k == KEY_ENV}


class Server:
    """One ``lineage serve`` process; ``tokens`` by scope."""

    def __init__(self, home: Path, *extra: str) -> None:
        self.home = home
        self.extra = extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tokens: dict[str, str] = {}
        self.proc: subprocess.Popen[str] | None = None
        self.log = home.parent / f"serve-{self.port}.log"

    def token(self, scope: str) -> str:
        if scope not in self.tokens:
            done = cli(self.home, "token", "create", "--scope", scope, "--format", "json")
            assert done.returncode == 0, done.stderr
            self.tokens[scope] = json.loads(done.stdout)["token"]
        return self.tokens[scope]

    def start(self) -> Server:
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "lineage.cli.main",
                    "--home",
                    str(self.home),
                    "serve",
                    "--port",
                    str(self.port),
                    *self.extra,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                env=_env(),
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"lineage serve did not start:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(20)
        self.proc = None

    def client(self, scope: str | None = "admin", **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(scope)}"} if scope else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kw)

    def workers(self) -> list[int]:
        """The service's ingest workers: its spawned children (not the resource tracker)."""
        assert self.proc is not None
        children: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            children += [int(p) for p in (task / "children").read_text().split()]
        found = []
        for pid in children:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            if b"spawn_main" in cmdline:
                found.append(pid)
        return found

    def wait_projected(self, client: httpx.Client, timeout: float = 10) -> dict[str, Any]:
        """The status once the follower has projected everything the log holds."""
        deadline = time.monotonic() + timeout
        while True:
            status: dict[str, Any] = client.get("/v1/status").json()
            if status["projection"]["pending"] == 0 or time.monotonic() > deadline:
                return status
            time.sleep(0.02)


def started(home: Path, *extra: str) -> Iterator[Server]:
    server = Server(home, *extra)
    for scope in ("read", "ingest", "rights", "admin"):
        server.token(scope)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("serve") / "home"
    done = cli(home, "init")
    assert done.returncode == 0, done.stderr
    return home
