"""Settings, resolved once in one order: flag > LINEAGE_* environment > config file in the
lineage home (``config.toml``) > default. Secrets are never part of ``repr``."""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from lineage.errors import ConfigError

KEY_FILE = "pseudonym.key"
CONFIG_FILE = "config.toml"
KEY_ENV = "LINEAGE_PSEUDONYM_KEY"


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".lineage")
    log: str = "file"
    lock_timeout: float = 10.0
    # Events per projection commit; see lineage.projection.projector.DEFAULT_BATCH_SIZE.
    batch_size: int = 122_880
    segment_bytes: int = 256 * 1024 * 1024
    # Kafka (see the Kafka backend); kept here so every command reads them the same way.
    kafka_bootstrap: str = "localhost:9092"
    kafka_topic: str = "lineage.events"
    # Partitions and replicas of the topic when lineage creates it (`lineage init`).
    kafka_partitions: int = 6
    kafka_replication: int = 1
    # Seconds a request, a delivery or a connection attempt may take before it is an error.
    kafka_timeout: float = 30.0
    # Client security, passed through to kafka-python (empty = its default).
    kafka_security_protocol: str = ""
    kafka_sasl_mechanism: str = ""
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = field(default="", repr=False)
    kafka_ssl_cafile: str = ""
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""
    # The projector commits a batch when it holds batch_size records or its oldest record has
    # waited max_latency seconds; a follower polls for new records that often when idle.
    max_latency: float = 1.0
    # Worker processes that read and decode a Kafka catch-up (project, rebuild); 0 = all in
    # the projector's process. 2 measured best on two cores (bench/README.md).
    project_workers: int = 2
    # Scale-out: this projector's share of the partitions ("i/n" or "0,2"); empty = all.
    shard: str = ""
    partitions: str = ""
    # Where the shards' projections are, for queries that span them ("n" shards in the home).
    shards: int = 0
    # Seconds an event may be dated ahead of this clock before emit and status flag it (a
    # producer clock running ahead hides its events from who-has until then).
    future_tolerance: float = 300.0
    # Channels to recipients (lineage.channels): the SMTP server that sends rights requests
    # by e-mail (STARTTLS unless smtp_tls = "none", which is refused with credentials), the
    # sender address, and the address of `lineage serve` as recipients reach it (their
    # answer links and webhook callbacks point there).
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_tls: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_from: str = ""
    smtp_timeout: float = 30.0
    public_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def log_dir(self) -> Path:
        return self.home / "log"

    @property
    def projection_path(self) -> Path:
        """This process's projection: one file per shard when the partitions are split."""
        part = self.partition_spec()
        return self.home / (f"projection-{part}.duckdb" if part else "projection.duckdb")

    def partition_spec(self) -> str:
        """A file-name-safe name of the owned partitions: "shard0of2", "p0-2", or ""."""
        if self.shard:
            index, count = parse_shard(self.shard)
            return f"shard{index}of{count}"
        if self.partitions:
            return "p" + "-".join(str(p) for p in parse_partitions(self.partitions))
        return ""

    def owned_partitions(self, total: int) -> list[int] | None:
        """The partitions this projector owns out of ``total``; None = all of them."""
        if self.shard:
            index, count = parse_shard(self.shard)
            return [p for p in range(total) if p % count == index]
        if self.partitions:
            parts = parse_partitions(self.partitions)
            missing = [p for p in parts if p >= total]
            if missing:
                raise ConfigError(f"partitions {missing} do not exist (the log has {total})")
            return parts
        return None

    def shard_path(self, index: int, count: int) -> Path:
        return self.home / f"projection-shard{index}of{count}.duckdb"

    @property
    def key_path(self) -> Path:
        return self.home / KEY_FILE

    def pseudonym_key(self) -> bytes:
        return load_key(self.home)


_ENV = {
    "log": "LINEAGE_LOG",
    "lock_timeout": "LINEAGE_LOCK_TIMEOUT",
    "batch_size": "LINEAGE_BATCH_SIZE",
    "segment_bytes": "LINEAGE_SEGMENT_BYTES",
    "kafka_bootstrap": "LINEAGE_KAFKA_BOOTSTRAP",
    "kafka_topic": "LINEAGE_KAFKA_TOPIC",
    "kafka_partitions": "LINEAGE_KAFKA_PARTITIONS",
    "kafka_replication": "LINEAGE_KAFKA_REPLICATION",
    "kafka_timeout": "LINEAGE_KAFKA_TIMEOUT",
    "kafka_security_protocol": "LINEAGE_KAFKA_SECURITY_PROTOCOL",
    "kafka_sasl_mechanism": "LINEAGE_KAFKA_SASL_MECHANISM",
    "kafka_sasl_username": "LINEAGE_KAFKA_SASL_USERNAME",
    "kafka_sasl_password": "LINEAGE_KAFKA_SASL_PASSWORD",
    "kafka_ssl_cafile": "LINEAGE_KAFKA_SSL_CAFILE",
    "kafka_ssl_certfile": "LINEAGE_KAFKA_SSL_CERTFILE",
    "kafka_ssl_keyfile": "LINEAGE_KAFKA_SSL_KEYFILE",
    "max_latency": "LINEAGE_MAX_LATENCY",
    "project_workers": "LINEAGE_PROJECT_WORKERS",
    "shard": "LINEAGE_SHARD",
    "partitions": "LINEAGE_PARTITIONS",
    "shards": "LINEAGE_SHARDS",
    "future_tolerance": "LINEAGE_FUTURE_TOLERANCE",
    "smtp_host": "LINEAGE_SMTP_HOST",
    "smtp_port": "LINEAGE_SMTP_PORT",
    "smtp_tls": "LINEAGE_SMTP_TLS",
    "smtp_user": "LINEAGE_SMTP_USER",
    "smtp_password": "LINEAGE_SMTP_PASSWORD",
    "smtp_from": "LINEAGE_SMTP_FROM",
    "smtp_timeout": "LINEAGE_SMTP_TIMEOUT",
    "public_url": "LINEAGE_PUBLIC_URL",
}


def resolve(home: str | Path | None = None, **flags: Any) -> Settings:
    """Build the settings. ``flags`` holds command-line values (None = not given)."""
    home_path = Path(home or os.environ.get("LINEAGE_HOME") or ".lineage")
    settings = Settings(home=home_path)
    types = {f.name: f.type for f in fields(Settings)}
    values: dict[str, Any] = {}
    config = home_path / CONFIG_FILE
    if config.exists():
        try:
            loaded = tomllib.loads(config.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{config}: {exc}") from None
        for key, value in loaded.items():
            if key not in _ENV:
                raise ConfigError(f"{config}: unknown setting {key!r}")
            values[key] = value
    for name, env in _ENV.items():
        if env in os.environ:
            values[name] = os.environ[env]
    for name, value in flags.items():
        if value is not None:
            values[name] = value
    converted: dict[str, Any] = {}
    for name, value in values.items():
        kind = types[name]
        try:
            if kind in ("float", float):
                converted[name] = float(value)
            elif kind in ("int", int):
                converted[name] = int(value)
            else:
                converted[name] = str(value)
        except ValueError:
            raise ConfigError(f"setting {name} = {value!r} is not a valid {kind}") from None
    if converted.get("log", "file") not in ("file", "kafka"):
        raise ConfigError(f"unknown log backend {converted['log']!r}: expected file or kafka")
    if converted.get("future_tolerance", 0) < 0:
        raise ConfigError("setting future_tolerance must be 0 or more (seconds)")
    if converted.get("project_workers", 0) < 0:
        raise ConfigError("setting project_workers must be 0 or more")
    if converted.get("smtp_tls", "starttls") not in ("starttls", "tls", "none"):
        raise ConfigError("setting smtp_tls must be starttls, tls or none")
    if converted.get("shard"):
        parse_shard(converted["shard"])
    if converted.get("partitions"):
        parse_partitions(converted["partitions"])
    if converted.get("shard") and converted.get("partitions"):
        raise ConfigError("give either a shard (i/n) or a partition list, not both")
    return replace(settings, **converted)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"``: shard i (from 0) of n owns the partitions p with p % n == i."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or n < 1 or not 0 <= i < n:
        raise ConfigError(f"shard {text!r} must be i/n with 0 <= i < n (e.g. 0/2)")
    return i, n


def parse_partitions(text: str) -> list[int]:
    try:
        parts = sorted({int(p) for p in text.split(",") if p.strip()})
    except ValueError:
        parts = []
    if not parts or parts[0] < 0:
        raise ConfigError(f"partitions {text!r} must be a comma-separated list like 0,2")
    return parts


def init_home(home: Path) -> bool:
    """Create the home and its key. False when it already existed (nothing is changed)."""
    key = home / KEY_FILE
    if key.exists():
        return False
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_secret(key, key_text(secrets.token_bytes(32)).encode())
    return True


def write_secret(path: Path, data: bytes) -> bool:
    """Create an owner-only file holding ``data``, durably; never overwrite one (False when
    it exists: another process made it first, and every later use depends on that one)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return True


def check_owner_only(path: Path, what: str, mode: int | None = None) -> None:
    """Refuse a secret file that others may read (``mode``: its st_mode, if known)."""
    mode = path.stat().st_mode if mode is None else mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{what} {path} is readable by others (mode {stat.S_IMODE(mode):o}): "
            f"run chmod 600 {path}"
        )


def load_key(home: Path) -> bytes:
    env = os.environ.get(KEY_ENV)
    if env is not None:
        return _hex_key(env.strip(), KEY_ENV)
    path = home / KEY_FILE
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(
            f"no pseudonym key at {path}: run `lineage init` or set {KEY_ENV}"
        ) from None
    check_owner_only(path, "pseudonym key", mode)
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    key = _hex_key(lines[0] if lines else "", str(path))
    # Every reference is keyed by these bytes: a flipped digit would silently name other
    # subjects, so the file carries a checksum of the key (homes made before it have none).
    if len(lines) > 2 or (len(lines) == 2 and lines[1] != _check_line(key)):
        raise ConfigError(
            f"pseudonym key {path} is damaged (its check line does not match the key): "
            "restore the file from a backup; every subject reference depends on it"
        )
    return key


def key_text(key: bytes) -> str:
    """The key file's content: the key in hex, then a check line."""
    return f"{key.hex()}\n{_check_line(key)}\n"


def _check_line(key: bytes) -> str:
    return "check " + hashlib.sha256(key).hexdigest()[:16]


def _hex_key(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"{where}: the pseudonym key must be hex digits") from None
    if len(key) < 16:
        raise ConfigError(f"{where}: the pseudonym key must be at least 32 hex digits")
    return key
