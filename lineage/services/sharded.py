"""who-has over projection shards.

The shard that owns a subject is found with the producer's partitioner: partition =
murmur2(subject reference) mod partition count, shard = partition mod shard count. A subject's
identity links may name references owned by other shards, so the shards are widened until the
identity component's owners are all attached (usually one round).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from lineage.catalog.catalog import Catalog
from lineage.errors import ConfigError
from lineage.projection.shards import union_store
from lineage.services.app import App
from lineage.services.whohas import identity_component, who_has


def who_has_sharded(
    app: App, refs: list[str], when: datetime, count: int, catalog: Catalog | None = None
) -> dict[str, Any]:
    settings = app.settings
    log = app.log
    partitions = getattr(log, "partition_count", None)
    if partitions is None or log.kind != "kafka":
        raise ConfigError("--shards needs the Kafka log: shards own Kafka partitions")
    from lineage.log.kafka import partition_for

    def owner(ref: str) -> int:
        return partition_for(ref.encode(), partitions) % count

    needed = {owner(r) for r in refs}
    while True:
        paths = [settings.shard_path(i, count) for i in sorted(needed)]
        with union_store(paths, settings.lock_timeout) as store:
            more = {owner(r) for r in identity_component(store, refs, when)} - needed
            if not more:
                return who_has(store, refs, when, catalog)
        needed |= more


def who_has_across(
    app: App,
    refs: list[str],
    when: datetime,
    paths: list[Path],
    catalog: Catalog | None = None,
) -> dict[str, Any]:
    """who-has over projection files named by the caller (all shards, no partitioner)."""
    with union_store(paths, app.settings.lock_timeout) as store:
        return who_has(store, refs, when, catalog)
