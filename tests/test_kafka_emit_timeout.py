"""An ``emit`` whose delivery times out because the broker froze mid-send: the documented
one-line error, exit 3, naming how many events and the first input lines not acknowledged."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Lineage, collected
from tests.kafka_broker import Broker

pytestmark = pytest.mark.kafka


def _connections(pid: int, port: int) -> int:
    """Established TCP connections of process ``pid`` to ``port`` (from /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for row in Path(table).read_text().splitlines()[1:]:
            cols = row.split()
            if int(cols[2].rsplit(":", 1)[1], 16) == port and cols[3] == "01" and cols[9] in inodes:
                count += 1
    return count


def test_flush_timeout_is_one_line_naming_the_unacknowledged_events(
    tmp_path: Path, kafka_broker: Broker, kafka_topic: str
) -> None:
    if kafka_broker.process is None or not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs a broker process this run started (to pause it) and /proc")
    home = Lineage(
        tmp_path / "home",
        env={
            "LINEAGE_LOG": "kafka",
            "LINEAGE_KAFKA_BOOTSTRAP": kafka_broker.address,
            "LINEAGE_KAFKA_TOPIC": kafka_topic,
            "LINEAGE_KAFKA_PARTITIONS": "2",
            "LINEAGE_KAFKA_TIMEOUT": "3",
        },
    )
    home.ok("init")
    path = tmp_path / "events.jsonl"
    path.write_text(
        "".join(json.dumps(collected(email=f"user{i}@example.com")) + "\n" for i in range(20_000))
    )
    port = int(kafka_broker.address.rsplit(":", 1)[1])
    process = subprocess.Popen(
        home.command("emit", "--file", str(path)),
        env=home.process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    paused = False
    try:
        # The reader connects when the log opens; the producer, once the file is parsed.
        # Freeze the broker as soon as the producer is connected: mid-send.
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if _connections(process.pid, port) >= 2:
                    kafka_broker.pause()
                    paused = True
                    break
            except OSError:
                pass
            time.sleep(0.002)
        out, err = process.communicate(timeout=60)
    finally:
        if paused:
            kafka_broker.resume()
        if process.poll() is None:
            process.kill()
    assert paused, "the emitter finished before its producer was seen connected"
    assert process.returncode == 3, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    match = re.fullmatch(
        r"error: (\d+) of 20000 events were not acknowledged by the broker and may not be "
        rf"written \(first at {re.escape(str(path))}:(\d+)(, .*)?\): .+",
        lines[0],
    )
    assert match, lines[0]
    assert 1 <= int(match.group(1)) <= 20_000 and 1 <= int(match.group(2)) <= 20_000
    assert out == ""
