"""Open the log backend the settings name."""

from __future__ import annotations

from lineage.config import Settings
from lineage.errors import ConfigError
from lineage.log.base import Log


def open_log(settings: Settings, *, create: bool = False) -> Log:
    if settings.log == "kafka":
        from lineage.log.kafka import KafkaLog

        return KafkaLog(
            settings.kafka_bootstrap,
            settings.kafka_topic,
            create=create,
            partitions=settings.kafka_partitions,
            replication=settings.kafka_replication,
            timeout=settings.kafka_timeout,
            security=kafka_security(settings),
            select=settings.owned_partitions,
        )
    if settings.shard or settings.partitions:
        raise ConfigError("--shard and --partitions need the Kafka log (the file log is one)")
    if settings.log == "file":
        from lineage.log.file import FileLog

        return FileLog(
            settings.log_dir,
            create=create,
            lock_timeout=settings.lock_timeout,
            segment_bytes=settings.segment_bytes,
        )
    raise ConfigError(f"log backend {settings.log!r} is not available")


def kafka_security(settings: Settings) -> dict[str, str]:
    """kafka-python's client security settings, from lineage's (empty ones left out)."""
    return {
        "security_protocol": settings.kafka_security_protocol,
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": settings.kafka_sasl_password,
        "ssl_cafile": settings.kafka_ssl_cafile,
        "ssl_certfile": settings.kafka_ssl_certfile,
        "ssl_keyfile": settings.kafka_ssl_keyfile,
    }
