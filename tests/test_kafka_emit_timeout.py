"""An ``emit`` whose delivery times out because the broker froze mid-send: the documented
one-line error, exit 3, naming how many events and the first input lines not acknowledged."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from lineage.log.kafka import KafkaLog
from tests.conftest import Lineage, collected
from tests.kafka_broker import Broker

pytestmark = pytest.mark.kafka


def test_flush_timeout_is_one_line_naming_the_unacknowledged_events(
    tmp_path: Path, kafka_broker: Broker, kafka_topic: str
) -> None:
    if kafka_broker.process is None:
        pytest.skip("needs a broker process this run started (to pause it)")
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
    process = subprocess.Popen(
        home.command("emit", "--file", str(path)),
        env=home.process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    paused = False
    # The emitter's producer connects once the file is parsed: first for the cluster's
    # metadata, then to send. Freeze the broker once the topic holds some of its records:
    # mid-send. (Frozen as soon as a second connection showed, it sometimes froze the
    # metadata request instead, and the emit failed to bootstrap.)
    watch = KafkaLog(kafka_broker.address, kafka_topic, timeout=10)
    try:
        before = sum(watch.end_offsets().values())
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if sum(watch.end_offsets().values()) > before:
                kafka_broker.pause()
                paused = True
                break
            time.sleep(0.002)
        out, err = process.communicate(timeout=60)
    finally:
        if paused:
            kafka_broker.resume()
        if process.poll() is None:
            process.kill()
        watch.close()
    assert paused, "the emitter finished before the topic was seen growing"
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
