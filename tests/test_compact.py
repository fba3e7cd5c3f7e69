"""`lineage log compact`: forgotten subjects leave the log physically, atomically."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lineage.codec import default_codec
from lineage.log.file import FileLog
from tests.conftest import Lineage, collected, shared, transferred

JANE = "jane@example.com"


def event_types(log_dir: Path) -> list[str]:
    codec = default_codec()
    return [
        codec.decode_raw(e.value)["envelope"]["event_type"]
        for e in FileLog(log_dir).read()
        if e.value is not None
    ]


def forget_jane(lineage: Lineage) -> str:
    lineage.emit([collected(), shared(occurred_at="2015-01-01T00:00:00Z"), transferred()])
    lineage.emit([collected("bo@example.com")], name="bo.jsonl")
    plan = lineage.json("erase", JANE)
    for t in plan["tasks"]:
        lineage.ok("erasure", "confirm", plan["request_id"], "--holder", t["holder"])
    return str(plan["request_id"])


def test_compaction_drops_forgotten_lineage_and_keeps_the_record(lineage: Lineage) -> None:
    rid = forget_jane(lineage)
    before = lineage.json("who-has", JANE, "--as-of", "2100-01-01")
    old_id = lineage.json("status")["log"]["id"]
    out = lineage.json("log", "compact")
    assert out["old_log_id"] == old_id != out["log_id"]
    assert out["forgotten_references"] == 1 and out["dropped"] > 0
    types = event_types(lineage.home / "log")
    assert types.count("DataCollected") == 1, "only bo's collection is left"
    assert "DataShared" not in types and "DataErased" not in types
    assert {"ErasureRequested", "ErasureTaskUpdated", "ErasureCompleted"} <= set(types)
    assert lineage.json("status")["log"]["id"] == out["log_id"]
    assert lineage.json("who-has", JANE, "--as-of", "2100-01-01") == before
    assert before["requests"][0]["request_id"] == rid
    assert lineage.json("who-has", "bo@example.com")["holders"]
    lineage.ok("rebuild")
    assert lineage.json("who-has", JANE, "--as-of", "2100-01-01") == before
    leftovers = [p for p in lineage.home.glob("log.*") if p.name != "log.compact.lock"]
    assert not leftovers, "no leftovers beside the log"
    again = lineage.json("log", "compact")
    assert again["dropped"] == 0


def test_an_interrupted_swap_is_finished_or_undone(lineage: Lineage) -> None:
    lineage.emit([collected()])
    log_dir = lineage.home / "log"
    # A crash between the two renames: the complete new log is finished on the next open.
    FileLog(log_dir).compact(lambda value: False)
    assert event_types(log_dir) == []
    lineage.emit([collected("bo@example.com")], name="bo.jsonl")
    new = log_dir.with_name("log.compacted")
    os.rename(log_dir, new)
    (new / "COMPLETE").write_bytes(b"")
    assert event_types(log_dir) == ["DataCollected"]
    # A crash before the new log was complete: the old one comes back.
    old = log_dir.with_name("log.precompact")
    os.rename(log_dir, old)
    assert event_types(log_dir) == ["DataCollected"]
    assert not old.exists() and not new.exists()


@pytest.mark.slow
def test_compaction_killed_at_any_point_leaves_a_home_that_answers(
    lineage: Lineage, tmp_path: Path
) -> None:
    forget_jane(lineage)
    others = [collected(f"p{i}@example.com") for i in range(3000)]
    assert lineage.emit(others, name="others.jsonl").exit_code == 0
    lineage.ok("project")
    jane = lineage.json("who-has", JANE, "--as-of", "2100-01-01")
    other = lineage.json("who-has", "p7@example.com", "--as-of", "2100-01-01")
    template = tmp_path / "template"
    shutil.copytree(lineage.home, template)
    # How long an uninterrupted compaction takes here: the kills land anywhere inside it.
    began = time.monotonic()
    assert subprocess.run(Lineage(template).command("log", "compact")).returncode == 0
    took = time.monotonic() - began
    shutil.rmtree(template)
    shutil.copytree(lineage.home, template)

    rng = random.Random(10)
    outcomes = set()
    for i in range(12):
        home = tmp_path / f"home{i}"
        shutil.copytree(template, home)
        runner = Lineage(home)
        proc = subprocess.Popen(runner.command("log", "compact"), stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.05, took))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        for email, expected in ((JANE, jane), ("p7@example.com", other)):
            done = runner.process("who-has", email, "--as-of", "2100-01-01", "--format", "json")
            assert done.returncode == 0, (i, done.stderr)
            assert json.loads(done.stdout) == expected, i
        status = json.loads(runner.process("status", "--format", "json").stdout)
        assert status["projection"]["pending"] == 0
        outcomes.add("compacted" if "DataShared" not in event_types(home / "log") else "old")
        assert not [p.name for p in home.glob("log.*") if p.name != "log.compact.lock"]
    # Kills after the swap are the ones that used to leave a home refusing every read.
    assert "compacted" in outcomes, "no kill landed after the swap: the test proved nothing"
