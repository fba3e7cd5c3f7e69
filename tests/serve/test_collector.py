"""Once the service has settled, the garbage collector starts no full pass by itself (each
stopped every request for as long as it walked the oldest generation); the follower runs
them, at a quiet moment or after a bounded time under load."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lineage.config import resolve
from lineage.serve.runtime import NEVER, SWITCH_INTERVAL, Collector, Runtime, settle
from tests.serve.conftest import cli


@pytest.fixture
def settled() -> Iterator[list[int]]:
    """``settle()`` in this process, undone after; the generations of the collections that
    ran meanwhile."""
    thresholds = gc.get_threshold()
    interval = sys.getswitchinterval()
    ran: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            ran.append(info["generation"])

    settle()
    gc.callbacks.append(count)
    try:
        yield ran
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        sys.setswitchinterval(interval)


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_no_full_collection_starts_by_itself_after_settle(settled: list[int]) -> None:
    assert gc.get_threshold()[2] == NEVER
    assert sys.getswitchinterval() == SWITCH_INTERVAL
    young, middle, _ = gc.get_threshold()
    # Enough surviving allocations for many generation-1 passes: before settle, each ten of
    # them started a full one.
    kept = [Cycle() for _ in range(young * middle * 30)]
    assert settled.count(1) >= 20
    assert 2 not in settled
    del kept
    assert Collector(quiet_every=0).maybe(lambda: True)
    assert settled[-1] == 2


def test_a_collection_when_quiet_and_at_the_latest_after_every() -> None:
    collector = Collector(quiet_every=10, every=60)

    def unasked() -> bool:
        raise AssertionError("quiet asked before quiet_every passed")

    collector.last = time.monotonic() - 5
    assert not collector.maybe(unasked)
    collector.last = time.monotonic() - 11
    assert not collector.maybe(lambda: False)  # busy: not yet
    assert collector.maybe(lambda: True)  # quiet: now
    assert collector.runs == 1
    assert time.monotonic() - collector.last < 1
    collector.last = time.monotonic() - 61
    assert collector.maybe(lambda: False)  # busy for a minute: anyway
    assert collector.runs == 2


def test_the_follower_runs_the_collections(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    runtime = Runtime(resolve(home))
    try:
        runtime.follower.collector = Collector(quiet_every=0, every=0)
        runtime.follower.idle = 0.01
        runtime.follower.start()
        deadline = time.monotonic() + 10
        while runtime.follower.collector.runs < 3:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        runtime.close()
