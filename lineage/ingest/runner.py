"""Wiring for commands and the demo: a connector by name, its config, and a sync of all
(or some) of its resources into a sink."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage.edge.identity import Pseudonymizer
from lineage.errors import InputError
from lineage.events.taxonomy import Taxonomy, default_taxonomy, suggest
from lineage.events.validate import RecordValidator
from lineage.ingest.base import Connector, MappingContext
from lineage.ingest.config import load_config
from lineage.ingest.http import RetryPolicy
from lineage.ingest.paginate import Page
from lineage.ingest.record import Sink
from lineage.ingest.registry import load
from lineage.ingest.state import StateStore
from lineage.ingest.sync import CHECKPOINT_SECONDS, SyncResult, sync_resource

if TYPE_CHECKING:
    from datetime import datetime

    import httpx


def state_root(home: Path) -> Path:
    return home / "connectors" / "state"


def open_connector(
    name: str, home: Path | None, overrides: Mapping[str, Any] | None = None
) -> Connector:
    cls = load(name)
    config = load_config(cls.config_class, cls.name, home, overrides)
    return cls(config, home)


def run(
    connector: Connector,
    pseudo: Pseudonymizer,
    sink: Sink,
    store: StateStore,
    *,
    resources: Sequence[str] = (),
    since: datetime | None = None,
    dry_run: bool = False,
    client: httpx.Client | None = None,
    retry: RetryPolicy | None = None,
    on_page: Callable[[SyncResult, Page], None] | None = None,
    catalog: Mapping[str, Any] | None = None,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    taxonomy: Taxonomy | None = None,
) -> list[SyncResult]:
    """Sync the resources in order; stops at the first failure (earlier resources keep
    their new watermarks, the failing one keeps its old one)."""
    available = {r.name: r for r in connector.resources()}
    for name in resources:
        if name not in available:
            hint = suggest(name, available)
            mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise InputError(
                f"{connector.name} has no resource {name!r}{mean}; it has " + ", ".join(available),
                "--resource",
            )
    chosen = [available[n] for n in resources] if resources else list(available.values())
    if connector.name == "zendesk-sell" and not resources:
        chosen = [available["sync"]]  # the full listings are for a one-off backfill
    ctx = MappingContext(connector.name, pseudo, connector.mapping_defaults(catalog))
    # One validator for the run: it remembers every combination of fields it has checked.
    validator = RecordValidator(taxonomy or default_taxonomy())
    own = client is None
    client = client or connector.make_client()
    try:
        api = connector.api(client, retry=retry)
        return [
            sync_resource(
                connector,
                resource,
                api,
                ctx,
                store,
                sink,
                since=since,
                dry_run=dry_run,
                on_page=on_page,
                validator=validator,
                checkpoint_seconds=checkpoint_seconds,
            )
            for resource in chosen
        ]
    finally:
        if own:
            client.close()
