"""The Kafka log: one topic, keyed by subject reference, read by manual partition assignment.

Writing (``append``):
  1. Materialise the records first: an iterator that fails sends nothing.
  2. Send every record (``acks=all``, idempotent producer: retries never duplicate or reorder
     one partition's records), then flush and check every delivery.
  3. Return only when the broker acknowledged all of them; otherwise raise
     ``LogDeliveryError`` naming how many (and which) were not acknowledged.
  Kafka has no cross-partition atomicity without transactions: a delivery failure can leave
  some records written. The error says which ones were not, so none is reported written
  that was not, and none is silently lost.

Reading (``read``): no consumer group (a join takes seconds and rebalances under load); the
reader assigns the partitions itself, seeks to the positions it is given (the projection's,
stored in DuckDB) and stops at the ends captured when the call began. Offsets are never
committed to Kafka: the projection is the only record of how far it has read.

Ends: some brokers (Tansu 0.6) answer ListOffsets(latest) with the base offset of the last
record batch plus one, not the high watermark. ``end_offsets`` therefore takes the high
watermark from a fetch of the last listed record, which every broker reports correctly.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lineage.errors import ConfigError, LogDeliveryError, LogError, LogUnavailableError
from lineage.log.base import AppendResult, DeadLetter, DeadLetterRecord, LogEntry, LogRecord

log = logging.getLogger("lineage.log")

DLQ_SUFFIX = ".dlq"
# Headers on a dead letter: why it was set aside and where it came from.
H_REASON = "lineage.reason"
H_TOPIC = "lineage.source.topic"
H_PARTITION = "lineage.source.partition"
H_OFFSET = "lineage.source.offset"


def partition_for(key: bytes, partitions: int) -> int:
    """The partition kafka-python's default partitioner (Java-compatible murmur2) picks."""
    from kafka.partitioner.default import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True)
class KafkaLogSpec:
    """What another process needs to open the same log on some of its partitions."""

    bootstrap: str
    topic: str
    timeout: float
    security: tuple[tuple[str, str], ...]

    def open(self, partitions: Sequence[int]) -> KafkaLog:
        owned = list(partitions)
        return KafkaLog(
            self.bootstrap,
            self.topic,
            timeout=self.timeout,
            security=dict(self.security),
            select=lambda _count: owned,
        )


class KafkaLog:
    """The log on a Kafka topic. Clients are created on first use and reused."""

    kind = "kafka"

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        create: bool = False,
        partitions: int = 6,
        replication: int = 1,
        timeout: float = 30.0,
        security: Mapping[str, str] | None = None,
        select: Callable[[int], list[int] | None] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.dlq_topic = topic + DLQ_SUFFIX
        self.timeout = timeout
        self._security = {k: v for k, v in (security or {}).items() if v}
        self._producer: Any = None
        self._reader: Any = None
        self._prober: Any = None
        self._admin: Any = None
        # Per client (by id): the sockets of its event loop, closed with the client.
        self._sockets: dict[int, _Sockets] = {}
        self._log_id: str | None = None
        # A delivery failed: the broker is not answering, so closing must not wait for it.
        self._stalled = False
        try:
            if create:
                self.create_topics(partitions, replication)
            self.partition_count = self._partition_count()
        except BaseException:
            self.close()
            raise
        chosen = select(self.partition_count) if select else None
        self.partitions = chosen if chosen is not None else list(range(self.partition_count))

    def spec(self) -> KafkaLogSpec:
        return KafkaLogSpec(
            self.bootstrap, self.topic, self.timeout, tuple(sorted(self._security.items()))
        )

    # -- clients ------------------------------------------------------------------------
    def _common(self) -> dict[str, Any]:
        ms = int(self.timeout * 1000)
        return {
            "bootstrap_servers": [s.strip() for s in self.bootstrap.split(",") if s.strip()],
            "client_id": "lineage",
            "request_timeout_ms": ms,
            "bootstrap_timeout_ms": ms,
            # A paused or restarted broker is retried within a second, not after 30 s.
            "reconnect_backoff_max_ms": 1000,
            **self._security,
        }

    def _client(self, factory: Callable[[], Any]) -> Any:
        from kafka.errors import KafkaConfigurationError, KafkaError

        before = {t for t in threading.enumerate() if t.name.startswith("kafka-io-")}
        try:
            client = factory()
            self._sockets[id(client)] = _hold_sockets(client)
            return client
        except KafkaConfigurationError as exc:
            _stop_orphans(before)
            raise ConfigError(f"Kafka client settings: {exc}") from None
        except KafkaError as exc:
            _stop_orphans(before)
            raise LogUnavailableError(
                f"cannot reach Kafka at {self.bootstrap} within {self.timeout:g}s: {_describe(exc)}"
            ) from None

    def _admin_client(self) -> Any:
        if self._admin is None:
            from kafka import KafkaAdminClient

            self._admin = self._client(lambda: KafkaAdminClient(**self._common()))
        return self._admin

    def _consumer(self, **extra: Any) -> Any:
        from kafka import KafkaConsumer

        config = {
            **self._common(),
            "group_id": None,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "allow_auto_create_topics": False,
            "fetch_max_wait_ms": 100,
            "connections_max_idle_ms": max(540_000, int(self.timeout * 2000)),
            **extra,
        }
        return self._client(lambda: KafkaConsumer(**config))

    def _reading(self) -> Any:
        if self._reader is None:
            from lineage.log.kafka_records import install

            self._reader = self._consumer(max_poll_records=10_000)
            if not install(self._reader):
                log.warning("this kafka-python reads records in Python (slower): see kafka_records")
        return self._reader

    def _probing(self) -> Any:
        if self._prober is None:
            # One record batch per partition is enough to learn its high watermark. The client
            # fetches on past the probed record; the next probe discards those stale fetches
            # one per poll, and a poll that returned nothing sleeps retry_backoff_ms (100 ms by
            # default: 0.3 s per probe of 4 partitions, measured). Short waits keep a probe
            # short; the fetches it makes always find a record, so nothing polls in vain.
            self._prober = self._consumer(
                max_partition_fetch_bytes=1024,
                max_poll_records=1,
                fetch_max_wait_ms=10,
                retry_backoff_ms=20,
            )
        return self._prober

    def producer(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer

            ms = int(self.timeout * 1000)
            config = {
                **self._common(),
                "acks": "all",
                "enable_idempotence": True,
                "max_block_ms": ms,
                "delivery_timeout_ms": ms,
                "request_timeout_ms": max(1000, ms // 2),
                "linger_ms": 5,
                "batch_size": 256 * 1024,
                "allow_auto_create_topics": False,
            }
            self._producer = self._client(lambda: KafkaProducer(**config))
        return self._producer

    # -- topics -------------------------------------------------------------------------
    def create_topics(self, partitions: int, replication: int) -> None:
        """Create the topic and its dead-letter topic unless they exist."""
        from kafka.admin import NewTopic
        from kafka.errors import KafkaError, TopicAlreadyExistsError

        admin = self._admin_client()
        existing = set(self._call(admin.list_topics))
        wanted = [
            NewTopic(name, parts, replication)
            for name, parts in ((self.topic, partitions), (self.dlq_topic, 1))
            if name not in existing
        ]
        if not wanted:
            return
        try:
            admin.create_topics(wanted, timeout_ms=int(self.timeout * 1000))
        except TopicAlreadyExistsError:
            pass  # created by someone else meanwhile
        except KafkaError as exc:
            raise LogError(f"cannot create topic {self.topic}: {_describe(exc)}") from None

    def _partition_count(self) -> int:
        parts = self._call(lambda: self._probing().partitions_for_topic(self.topic))
        if not parts:
            raise LogError(
                f"Kafka topic {self.topic!r} does not exist at {self.bootstrap}: "
                "run `lineage init` or create it"
            )
        return len(parts)

    def _call(self, fn: Callable[[], Any]) -> Any:
        from kafka.errors import KafkaError

        try:
            return fn()
        except KafkaError as exc:
            raise LogUnavailableError(
                f"Kafka at {self.bootstrap} did not answer: {_describe(exc)}"
            ) from None

    @property
    def log_id(self) -> str:
        """Cluster id, topic and topic id: a topic deleted and created again is another log."""
        if self._log_id is None:
            admin = self._admin_client()
            cluster = self._call(admin.describe_cluster).get("cluster_id") or "?"
            described = self._call(lambda: admin.describe_topics([self.topic]))
            topic_id = str(described[0].get("topic_id") or "") if described else ""
            self._log_id = f"kafka:{cluster}/{self.topic}" + (f"/{topic_id}" if topic_id else "")
        return self._log_id

    def partition_for(self, key: bytes) -> int:
        return partition_for(key, self.partition_count)

    # -- writing ------------------------------------------------------------------------
    def append(self, records: Iterable[LogRecord]) -> AppendResult:
        staged = list(records)  # Step 1: a failing iterator sends nothing
        if not staged:
            return AppendResult(0, {})
        producer = self.producer()
        futures = self._send(producer, self.topic, [(r.key, r.value, []) for r in staged])
        try:
            return AppendResult(len(staged), _check(futures, len(staged), self.timeout))
        except LogDeliveryError:
            self._stalled = True
            raise

    def _send(
        self,
        producer: Any,
        topic: str,
        messages: Sequence[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]],
    ) -> list[Any]:
        from kafka.errors import KafkaError

        futures: list[Any] = []
        try:
            for key, value, headers in messages:
                futures.append(producer.send(topic, key=key, value=value, headers=headers))
            producer.flush(timeout=self.timeout)  # Step 2
        except KafkaError as exc:
            # Sends already handed over may still be delivered: count only what is proven.
            self._stalled = True
            _check(futures, len(messages), self.timeout, cause=exc)
        return futures

    # -- reading ------------------------------------------------------------------------
    def _tps(self, partitions: Iterable[int]) -> list[Any]:
        from kafka import TopicPartition

        return [TopicPartition(self.topic, p) for p in partitions]

    def begin_offsets(self) -> dict[int, int]:
        tps = self._tps(self.partitions)
        found = self._call(lambda: self._probing().beginning_offsets(tps))
        return {tp.partition: int(off) for tp, off in found.items()}

    def end_offsets(self) -> dict[int, int]:
        """High watermarks (see the module docstring for why they are fetched)."""
        consumer = self._probing()
        tps = self._tps(self.partitions)
        listed = self._call(lambda: consumer.end_offsets(tps))
        begins = self._call(lambda: consumer.beginning_offsets(tps))
        ends = {tp.partition: int(listed[tp]) for tp in tps}
        probe = [tp for tp in tps if listed[tp] > begins[tp]]
        if not probe:
            return ends
        consumer.assign([])  # fresh partition state (no pause left by an interrupted call)
        consumer.assign(probe)
        for tp in probe:
            consumer.seek(tp, int(listed[tp]) - 1)
        waiting = set(probe)
        deadline = time.monotonic() + self.timeout
        while waiting and time.monotonic() < deadline:
            got = self._call(lambda: consumer.poll(timeout_ms=200))
            for tp in list(waiting):
                high = consumer.highwater(tp)
                if tp in got or (high is not None and high >= listed[tp]):
                    ends[tp.partition] = max(ends[tp.partition], int(high or 0))
                    waiting.discard(tp)
                    consumer.pause(tp)
        if waiting:
            raise LogUnavailableError(
                f"Kafka at {self.bootstrap} did not report the end of "
                f"{len(waiting)} partitions of {self.topic} within {self.timeout:g}s"
            )
        consumer.assign([])
        return ends

    def read(self, start: Mapping[int, int] | None = None) -> Iterator[LogEntry]:
        start = start or {}
        ends = self.end_offsets()
        begins = self.begin_offsets()
        todo: dict[int, int] = {}
        for p in self.partitions:
            pos = start.get(p, begins[p])
            if pos < begins[p]:
                log.warning(
                    "partition %d: records %d..%d are gone from %s (retention); reading on from %d",
                    p,
                    pos,
                    begins[p] - 1,
                    self.topic,
                    begins[p],
                )
                pos = begins[p]
            if pos < ends[p]:
                todo[p] = pos
        if not todo:
            return
        consumer = self._reading()
        tps = self._tps(todo)
        consumer.assign([])
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, todo[tp.partition])
        try:
            yield from self._consume(consumer, {tp: ends[tp.partition] for tp in tps})
        finally:
            consumer.assign([])

    def _consume(self, consumer: Any, ends: dict[Any, int]) -> Iterator[LogEntry]:
        quiet_since = time.monotonic()
        while ends:
            batch = self._call(lambda: consumer.poll(timeout_ms=500))
            if not batch:
                if time.monotonic() - quiet_since > self.timeout:
                    raise LogUnavailableError(
                        f"Kafka at {self.bootstrap} sent no records of {self.topic} for "
                        f"{self.timeout:g}s although {len(ends)} partitions have more"
                    )
            else:
                quiet_since = time.monotonic()
            for tp, messages in batch.items():
                end = ends.get(tp)
                if end is None:
                    continue
                p = tp.partition
                for m in messages:
                    if m.offset >= end:
                        break
                    if m.value is None:
                        yield LogEntry(p, m.offset, m.offset + 1, None, m.key, "empty record")
                    else:
                        yield LogEntry(p, m.offset, m.offset + 1, m.value, m.key)
            for tp in list(ends):
                if consumer.position(tp) >= ends[tp]:
                    consumer.pause(tp)
                    del ends[tp]

    def size_bytes(self) -> int:
        return -1  # not part of the Kafka protocol every broker answers; unknown

    # -- dead letters -------------------------------------------------------------------
    def send_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Write to ``<topic>.dlq``; returns only when the broker acknowledged every one."""
        if not letters:
            return
        from lineage.edge.scrub import scrub

        messages = [
            (
                d.key,
                d.value,
                [
                    (H_REASON, scrub(d.reason).encode()),
                    (H_TOPIC, self.topic.encode()),
                    (H_PARTITION, str(d.partition).encode()),
                    (H_OFFSET, str(d.offset).encode()),
                ],
            )
            for d in letters
        ]
        futures = self._send(self.producer(), self.dlq_topic, messages)
        _check(futures, len(messages), self.timeout, what="dead letters")

    def dead_letters(self) -> list[DeadLetterRecord]:
        """Every dead letter, once per source position (a resend after a crash is a repeat)."""
        consumer = self._consumer(max_poll_records=10_000)
        try:
            from kafka import TopicPartition

            parts = consumer.partitions_for_topic(self.dlq_topic) or set()
            tps = [TopicPartition(self.dlq_topic, p) for p in sorted(parts)]
            if not tps:
                return []
            ends = consumer.end_offsets(tps)
            consumer.assign(tps)
            consumer.seek_to_beginning()
            found: dict[tuple[str, int, int], DeadLetterRecord] = {}
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                got = consumer.poll(timeout_ms=300)
                for messages in got.values():
                    for m in messages:
                        h = {k: v.decode(errors="replace") for k, v in m.headers or []}
                        rec = DeadLetterRecord(
                            h.get(H_TOPIC, "?"),
                            int(h.get(H_PARTITION, -1)),
                            int(h.get(H_OFFSET, -1)),
                            h.get(H_REASON, "?"),
                            len(m.value or b""),
                            m.timestamp,
                        )
                        found.setdefault((rec.topic, rec.partition, rec.offset), rec)
                # ListOffsets may lag (see the module docstring): stop on a quiet poll only.
                if not got and all(consumer.position(tp) >= ends[tp] for tp in tps):
                    break
            return sorted(found.values(), key=lambda r: (r.partition, r.offset))
        except Exception as exc:
            from kafka.errors import KafkaError

            if isinstance(exc, KafkaError):
                raise LogUnavailableError(
                    f"cannot read {self.dlq_topic}: {_describe(exc)}"
                ) from None
            raise
        finally:
            self._release(consumer, consumer.close)

    def close(self) -> None:
        if self._producer is not None:
            producer = self._producer
            timeout = 0 if self._stalled else self.timeout
            self._release(producer, lambda: _close_producer(producer, timeout))
        for client in (self._reader, self._prober, self._admin):
            if client is not None:
                self._release(client, client.close)
        self._producer = self._reader = self._prober = self._admin = None

    def _release(self, client: Any, close: Callable[[], None]) -> None:
        """Close ``client``, then every socket it left open (see ``_hold_sockets``)."""
        held = self._sockets.pop(id(client), None) or _Sockets()
        held.keep()
        try:
            close()
        except Exception as exc:  # closing must not hide the error that led here
            log.debug("closing a Kafka client: %s", exc)
        finally:
            # The producer's sender thread closes its connections itself, after close returns
            # when the close was forced: its sockets are not ours to close until it has ended.
            sender = getattr(client, "_sender", None)
            if isinstance(sender, threading.Thread):
                sender.join(_SENDER_EXIT)
            if not (isinstance(sender, threading.Thread) and sender.is_alive()):
                held.close()


def _check(
    futures: Sequence[Any],
    total: int,
    timeout: float,
    *,
    cause: BaseException | None = None,
    what: str = "events",
) -> dict[int, int]:
    """Step 3: every delivery acknowledged, or LogDeliveryError naming the ones that were not."""
    ends: dict[int, int] = {}
    failed: list[int] = []
    reason = _describe(cause) if cause is not None else ""
    for i in range(total):
        fut = futures[i] if i < len(futures) else None
        if fut is None or not fut.is_done or fut.failed():
            failed.append(i)
            if not reason:
                reason = (
                    _describe(fut.exception)
                    if fut is not None and fut.is_done
                    else f"no acknowledgement within {timeout:g}s"
                )
            continue
        meta = fut.value
        ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    if failed:
        raise LogDeliveryError(failed, total, reason, what)
    return ends


def _close_producer(producer: Any, timeout: float) -> None:
    """Close, failing what the broker never acknowledged.

    kafka-python's ``close`` flushes first and gives up with KafkaTimeoutError while records
    are pending, leaving the producer open; its ``__del__`` then tries again at exit and
    prints a traceback. Pending records were already reported as not acknowledged, so they
    are failed here (as kafka-python's own forced close does) and the producer closed."""
    try:
        producer.close(timeout=timeout)
        return
    except Exception as exc:  # closing must not hide the error that led here
        log.debug("closing the Kafka producer: %s", exc)
    try:
        producer._accumulator.abort_incomplete_batches()
        producer.close(timeout=0)
    except Exception as exc:
        log.debug("closing the Kafka producer: %s", exc)


# How long a close waits for a forced producer's sender thread to end (it sends nothing more).
_SENDER_EXIT = 2.0


def _event_loop(client: Any) -> Any:
    """The kafka-python 3 event loop (NetworkSelector) of a consumer, admin or producer."""
    for owner in (client, getattr(client, "_sender", None)):
        net = getattr(owner, "_net", None) or getattr(getattr(owner, "_client", None), "_net", None)
        if net is not None and callable(getattr(net, "register_event", None)):
            return net
    return None


class _Sockets:
    """The sockets of one kafka-python client's event loop: followed weakly while it runs,
    held from the moment it closes, and then closed (see ``_hold_sockets``)."""

    def __init__(self) -> None:
        self._live: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._kept: set[socket.socket] | None = None

    def add(self, sock: socket.socket) -> None:
        kept = self._kept
        (self._live if kept is None else kept).add(sock)

    def keep(self) -> None:
        """Hold every socket still open, and every one the loop opens from now on."""
        self._kept = set()  # first: the loop's thread adds here while the copy is made
        self._kept.update(list(self._live))

    def close(self) -> None:
        for sock in self._kept or ():
            if sock.fileno() != -1:
                sock.close()


def _hold_sockets(client: Any) -> _Sockets:
    """Follow the sockets ``client``'s event loop waits on, to close what its close leaves.

    kafka-python 3.0 closes a client by cancelling the tasks still on its loop. A connect
    under way holds its socket only in the connect coroutine, and a connection with a
    request not yet flushed closes its socket only after the flush; cancelled, both drop
    the socket unclosed, and a ResourceWarning comes whenever the collector finds it. Every
    socket passes through the loop's ``register_event`` (connect, read and write waits).
    They are followed weakly (a socket kafka-python drops while it runs is not kept open),
    held from the close on (``_Sockets.keep``) and closed after it."""
    held = _Sockets()
    net = _event_loop(client)
    if net is None:  # another kafka-python: nothing to follow
        return held
    register = net.register_event

    def register_event(fileobj: Any, event: int, task: Any) -> Any:
        if isinstance(fileobj, socket.socket):
            held.add(fileobj)
        return register(fileobj, event, task)

    net.register_event = register_event
    return held


def _stop_orphans(before: set[threading.Thread]) -> None:
    """Stop the IO thread of a kafka-python client whose constructor failed.

    kafka-python starts its event-loop thread before it bootstraps and does not stop it when
    bootstrapping fails; nobody holds the client then, and the stray thread keeps the
    interpreter from shutting down cleanly (native extensions then report leaks at exit)."""
    for thread in threading.enumerate():
        if thread in before or not thread.name.startswith("kafka-io-"):
            continue
        loop = getattr(getattr(thread, "_target", None), "__self__", None)
        stop = getattr(loop, "stop", None)
        if stop is not None:
            stop(timeout_ms=2000)
            close = getattr(loop, "close", None)
            if close is not None:
                close()


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc).strip()
    name = type(exc).__name__
    if not text or text == name or text.startswith(name + ":"):  # kafka errors name themselves
        return text or name
    return f"{name}: {text}"
