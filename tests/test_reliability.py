"""Crashes, torn writes, replays, corruption and concurrent writers, with real processes.

Every check compares with an independent answer: a clean rebuild of a copy of the same
home, or the log decoded record by record.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from lineage.codec import default_codec
from lineage.config import KEY_ENV
from lineage.demo import webshop
from lineage.events.model import DataCollected
from lineage.log.base import LogRecord
from lineage.log.file import FileLog, frame, read_head
from tests.conftest import Lineage

AS_OF = "2030-01-01T00:00:00Z"  # who-has answers compared across homes must not depend on now


# -- helpers -----------------------------------------------------------------------------------
def env(**extra: str) -> dict[str, str]:
    """The environment of a lineage process: no LINEAGE_* setting leaks in from outside."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LINEAGE_") or k == "LINEAGE_TEST_KAFKA"
    }
    base.pop(KEY_ENV, None)
    return {**base, **extra}


def command(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "lineage.cli.main", "--home", str(home), *args]


def run(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(home, *args), capture_output=True, text=True, env=env(**extra))


def run_ok(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    done = run(home, *args, **extra)
    assert done.returncode == 0, done.stderr
    return done


def start(home: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(home, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(**extra),
    )


def write_jsonl(path: Path, events: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> Path:
    with open(path, "w") as fh:
        for event in events:
            fh.write(json.dumps(event) + "\n")
    return path


def segment(home: Path) -> Path:
    segments = sorted((home / "log").glob("*.seg"))
    assert len(segments) == 1
    return segments[0]


def head(home: Path) -> int:
    return read_head(home / "log")


def log_event_ids(home: Path) -> list[tuple[int, str]]:
    """(offset, event_id) of every record in the log, decoded independently of a projection."""
    codec = default_codec()
    out = []
    for entry in FileLog(home / "log").read():
        assert entry.value is not None, entry.error
        out.append((entry.offset, codec.decode_raw(entry.value)["envelope"]["event_id"]))
    return out


def query(home: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Read the projection as it is on disk (read-only: a crashed state stays as it is)."""
    con = duckdb.connect(str(home / "projection.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def projection(home: Path) -> dict[str, Any]:
    """Everything the projection derived from the log, in a comparable form."""
    return {
        "events": query(home, "SELECT * FROM events ORDER BY event_id, log_offset"),
        "links": query(home, "SELECT * FROM identity_links ORDER BY ALL"),
        "positions": query(
            home, "SELECT log_partition, next_offset FROM log_positions ORDER BY ALL"
        ),
        "quarantine": query(home, "SELECT log_offset, reason FROM quarantine ORDER BY ALL"),
    }


def who_has(home: Path, email: str) -> Any:
    return json.loads(run_ok(home, "who-has", email, "--as-of", AS_OF, "--format", "json").stdout)


def emails(events: list[dict[str, Any]]) -> list[str]:
    return sorted({e["subject"]["email"] for e in events if "email" in e["subject"]})


# -- a large home, built once ------------------------------------------------------------------
@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A home with ~33,000 events of 4,000 subjects, not yet projected."""
    root = tmp_path_factory.mktemp("big")
    home = root / "home"
    events = list(webshop.events(subjects=4000, seed=11, complete_erasures=False))
    path = write_jsonl(root / "events.jsonl", events)
    run_ok(home, "init")
    run_ok(home, "emit", "--file", str(path))
    rng = random.Random(5)
    sample = [webshop.SAMPLE_EMAIL, *rng.sample(emails(events), 6)]
    return {"home": home, "file": path, "sample": sample, "records": log_event_ids(home)}


def copy_home(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# -- 1. the projector killed at random points --------------------------------------------------
def wait_for_writes(home: Path, proc: subprocess.Popen[str], writes: int) -> bool:
    """Wait until the projection files have changed ``writes`` times; False if ``proc`` ended."""
    files = [home / "projection.duckdb", home / "projection.duckdb.wal"]

    def sizes() -> tuple[int, ...]:
        return tuple(p.stat().st_size if p.exists() else -1 for p in files)

    seen = sizes()
    while writes > 0:
        if proc.poll() is not None:
            return False
        now = sizes()
        if now != seen:
            seen, writes = now, writes - 1
        time.sleep(0.002)
    return True


@pytest.mark.slow
def test_projector_killed_at_random_points_matches_a_clean_rebuild(
    big: dict[str, Any], tmp_path: Path
) -> None:
    home = copy_home(big["home"], tmp_path / "killed")
    clean = copy_home(big["home"], tmp_path / "clean")
    records: list[tuple[int, str]] = big["records"]
    end = head(home)
    batch = {"LINEAGE_BATCH_SIZE": "500"}

    rng = random.Random(20240115)
    kills, mid_way, done = 0, 0, 0
    while kills < 8:
        proc = start(home, "project", **batch)
        # Kill after a random number of writes to the projection, then a random moment more:
        # anywhere in the commit cycle, however fast this machine is today.
        if wait_for_writes(home, proc, rng.randint(2, 10)):
            time.sleep(rng.uniform(0, 0.05))
            proc.send_signal(signal.SIGKILL)
        proc.communicate()
        if proc.returncode == 0:
            break  # it finished before the kill
        assert proc.returncode == -signal.SIGKILL
        kills += 1
        tables = "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
        if not (home / "projection.duckdb").exists() or not query(home, tables)[0][0]:
            continue  # killed before the projection's schema was committed
        positions = dict(query(home, "SELECT log_partition, next_offset FROM log_positions"))
        done = positions.get(0, 0)
        mid_way += 0 < done < end
        # Exactly the events before the stored position, each once: nothing lost, nothing twice.
        total, distinct = query(home, "SELECT count(*), count(DISTINCT event_id) FROM events")[0]
        assert total == distinct
        stored = {str(r[0]) for r in query(home, "SELECT event_id FROM events")}
        assert stored == {event_id for offset, event_id in records if offset < done}

    assert mid_way >= 1, "no kill landed during the projection: the test proved nothing"
    final = run_ok(home, "project", "--format", "json", **batch)
    assert json.loads(final.stdout)["set_aside"] == []
    run_ok(clean, "rebuild")

    killed, rebuilt = projection(home), projection(clean)
    assert killed["positions"] == rebuilt["positions"] == [(0, end)]
    assert killed["quarantine"] == rebuilt["quarantine"] == []
    assert len(killed["events"]) == len({event_id for _, event_id in records})
    assert killed["events"] == rebuilt["events"]
    assert killed["links"] == rebuilt["links"]
    for email in big["sample"]:
        assert who_has(home, email) == who_has(clean, email)


# -- 2. torn tails -----------------------------------------------------------------------------
def emit_in_three(lineage: Lineage) -> list[dict[str, Any]]:
    events = list(webshop.events(subjects=30, seed=3, complete_erasures=False))
    assert lineage.emit(events[:100], name="one.jsonl").exit_code == 0
    assert lineage.emit(events[100:], name="two.jsonl").exit_code == 0
    # The last record: one event of its own (no identity link repeating an earlier one).
    assert lineage.emit([webshop_event("last@example.dk")], name="three.jsonl").exit_code == 0
    return events


def test_torn_last_record_is_cut_and_the_rest_projected(lineage: Lineage) -> None:
    emit_in_three(lineage)
    records = log_event_ids(lineage.home)
    last_offset, last_id = records[-1]
    path = segment(lineage.home)
    with open(path, "r+b") as fh:  # a crash (or a lost page) left half of the last record
        fh.truncate(path.stat().st_size - 7)

    done = run(lineage.home, "project", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert "warning: event log:" in done.stderr
    assert f"last intact record at position {last_offset}" in done.stderr
    assert json.loads(done.stdout)["applied"] == len({i for _, i in records[:-1]})
    stored = {str(r[0]) for r in query(lineage.home, "SELECT event_id FROM events")}
    assert stored == {i for _, i in records[:-1]} and last_id not in stored
    assert head(lineage.home) == last_offset == path.stat().st_size

    # The log goes on from there; nothing is set aside.
    assert lineage.emit([webshop_event("after@example.dk")]).exit_code == 0
    again = json.loads(run_ok(lineage.home, "project", "--format", "json").stdout)
    assert again["applied"] == 1 and again["set_aside"] == []


def webshop_event(email: str) -> dict[str, Any]:
    return next(webshop._subject(random.Random(1), 1, email, datetime(2024, 1, 1, tzinfo=UTC)))


def test_bytes_beyond_head_are_cut(lineage: Lineage) -> None:
    # A crash after writing frames but before moving HEAD: the append was never acknowledged.
    emit_in_three(lineage)
    records = log_event_ids(lineage.home)
    end = head(lineage.home)
    unacknowledged = DataCollected(
        subject_ref="ab" * 32,
        occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
        source="never-acknowledged",
        categories=("user.name",),
        system="crm",
        purpose="essential.service",
        legal_basis="contract",
        data_subject="customer",
    )
    whole = frame(default_codec().encode(unacknowledged))
    with open(segment(lineage.home), "ab") as fh:
        fh.write(whole + whole[: len(whole) // 2])

    done = run(lineage.home, "project", "--format", "json")
    assert done.returncode == 0, done.stderr
    torn = len(whole) + len(whole) // 2
    assert f"cut a torn tail of {torn} bytes after position {end}" in done.stderr
    assert segment(lineage.home).stat().st_size == end == head(lineage.home)
    stored = {str(r[0]) for r in query(lineage.home, "SELECT event_id FROM events")}
    assert stored == {i for _, i in records}
    assert str(unacknowledged.event_id) not in stored


def test_emit_killed_mid_append_leaves_all_or_nothing(big: dict[str, Any], tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_ok(home, "init")
    seg = segment(home)
    proc = start(home, "emit", "--file", str(big["file"]))
    # Kill once a few megabytes of the file's ~10 MB are written but not acknowledged.
    while proc.poll() is None and seg.stat().st_size < 3_000_000:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    written = seg.stat().st_size

    done = run(home, "project", "--format", "json")
    assert done.returncode == 0, done.stderr
    applied = json.loads(done.stdout)["applied"]
    if proc.returncode == -signal.SIGKILL:
        assert applied == 0
        assert f"cut a torn tail of {written - 8} bytes after position 8" in done.stderr
    else:  # it finished first: then all of it
        assert proc.returncode == 0
        assert applied == len({i for _, i in big["records"]})
    assert seg.stat().st_size == head(home)


# -- 3. replaying the same file ----------------------------------------------------------------
def replay_events(explicit_ids: bool) -> list[dict[str, Any]]:
    events = list(webshop.events(subjects=40, seed=9, complete_erasures=False))
    for i, event in enumerate(events):
        if i % 10 == 0:  # some lines carry a second identifier: implicit identity links
            event["subject"] = {**event["subject"], "customer_number": str(1000 + i)}
        if explicit_ids:
            event["event_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"replay/{i}"))
    return events


def snapshot(lineage: Lineage, events: list[dict[str, Any]]) -> dict[str, Any]:
    status = lineage.json("status")["projection"]
    sample = emails(events)[::4]
    answers = {email: lineage.json("who-has", email, "--as-of", AS_OF) for email in sample}
    return {"events": status["events"], "subjects": status["subject_refs"], "who-has": answers}


@pytest.mark.parametrize("explicit_ids", [True, False], ids=["explicit ids", "derived ids"])
def test_replaying_a_file_changes_nothing(lineage: Lineage, explicit_ids: bool) -> None:
    events = replay_events(explicit_ids)
    first = lineage.emit(events)
    assert first.exit_code == 0
    projected = lineage.json("project")
    before = snapshot(lineage, events)
    assert before["events"] == projected["applied"] > len(events)  # events plus links
    assert all(a["holders"] for a in before["who-has"].values())

    assert lineage.emit(events).exit_code == 0
    again = lineage.json("project")
    assert again["applied"] == 0
    assert again["duplicates"] == projected["applied"]
    assert snapshot(lineage, events) == before

    lineage.ok("rebuild")
    assert snapshot(lineage, events) == before


# -- 4. bit flips ------------------------------------------------------------------------------
def flip(path: Path, position: int, bit: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(position)
        byte = fh.read(1)[0]
        fh.seek(position)
        fh.write(bytes([byte ^ (1 << bit)]))


def test_bit_flips_are_detected_set_aside_and_never_projected(
    lineage: Lineage, tmp_path: Path
) -> None:
    lineage.emit(list(webshop.events(subjects=40, seed=4, complete_erasures=False)))
    clean = copy_home(lineage.home, tmp_path / "clean")
    run_ok(clean, "rebuild")
    reference = projection(clean)

    offsets = [offset for offset, _ in log_event_ids(lineage.home)]
    n = len(offsets)
    path = segment(lineage.home)
    # (record index, byte within the frame, bit): sync marker, length field, checksum, body,
    # the last body byte, and two neighbours at once.
    damage = [
        (n // 8, 1, 3),  # sync marker
        (n // 4, 4, 0),  # length field, low byte
        (3 * n // 8, 6, 7),  # length field, high byte
        (n // 2, 9, 2),  # checksum
        (5 * n // 8, 60, 5),  # body
        (3 * n // 4, 30, 0),  # body, inside the envelope
        (3 * n // 4 + 1, 40, 1),  # the next record too
    ]
    for index, byte, bit in damage:
        flip(path, offsets[index] + byte, bit)
    hit = sorted(offsets[index] for index, _, _ in damage)

    done = run(lineage.home, "project", "--format", "json")
    assert done.returncode == 1, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == len(hit)
    for offset, line in zip(hit, warnings, strict=True):
        assert f"position {offset}:" in line and "checksum" in line
    assert len(json.loads(done.stdout)["set_aside"]) == len(hit)

    status = lineage.json("status")["projection"]
    assert status["quarantined"] == len(hit)
    assert "set aside" in lineage.ok("status").stdout
    damaged = projection(lineage.home)
    assert [offset for offset, _ in damaged["quarantine"]] == hit
    # Every projected row is exactly the clean one: no wrong event, later records all there.
    expected = query(
        clean,
        "SELECT * FROM events WHERE NOT list_contains(?::BIGINT[], log_offset) "
        "ORDER BY event_id, log_offset",
        [hit],
    )
    assert damaged["events"] == expected
    assert len(expected) == len(reference["events"]) - len(hit)
    assert damaged["positions"] == reference["positions"]
    # A second run finds nothing new to set aside.
    assert run(lineage.home, "project").returncode == 0


# -- 5. two writers ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def writer_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two large inputs (~15,000 events each), told apart by their ``source``."""
    root = tmp_path_factory.mktemp("writers")
    out = {}
    for name, seed in (("writer-a", 1), ("writer-b", 2)):
        events = [{**e, "source": name} for e in webshop.events(subjects=2000, seed=seed)]
        out[name] = write_jsonl(root / f"{name}.jsonl", events)
    return out


def sources_in_log(home: Path) -> list[str]:
    codec = default_codec()
    out = []
    for entry in FileLog(home / "log").read():
        assert entry.value is not None and entry.error is None
        out.append(codec.decode_raw(entry.value)["envelope"]["source"])
    return out


def runs_of(sources: list[str]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for source in sources:
        if out and out[-1][0] == source:
            out[-1] = (source, out[-1][1] + 1)
        else:
            out.append((source, 1))
    return out


def race(home: Path, files: dict[str, Path], timeout: str) -> dict[str, Any]:
    """Start one ``emit`` per file at once; (process, stdout, stderr) of each."""
    procs = {
        name: start(
            home, "emit", "--file", str(path), "--format", "json", LINEAGE_LOCK_TIMEOUT=timeout
        )
        for name, path in files.items()
    }
    return {name: (proc, *proc.communicate()) for name, proc in procs.items()}


@pytest.mark.slow
def test_two_writers_take_turns(lineage: Lineage, writer_files: dict[str, Any]) -> None:
    results = race(lineage.home, writer_files, timeout="120")
    appended = {}
    for name, (proc, out, err) in results.items():
        assert proc.returncode == 0, err
        appended[name] = json.loads(out)["appended"]
    blocks = runs_of(sources_in_log(lineage.home))
    assert len(blocks) == 2  # one block per writer: never interleaved
    assert dict(blocks) == appended
    assert run(lineage.home, "project").returncode == 0


@pytest.mark.slow
def test_two_writers_with_a_short_lock_timeout(
    lineage: Lineage, writer_files: dict[str, Any]
) -> None:
    results = race(lineage.home, writer_files, timeout="0.2")
    appended = {}
    for name, (proc, out, err) in results.items():
        assert proc.returncode in (0, 3), err
        if proc.returncode == 0:
            appended[name] = json.loads(out)["appended"]
        else:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and "event log is busy" in lines[0], err
            assert out == ""
    assert appended, "at least one writer must get the lock"
    blocks = runs_of(sources_in_log(lineage.home))
    assert dict(blocks) == appended and len(blocks) == len(appended)
    assert run(lineage.home, "project").returncode == 0


def test_a_writer_that_finds_the_log_busy_fails_clearly(lineage: Lineage, tmp_path: Path) -> None:
    # This process holds the writer lock mid-append while a real second process tries.
    path = write_jsonl(tmp_path / "late.jsonl", [webshop_event("late@example.dk")])
    log = FileLog(lineage.home / "log")
    codec = default_codec()
    holding, release = threading.Event(), threading.Event()
    mine = [
        LogRecord(codec.encode(_collected(i)), None)
        for i in range(3)  # valid events, so the log projects cleanly afterwards
    ]

    def slow_records() -> Iterator[LogRecord]:
        yield mine[0]
        holding.set()
        release.wait(timeout=60)
        yield from mine[1:]

    writer = threading.Thread(target=lambda: log.append(slow_records()))
    writer.start()
    try:
        assert holding.wait(timeout=60)
        busy = run(lineage.home, "emit", "--file", str(path), LINEAGE_LOCK_TIMEOUT="0.5")
    finally:
        release.set()
        writer.join()
    assert busy.returncode == 3
    lines = busy.stderr.strip().splitlines()
    assert len(lines) == 1 and "event log is busy" in lines[0]
    assert busy.stdout == ""
    assert sources_in_log(lineage.home) == ["test-writer"] * 3

    run_ok(lineage.home, "emit", "--file", str(path))
    assert sources_in_log(lineage.home)[3:] == ["contact-form"]
    projected = json.loads(run_ok(lineage.home, "project", "--format", "json").stdout)
    assert projected["applied"] == 4 and projected["set_aside"] == []


def _collected(i: int) -> DataCollected:
    return DataCollected(
        subject_ref=f"{i:064x}",
        occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
        source="test-writer",
        categories=("user.name",),
        system="crm",
        purpose="essential.service",
        legal_basis="contract",
        data_subject="customer",
    )


def test_a_replayed_file_is_in_the_log_twice_and_the_readme_says_so(lineage: Lineage) -> None:
    # The decision (README, `emit`): the log is not deduplicated at append; answers are.
    events = replay_events(explicit_ids=True)[:50]
    lineage.emit(events)
    once = len(log_event_ids(lineage.home))
    lineage.emit(events)
    records = log_event_ids(lineage.home)
    assert len(records) == 2 * once
    assert lineage.json("project")["duplicates"] == once
    assert lineage.json("status")["projection"]["events"] == len({i for _, i in records})
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    assert "The log itself is not deduplicated: a re-run appends the records again" in readme
