"""Fixtures for connector tests: the fake vendor API on 127.0.0.1 and a sink."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from lineage.demo import fakes
from lineage.demo.fakeapi import FakeApi
from lineage.edge.identity import Pseudonymizer
from lineage.events.model import Event
from lineage.ingest.base import Connector
from lineage.ingest.http import RetryPolicy
from lineage.ingest.runner import open_connector, run
from lineage.ingest.state import StateStore
from lineage.ingest.sync import SyncResult

PSEUDO = Pseudonymizer(b"test-key-0123456789abcdef")
FAST = RetryPolicy(attempts=3, backoff=0.01, max_wait=5)


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[Event]] = []

    def __call__(self, events: Sequence[Event]) -> None:
        self.batches.append(list(events))

    @property
    def events(self) -> list[Event]:
        return [e for b in self.batches for e in b]


@pytest.fixture
def vendors() -> fakes.Vendors:
    return fakes.Vendors.recorded()


@pytest.fixture
def fake(vendors: fakes.Vendors) -> Iterator[FakeApi]:
    api = FakeApi()
    vendors.mount(api)
    with api:
        yield api


class Harness:
    def __init__(self, fake: FakeApi, tmp: Path) -> None:
        from lineage.demo.connectors import demo_settings

        self.fake = fake
        self.home = tmp
        self.settings = demo_settings(fake.url)
        self.store = StateStore(tmp / "state")
        self.sink = Sink()

    def connector(self, name: str, **over: Any) -> Connector:
        return open_connector(name, None, {**self.settings[name], **over})

    def run(self, name: str, *resources: str, **kw: Any) -> list[SyncResult]:
        over = kw.pop("config", {})
        kw.setdefault("retry", FAST)
        return run(
            self.connector(name, **over), PSEUDO, self.sink, self.store,
            resources=resources, **kw,
        )  # fmt: skip


@pytest.fixture
def harness(fake: FakeApi, tmp_path: Path) -> Harness:
    return Harness(fake, tmp_path)
