"""A damaged HEAD or META, with real processes: nothing acknowledged is lost, and a damaged
file names itself and the command that repairs it (``lineage log repair``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lineage.log.file import read_head
from tests.conftest import Lineage, collected


def newest_slot(head: Path) -> int:
    data = head.read_bytes()
    seqs = [int.from_bytes(data[i + 4 : i + 12], "little") for i in (0, 32)]
    return 0 if seqs[0] > seqs[1] else 32


def flip(path: Path, position: int, bit: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 1 << bit
    path.write_bytes(bytes(data))


def emit_many(lineage: Lineage, count: int, prefix: str = "p") -> None:
    events = [collected(f"{prefix}{i}@example.com") for i in range(count)]
    assert lineage.emit(events, name=f"batch{count}.jsonl").exit_code == 0


def projected_events(lineage: Lineage) -> int:
    done = lineage.process("project")
    assert done.returncode == 0, done.stderr
    status = lineage.process("status", "--format", "json")
    return int(json.loads(status.stdout)["projection"]["events"])


def test_one_bit_in_the_newest_head_slot_loses_no_acknowledged_event(lineage: Lineage) -> None:
    emit_many(lineage, 3, prefix="q")
    emit_many(lineage, 500)  # acknowledged: its end is in the newest HEAD slot
    head = lineage.home / "log" / "HEAD"
    end = read_head(head.parent)
    flip(head, newest_slot(head) + 14, 3)  # one bit of the committed end

    # Even a read-only command keeps every record that passes its checksum.
    done = lineage.process("status", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert "HEAD" in done.stderr and "damaged" in done.stderr
    assert json.loads(done.stdout)["log"]["end"] == {"0": end}
    assert read_head(head.parent) == end, "HEAD was rewritten with the end it had"
    assert projected_events(lineage) == 503
    assert lineage.process("status").stderr == "", "repaired: no more warnings"


def test_a_head_with_no_intact_slot_names_the_repair(lineage: Lineage) -> None:
    emit_many(lineage, 20)
    head = lineage.home / "log" / "HEAD"
    end = read_head(head.parent)
    for slot in (0, 32):
        flip(head, slot + 1)
    done = lineage.process("who-has", "p1@example.com")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(head) in lines[0], done.stderr
    assert "no intact commit record" in lines[0] and "lineage log repair" in lines[0]

    repaired = lineage.process("log", "repair")
    assert repaired.returncode == 0, repaired.stderr
    assert "rebuilt" in repaired.stdout and str(end) in repaired.stdout
    assert read_head(head.parent) == end
    assert projected_events(lineage) == 20
    assert lineage.process("log", "repair").stdout.strip() == "the event log needs no repair"


def test_a_damaged_meta_names_itself_and_repair_keeps_the_projection(lineage: Lineage) -> None:
    emit_many(lineage, 5)
    before = json.loads(
        lineage.process(
            "who-has", "p1@example.com", "--as-of", "2030-01-01", "--format", "json"
        ).stdout
    )
    meta = lineage.home / "log" / "META"
    log_id = json.loads(meta.read_text())["log_id"]
    flip(meta, meta.read_bytes().index(log_id.encode()) + 3)
    done = lineage.process("status")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(meta) in lines[0], done.stderr
    assert "checksum mismatch" in lines[0] and "lineage log repair" in lines[0]

    repaired = lineage.process("log", "repair")
    assert repaired.returncode == 0, repaired.stderr
    assert log_id in repaired.stdout
    assert json.loads(meta.read_text())["log_id"] == log_id
    projected = lineage.process("project")
    assert projected.returncode == 0 and "up to date" in projected.stdout, projected.stderr
    after = lineage.process(
        "who-has", "p1@example.com", "--as-of", "2030-01-01", "--format", "json"
    )
    assert json.loads(after.stdout) == before


def test_init_never_starts_a_new_log_over_old_records(lineage: Lineage) -> None:
    emit_many(lineage, 2)
    (lineage.home / "log" / "META").unlink()
    (lineage.home / "pseudonym.key").rename(lineage.home / "key.bak")
    done = lineage.process("init")
    assert done.returncode == 1 and "META is damaged (missing)" in done.stderr
    (lineage.home / "key.bak").rename(lineage.home / "pseudonym.key")
    assert lineage.process("log", "repair").returncode == 0
    assert projected_events(lineage) == 2


def restore(backup: Path, log_dir: Path) -> None:
    shutil.rmtree(log_dir)
    shutil.copytree(backup, log_dir)


@pytest.mark.parametrize("after", [3, 40], ids=["log now shorter", "log now longer"])
def test_a_projection_ahead_of_its_log_is_refused_never_up_to_date(
    lineage: Lineage, tmp_path: Path, after: int
) -> None:
    log_dir = lineage.home / "log"
    emit_many(lineage, 5, prefix="a")
    backup = tmp_path / "backup"
    shutil.copytree(log_dir, backup)
    emit_many(lineage, 10, prefix="b")
    assert lineage.process("project").returncode == 0
    restore(backup, log_dir)  # the log lost the last append (an older backup of a segment)
    emit_many(lineage, after, prefix="c")  # new acknowledged events

    for command in ("project", "who-has"):
        args = ("who-has", "c1@example.com") if command == "who-has" else (command,)
        done = lineage.process(*args)
        assert done.returncode == 1, done.stdout
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "lineage rebuild" in lines[0], done.stderr
        assert "up to date" not in done.stdout
    assert lineage.process("rebuild").returncode == 0
    assert projected_events(lineage) == 5 + after
    found = lineage.process("who-has", "c1@example.com", "--format", "json")
    assert json.loads(found.stdout)["holders"]


def test_positions_of_an_older_projection_schema_are_upgraded(lineage: Lineage) -> None:
    import duckdb

    emit_many(lineage, 3)
    assert lineage.process("project").returncode == 0
    con = duckdb.connect(str(lineage.home / "projection.duckdb"))
    con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.execute("ALTER TABLE log_positions DROP COLUMN last_offset")
    con.execute("ALTER TABLE log_positions DROP COLUMN last_crc")
    con.close()
    emit_many(lineage, 2, prefix="x")
    assert projected_events(lineage) == 5
    con = duckdb.connect(str(lineage.home / "projection.duckdb"), read_only=True)
    assert con.execute("SELECT count(last_crc) FROM log_positions").fetchall() == [(1,)]
    con.close()
