"""Connector configuration: typed, resolved once, secrets never shown.

Order, as for lineage's own settings: environment ``LINEAGE_<CONNECTOR>_<SETTING>`` >
the connector's table in ``HOME/connectors.toml`` > default. A file holding secrets must be
readable by its owner only, like the pseudonym key.
"""

from __future__ import annotations

import os
import stat
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from lineage.errors import ConfigError

CONFIG_FILE = "connectors.toml"


class Secret:
    """A string that never prints. ``reveal()`` is the only way to the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('<hidden>')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class ConnectorConfig:
    """Base of every connector's config. ``base_url`` lets tests and the demo point a
    connector at a local server; ``None`` means the vendor's documented address."""

    base_url: str | None = None
    timeout: float = 30.0


C = TypeVar("C", bound=ConnectorConfig)


class MissingSettings(ConfigError):
    def __init__(self, connector: str, missing: list[str], places: str) -> None:
        super().__init__(f"{connector}: missing setting {', '.join(missing)}: {places}")
        self.missing = missing


def env_name(connector: str, setting: str) -> str:
    return f"LINEAGE_{connector.upper().replace('-', '_')}_{setting.upper()}"


def where_to_set(connector: str, setting: str, home: Path | None) -> str:
    file = (home / CONFIG_FILE) if home else Path(CONFIG_FILE)
    return f"set {env_name(connector, setting)} or {setting!r} under [{connector}] in {file}"


def read_table(home: Path | None, connector: str) -> dict[str, Any]:
    if home is None:
        return {}
    path = home / CONFIG_FILE
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    table = data.get(connector, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{connector}] must be a table")
    if table and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} holds connector secrets and is readable by others: chmod 600")
    return table


def load_config(
    cls: type[C],
    connector: str,
    home: Path | None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> C:
    """Build ``cls`` from overrides > environment > ``connectors.toml`` > defaults."""
    env = os.environ if environ is None else environ
    table = read_table(home, connector)
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"[{connector}] in {CONFIG_FILE}: unknown setting {unknown[0]!r}; "
            f"known: {', '.join(sorted(known))}"
        )
    values: dict[str, Any] = {}
    missing: list[str] = []
    for f in fields(cls):
        raw: Any = MISSING
        if overrides and overrides.get(f.name) is not None:
            raw = overrides[f.name]
        elif env_name(connector, f.name) in env:
            raw = env[env_name(connector, f.name)]
        elif f.name in table:
            raw = table[f.name]
        if raw is MISSING:
            if f.default is MISSING and f.default_factory is MISSING:
                missing.append(f.name)
            continue
        values[f.name] = _convert(connector, f.name, hints[f.name], raw)
    if missing:
        places = "; ".join(where_to_set(connector, m, home) for m in missing)
        raise MissingSettings(connector, missing, places)
    return cls(**values)


def _convert(connector: str, name: str, kind: Any, raw: Any) -> Any:
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1:
        kind = args[0]
    try:
        if kind is Secret:
            return raw if isinstance(raw, Secret) else Secret(str(raw))
        if kind is bool:
            return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
        if kind in (int, float):
            return kind(raw)
        if kind is str:
            return str(raw)
        if kind is Path:
            return Path(raw)
        return raw  # tables (dict) from the TOML file, as given
    except (TypeError, ValueError):
        raise ConfigError(f"{connector}: setting {name} = {raw!r} is not a valid {kind}") from None
