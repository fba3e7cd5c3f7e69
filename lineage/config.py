"""Settings, resolved once in one order: flag > LINEAGE_* environment > config file in the
lineage home (``config.toml``) > default. Secrets are never part of ``repr``."""

from __future__ import annotations

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
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def log_dir(self) -> Path:
        return self.home / "log"

    @property
    def projection_path(self) -> Path:
        return self.home / "projection.duckdb"

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
    return replace(settings, **converted)


def init_home(home: Path) -> bool:
    """Create the home and its key. False when it already existed (nothing is changed)."""
    key = home / KEY_FILE
    if key.exists():
        return False
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return True


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
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"pseudonym key {path} is readable by others (mode {stat.S_IMODE(mode):o}): "
            f"run chmod 600 {path}"
        )
    return _hex_key(path.read_text().strip(), str(path))


def _hex_key(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"{where}: the pseudonym key must be hex digits") from None
    if len(key) < 16:
        raise ConfigError(f"{where}: the pseudonym key must be at least 32 hex digits")
    return key
