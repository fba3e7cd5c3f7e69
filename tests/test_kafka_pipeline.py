"""The whole pipeline on Kafka, against a real broker: same events, same answers as the file
log; dead letters; shards; a follower with readers in other processes; faults."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from lineage.codec import default_codec
from lineage.log.base import LogRecord
from lineage.log.kafka import KafkaLog
from tests.conftest import Lineage, collected, shared, transferred
from tests.kafka_broker import Broker, free_port

pytestmark = pytest.mark.kafka


def people(n: int, start: int = 0) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i in range(start, start + n):
        email = f"person{i}@example.com"
        events += [collected(email), shared(email)]
        if i % 3 == 0:
            events.append(transferred(email))
    return events


def answers(home: Lineage, n: int, *extra: str) -> dict[str, Any]:
    return {
        f"person{i}@example.com": home.json("who-has", f"person{i}@example.com", *extra)["holders"]
        for i in range(n)
    }


def kafka_log(home: Lineage) -> KafkaLog:
    return KafkaLog(
        home.env["LINEAGE_KAFKA_BOOTSTRAP"], home.env["LINEAGE_KAFKA_TOPIC"], timeout=10
    )


def test_same_answers_as_the_file_log(lineage: Lineage, kafka_home: Lineage) -> None:
    events = people(12)
    assert lineage.emit(events).exit_code == 0
    assert kafka_home.emit(events).exit_code == 0
    assert kafka_home.json("project")["applied"] == len(events)
    assert answers(kafka_home, 12) == answers(lineage, 12)
    status = kafka_home.json("status")
    assert status["log"]["backend"] == "kafka" and status["projection"]["pending"] == 0
    assert sum(status["log"]["end"].values()) == len(events)


def test_bad_records_become_dead_letters_and_projection_goes_on(kafka_home: Lineage) -> None:
    kafka_home.emit([collected()])
    good = kafka_log(kafka_home)
    codec = default_codec()
    from lineage.edge.identity import Pseudonymizer
    from lineage.edge.jsonl import EventParser

    parser = EventParser(Pseudonymizer(b"k" * 32), default_source="test")
    encoded = codec.encode(parser.parse_object(collected("bob@example.com"), "test")[0])
    try:
        good.append(
            [
                LogRecord(b"not avro at all", b"a"),
                LogRecord(encoded[:-7], b"b"),  # truncated body
                LogRecord(b"\xc3\x01" + b"\x00" * 8 + encoded[10:], b"c"),  # unknown fingerprint
            ]
        )
    finally:
        good.close()
    result = kafka_home("project", "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["applied"] == 1
    letters = kafka_home.json("dlq", "list")
    assert len(letters) == 3
    reasons = " | ".join(d["reason"] for d in letters)
    assert "bad single-object marker" in reasons
    assert "malformed" in reasons or "trailing" in reasons
    assert "unknown writer schema fingerprint" in reasons
    assert all(d["topic"] == kafka_home.env["LINEAGE_KAFKA_TOPIC"] for d in letters)
    status = kafka_home.json("status")
    assert status["log"]["dead_letters"] == 3 and status["projection"]["quarantined"] == 3
    # the projection moved past them: nothing pending, nothing sent twice
    assert kafka_home("project").exit_code == 0
    assert len(kafka_home.json("dlq", "list")) == 3
    assert "dead letters" in kafka_home.ok("status").stdout


def test_two_shards_answer_every_subject(kafka_home: Lineage) -> None:
    n = 16
    assert kafka_home.emit(people(n)).exit_code == 0
    whole = answers(kafka_home, n)
    for i in (0, 1):
        kafka_home.ok("project", "--shard", f"{i}/2")
    files = sorted(p.name for p in kafka_home.home.glob("projection-shard*.duckdb"))
    assert files == ["projection-shard0of2.duckdb", "projection-shard1of2.duckdb"]
    assert answers(kafka_home, n, "--shards", "2") == whole
    paths = [str(kafka_home.home / f) for f in files]
    assert answers(kafka_home, n, "--projection", paths[0], "--projection", paths[1]) == whole
    # each shard holds only its own partitions' events
    import duckdb

    for i, f in enumerate(files):
        con = duckdb.connect(str(kafka_home.home / f), read_only=True)
        parts = {r[0] for r in con.execute("SELECT DISTINCT log_partition FROM events").fetchall()}
        con.close()
        assert parts and all(p % 2 == i for p in parts)


def test_identity_links_across_shards(kafka_home: Lineage) -> None:
    # two identifiers of one person whose references live in different shards
    links = [
        {
            "event_type": "IdentityLinked",
            "occurred_at": "2024-02-01T00:00:00Z",
            "subject": {"email": "a@example.com"},
            "linked": {"email": f"b{i}@example.com"},
        }
        for i in range(8)
    ]
    others = [collected(f"b{i}@example.com", system=f"crm{i}") for i in range(8)]
    assert kafka_home.emit([collected("a@example.com"), *others, *links]).exit_code == 0
    whole = kafka_home.json("who-has", "a@example.com")["holders"]
    for i in (0, 1):
        kafka_home.ok("project", "--shard", f"{i}/2")
    assert kafka_home.json("who-has", "a@example.com", "--shards", "2")["holders"] == whole


def start_follower(home: Lineage, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        home.command("project", "--follow", "--max-latency", "0.2", *args),
        env=home.process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_events(home: Lineage, count: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        done = home.process("status", "--format", "json")
        if done.returncode == 0:
            status = json.loads(done.stdout)
            if status["projection"].get("events", 0) >= count:
                return status
        time.sleep(0.2)
    raise AssertionError(f"projection did not reach {count} events: {status}")


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


@pytest.mark.slow
def test_readers_answer_while_a_follower_runs(kafka_home: Lineage) -> None:
    follower = start_follower(kafka_home)
    try:
        kafka_home.emit(people(5))
        wait_for_events(kafka_home, 10)
        # another process asks while the follower keeps projecting new events
        kafka_home.emit(people(40, start=5))
        for _ in range(3):
            asked = kafka_home.process("who-has", "person1@example.com", "--format", "json")
            assert asked.returncode == 0, asked.stderr
            assert {h["holder"] for h in json.loads(asked.stdout)["holders"]} >= {"webshop-db"}
    finally:
        code, _out, err = stop(follower)
    assert code == 0, err
    assert "stopped" in err + _out
    assert not (kafka_home.home / "projection.duckdb.follower").exists()


@pytest.mark.slow
def test_paused_broker_between_batches_loses_nothing(
    kafka_home: Lineage, kafka_broker: Broker
) -> None:
    if kafka_broker.process is None:
        pytest.skip("pausing needs a broker process the tests started")
    follower = start_follower(kafka_home)
    try:
        kafka_home.emit(people(10))
        wait_for_events(kafka_home, 20)
        kafka_broker.pause()
        time.sleep(3)
        kafka_broker.resume()
        kafka_home.emit(people(10, start=10))
        expected = len(people(10)) + len(people(10, start=10))
        status = wait_for_events(kafka_home, expected, timeout=60)
    finally:
        kafka_broker.resume()
        code, _out, err = stop(follower)
    assert code == 0, err
    assert status["projection"]["events"] == expected  # nothing lost, nothing twice


@pytest.mark.slow
def test_killed_projector_restarts_to_a_clean_rebuild(kafka_home: Lineage) -> None:
    assert kafka_home.emit(people(300)).exit_code == 0
    follower = start_follower(kafka_home, "--batch-size", "50")
    time.sleep(2.5)
    follower.kill()  # SIGKILL: wherever it was
    follower.communicate(timeout=10)
    kafka_home.ok("project")
    after = kafka_home.json("status")["projection"]
    following = answers(kafka_home, 10)
    kafka_home.ok("rebuild")
    rebuilt = kafka_home.json("status")["projection"]
    assert after["events"] == rebuilt["events"] == len(people(300))
    assert answers(kafka_home, 10) == following


def test_unreachable_broker_at_emit_is_a_clear_error(tmp_path: Path) -> None:
    home = Lineage(
        tmp_path / "home",
        env={
            "LINEAGE_LOG": "kafka",
            "LINEAGE_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
            "LINEAGE_KAFKA_TIMEOUT": "2",
        },
    )
    (tmp_path / "events.jsonl").write_text(json.dumps(collected()) + "\n")
    home.home.mkdir()
    from lineage.config import init_home

    init_home(home.home)
    started = time.monotonic()
    done = home.process("emit", "--file", str(tmp_path / "events.jsonl"))
    assert time.monotonic() - started < 15
    assert done.returncode == 3
    assert "cannot reach Kafka" in done.stderr and "appended" not in done.stdout
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [("who-has", "jane@example.com"), ("status",)])
def test_unreachable_broker_at_a_read_command_is_one_line(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    # A read command opens the projection before it meets the broker: the process must still
    # end with one line on stderr (a stray client thread once made it print pages at exit).
    home = Lineage(
        tmp_path / "home",
        env={
            "LINEAGE_LOG": "kafka",
            "LINEAGE_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
            "LINEAGE_KAFKA_TIMEOUT": "2",
        },
    )
    home.home.mkdir()
    from lineage.config import init_home

    init_home(home.home)
    done = home.process(*command)
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        f"error: cannot reach Kafka at {home.env['LINEAGE_KAFKA_BOOTSTRAP']} within 2s: "
        f"KafkaTimeoutError: Unable to bootstrap from "
        f"['{home.env['LINEAGE_KAFKA_BOOTSTRAP']}']"
    ]
