"""Reading and decoding in worker processes (lineage.projection.workers), against a real
broker: the same projection as in one process, and a worker that dies fails the run without
moving any position past the last commit."""

from __future__ import annotations

import multiprocessing
import os
import signal
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lineage.codec import default_codec
from lineage.errors import ProjectionError
from lineage.log.base import LogRecord
from lineage.log.kafka import KafkaLog
from lineage.projection import projector, workers
from lineage.projection.projector import ProjectionResult, Projector
from lineage.projection.store import Store
from tests.kafka_broker import Broker

pytestmark = pytest.mark.kafka


def encoded(n: int) -> list[LogRecord]:
    from lineage.edge.identity import Pseudonymizer
    from lineage.edge.jsonl import EventParser
    from tests.conftest import collected

    parser = EventParser(Pseudonymizer(b"w" * 32), default_source="test")
    codec = default_codec()
    out = []
    for i in range(n):
        event = parser.parse_object(collected(f"p{i % 40}@example.com", system=f"s{i}"), "test")[0]
        out.append(LogRecord(codec.encode(event), event.subject_ref.encode()))
    return out


@pytest.fixture
def log(kafka_broker: Broker) -> Any:
    topic = f"lineage-test-{uuid.uuid4().hex[:12]}"
    opened = KafkaLog(kafka_broker.address, topic, create=True, partitions=4, timeout=10)
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def _workers_for_small_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    # These logs are small; the projector would otherwise decode them in-process.
    monkeypatch.setattr(projector, "PARALLEL_MIN_RECORDS", 0)


def project(
    log: KafkaLog,
    path: Path,
    count: int,
    on_batch: Callable[[ProjectionResult], None] | None = None,
    **kw: Any,
) -> ProjectionResult:
    with Store(path) as store:
        return Projector(store, log, default_codec(), workers=count, **kw).run(on_batch=on_batch)


def rows(path: Path) -> tuple[list[Any], int, dict[int, int]]:
    with Store(path) as store:
        events = store.con.execute(
            "SELECT event_id, log_partition, log_offset FROM events ORDER BY ALL"
        ).fetchall()
        quarantined = store.con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0]
        return events, quarantined, store.positions()


def test_workers_project_what_one_process_projects(
    log: KafkaLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = encoded(400)
    # repeats of one event in its partition, in other chunks; records that are not events
    log.append([*records, *records[:7], LogRecord(b"garbage", records[0].key)])
    monkeypatch.setattr(workers, "WORKER_CHUNK", 30)
    one = project(log, tmp_path / "one.duckdb", 0, batch_size=100)
    two = project(log, tmp_path / "two.duckdb", 2, batch_size=100)
    assert (two.read, two.applied, two.duplicates, two.quarantined) == (
        one.read,
        one.applied,
        one.duplicates,
        one.quarantined,
    )
    assert (one.applied, one.duplicates, one.quarantined) == (400, 7, 1)
    assert rows(tmp_path / "two.duckdb") == rows(tmp_path / "one.duckdb")
    assert len(log.dead_letters()) == 1  # sent once per source position


def test_a_dead_worker_fails_the_run_and_keeps_only_what_was_committed(
    log: KafkaLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log.append(encoded(3000))
    monkeypatch.setattr(workers, "WORKER_CHUNK", 50)
    path = tmp_path / "killed.duckdb"

    def kill_workers(_result: ProjectionResult) -> None:
        for child in multiprocessing.active_children():
            if child.name.startswith("lineage-project") and child.pid:
                os.kill(child.pid, signal.SIGKILL)

    with pytest.raises(ProjectionError, match="worker"):
        project(log, path, 2, batch_size=200, on_batch=kill_workers)
    events, _, positions = rows(path)
    # positions cover exactly the committed events: nothing beyond, nothing missing
    assert 0 < len(events) < 3000
    assert sum(positions.values()) == len(events)
    assert not [c for c in multiprocessing.active_children() if c.name.startswith("lineage")]
    # a restart finishes the job and equals a clean rebuild
    project(log, path, 2, batch_size=200)
    project(log, tmp_path / "clean.duckdb", 0)
    assert rows(path) == rows(tmp_path / "clean.duckdb")


def test_worker_count_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from lineage.config import resolve
    from lineage.errors import ConfigError

    assert resolve(tmp_path).project_workers == 2
    monkeypatch.setenv("LINEAGE_PROJECT_WORKERS", "0")
    assert resolve(tmp_path).project_workers == 0
    assert resolve(tmp_path, project_workers=3).project_workers == 3  # the flag wins
    monkeypatch.setenv("LINEAGE_PROJECT_WORKERS", "-1")
    with pytest.raises(ConfigError, match="project_workers"):
        resolve(tmp_path)


def test_a_small_catch_up_stays_in_one_process(
    log: KafkaLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Starting worker processes costs about a second: not for a read command's catch-up.
    monkeypatch.setattr(projector, "PARALLEL_MIN_RECORDS", 10_000)
    started: list[int] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        started.append(1)
        raise AssertionError("workers started for a small catch-up")

    monkeypatch.setattr(workers.Workers, "__init__", refuse)
    log.append(encoded(50))
    assert project(log, tmp_path / "p.duckdb", 2).applied == 50
    assert started == []


def test_workers_start_before_the_checks(
    log: KafkaLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Their start (a spawned interpreter importing the decoder) overlaps the projector's
    # checks of the log and the stored positions.
    log.append(encoded(60))
    running: list[list[str]] = []
    check_log = Projector.check_log

    def checking(self: Projector) -> dict[int, int]:
        running.append(
            [c.name for c in multiprocessing.active_children() if c.name.startswith("lineage")]
        )
        return check_log(self)

    monkeypatch.setattr(Projector, "check_log", checking)
    assert project(log, tmp_path / "p.duckdb", 2).applied == 60
    assert len(running) == 1 and len(running[0]) == 2
