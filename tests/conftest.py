"""Shared fixtures: a lineage home, the CLI in-process and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from lineage.cli.main import cli
from lineage.config import KEY_ENV
from tests.kafka_broker import Broker, broker


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LINEAGE_") and name != "LINEAGE_TEST_KAFKA":
            monkeypatch.delenv(name, raising=False)


class Lineage:
    """Runs ``lineage`` against one home."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        # Settings given as LINEAGE_* environment (a Kafka home), for in-process and real runs.
        self.env = env or {}

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return CliRunner(env=self.env).invoke(cli, ["--home", str(self.home), *args], input=input)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--format", "json").stdout)

    def emit(self, events: Iterable[dict[str, Any]], name: str = "events.jsonl") -> Result:
        path = self.home.parent / name
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        return self("emit", "--file", str(path))

    def process(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        """A real ``lineage`` process (for signals, locks and start-up time)."""
        return subprocess.run(
            self.command(*args), capture_output=True, text=True, env=self.process_env(), **kw
        )

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "lineage.cli.main", "--home", str(self.home), *args]

    def process_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
        env.update(self.env)
        return env


@pytest.fixture
def lineage(tmp_path: Path) -> Lineage:
    runner = Lineage(tmp_path / "home")
    runner.ok("init")
    return runner


def collected(email: str = "jane@example.com", **over: Any) -> dict[str, Any]:
    event = {
        "event_type": "DataCollected",
        "occurred_at": "2024-01-15T09:30:00Z",
        "source": "webshop",
        "subject": {"email": email},
        "categories": ["user.name", "user.contact.email"],
        "system": "webshop-db",
        "purpose": "essential.service",
        "legal_basis": "contract",
        "data_subject": "customer",
        "retention": "P2Y",
    }
    event.update(over)
    return event


def shared(email: str = "jane@example.com", **over: Any) -> dict[str, Any]:
    event = {
        "event_type": "DataShared",
        "occurred_at": "2024-01-15T09:35:00Z",
        "subject": {"email": email},
        "categories": ["user.name"],
        "from_holder": "webshop-db",
        "recipient": "e-conomic",
        "recipient_role": "processor",
        "recipient_country": "DK",
        "purpose": "essential.legal_obligation",
        "legal_basis": "legal_obligation",
        "retention": "P5Y",
    }
    event.update(over)
    return event


def transferred(email: str = "jane@example.com", **over: Any) -> dict[str, Any]:
    event = {
        "event_type": "DataTransferred",
        "occurred_at": "2024-01-16T10:00:00Z",
        "subject": {"email": email},
        "categories": ["user.contact.email"],
        "from_holder": "webshop-db",
        "recipient": "mailchimp",
        "recipient_role": "processor",
        "destination_country": "US",
        "mechanism": "dpf",
        "purpose": "marketing.communications.email",
        "legal_basis": "consent",
    }
    event.update(over)
    return event


def erased(holder: str, email: str = "jane@example.com", **over: Any) -> dict[str, Any]:
    event = {
        "event_type": "DataErased",
        "occurred_at": "2024-03-01T00:00:00Z",
        "subject": {"email": email},
        "holder": holder,
    }
    event.update(over)
    return event


def configure_erasers(home: Path, url: str, holders: Iterable[str], timeout: float = 5) -> None:
    """Point the given holders at a webhook eraser (tests.erasure_api.HolderAPI)."""
    text = "".join(
        f'[{h}]\neraser = "webhook"\nurl = "{url}"\ntimeout = {timeout}\n\n' for h in holders
    )
    (home / "erasers.toml").write_text(text)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[Broker]:
    with broker() as started:
        yield started


@pytest.fixture
def kafka_topic() -> str:
    """Each test its own topic."""
    return f"lineage-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def kafka_home(tmp_path: Path, kafka_broker: Broker, kafka_topic: str) -> Lineage:
    """A lineage home on its own Kafka topic (4 partitions), initialised."""
    runner = Lineage(
        tmp_path / "kafka-home",
        env={
            "LINEAGE_LOG": "kafka",
            "LINEAGE_KAFKA_BOOTSTRAP": kafka_broker.address,
            "LINEAGE_KAFKA_TOPIC": kafka_topic,
            "LINEAGE_KAFKA_PARTITIONS": "4",
            "LINEAGE_KAFKA_TIMEOUT": "10",
        },
    )
    runner.ok("init")
    return runner
