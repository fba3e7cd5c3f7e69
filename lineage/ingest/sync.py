"""Incremental sync of one resource, with the watermark moved only after the log has the
events.

The protocol, per run:

1. Start from the stored watermark (or ``--since``, or the checkpoint of an interrupted run).
2. For each page: map every record newer than the start (records at exactly the start value
   that were seen last time are skipped), validate the events, and append them to the log.
   ``append`` is durable on return.
3. Only then call the page's ``on_durable`` (vendors with acknowledged queues) and checkpoint
   the run: the next page to fetch and the highest cursor value seen. Checkpoints are
   throttled (at most one per ``checkpoint_seconds``, and never more than a tenth of the
   run's time), because a checkpoint carries every key at the highest cursor value, which
   grows with the run when a bulk import gave many records one timestamp.
4. After the last page, store the new watermark and forget the checkpoint.

A failure at any step leaves the watermark where it was. Events of a page that was appended
and then not checkpointed are appended again on the next run with the same ids (they derive
from the record's id and version), and the projector keeps one of each.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lineage.edge.identity import is_subject_ref
from lineage.errors import LineageError
from lineage.events.model import Event, utcnow
from lineage.events.taxonomy import default_taxonomy
from lineage.events.validate import RecordValidator
from lineage.ingest.base import Connector, MappingContext, Resource
from lineage.ingest.errors import ConnectorError, PayloadError
from lineage.ingest.http import Api
from lineage.ingest.paginate import Page
from lineage.ingest.record import Sink
from lineage.ingest.state import StateStore
from lineage.timeutil import iso, parse_time

# The longest a crash can set a sync back (it re-reads from the last checkpoint; the events
# it appends again carry the same ids).
CHECKPOINT_SECONDS = 2.0


@dataclass
class SyncResult:
    connector: str
    resource: str
    records: int = 0
    skipped: int = 0
    events: int = 0
    pages: int = 0
    previous: Any = None
    watermark: Any = None
    resumed: bool = False
    dry_run: bool = False
    http_seconds: float = 0.0
    map_seconds: float = 0.0
    log_seconds: float = 0.0
    state_seconds: float = 0.0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def dump_cursor(value: Any) -> Any:
    return iso(value) if isinstance(value, datetime) else value


def load_cursor(resource: Resource, value: Any) -> Any:
    if value is None:
        return None
    if resource.cursor_kind == "time":
        return parse_time(value)
    return int(value)


def sync_resource(
    connector: Connector,
    resource: Resource,
    api: Api,
    ctx: MappingContext,
    store: StateStore,
    sink: Sink,
    *,
    since: datetime | None = None,
    dry_run: bool = False,
    on_page: Callable[[SyncResult, Page], None] | None = None,
    validator: RecordValidator | None = None,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
) -> SyncResult:
    started = time.perf_counter()
    validator = validator or RecordValidator(default_taxonomy())
    state = store.load(connector.name, resource.name)
    result = SyncResult(connector.name, resource.name, previous=state.watermark, dry_run=dry_run)
    # Step 1: where this run starts.
    resume: dict[str, Any] | None = None
    if since is not None:
        start = since if resource.cursor_kind == "time" else None
        boundary: set[str] = set()
        high, high_keys = None, set()
    elif state.run:
        result.resumed = True
        run = state.run
        start = load_cursor(resource, run.get("since"))
        boundary = _keyed(ctx, resource, run.get("boundary") or [])
        resume = run.get("resume")
        high = load_cursor(resource, run.get("high"))
        high_keys = _keyed(ctx, resource, run.get("high_keys") or [])
    else:
        start = load_cursor(resource, state.watermark)
        boundary = _keyed(ctx, resource, state.boundary)
        high, high_keys = None, set()

    http_before = api.seconds
    checkpoint_due = 0.0
    for page in resource.read(api, start, resume):
        result.pages += 1
        t0 = time.perf_counter()
        ctx.recorded_at = utcnow()
        events: list[Event] = []
        for index, record in enumerate(page.records):
            label = f"{resource.name} record #{index + 1} of page {result.pages}"
            try:
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
                key = str(resource.key(record))
                label = f"{resource.name} record {key}"
                value = resource.cursor(record) if resource.cursor else None
                result.records += 1
                # State keeps the keyed reference: a vendor id may be an identifier (a
                # customer number) or an unkeyed hash of one (Mailchimp's member id).
                key = ctx.record_ref(resource.name, key)
                if _already_seen(value, key, start, boundary):
                    result.skipped += 1
                    continue
                mapped = resource.map(record, ctx)
                for event in mapped:
                    validator.check_event(event)
            except ConnectorError:
                raise
            except (LineageError, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise PayloadError(connector.name, _describe(exc), label) from None
            events.extend(mapped)
            if value is not None:
                if high is None or value > high:
                    high, high_keys = value, {key}
                elif value == high:
                    high_keys.add(key)
        ctx.recorded_at = None
        result.map_seconds += time.perf_counter() - t0
        result.events += len(events)
        if not dry_run:
            # Step 2: durable in the log (the whole page in one append: one fsync).
            t1 = time.perf_counter()
            if events:
                sink(events)
            result.log_seconds += time.perf_counter() - t1
            # Step 3: only now acknowledge and checkpoint. An acknowledged queue page is
            # always checkpointed: the vendor will not hand it out again.
            t2 = time.perf_counter()
            if page.on_durable is not None:
                page.on_durable()
            if page.resume is not None and (page.on_durable is not None or t2 >= checkpoint_due):
                state.run = {
                    "since": dump_cursor(start),
                    "boundary": sorted(boundary),
                    "resume": page.resume,
                    "high": dump_cursor(high),
                    "high_keys": sorted(high_keys),
                }
                store.save(connector.name, resource.name, state)
                now = time.perf_counter()
                checkpoint_due = now + max(checkpoint_seconds, 9 * (now - t2))
            result.state_seconds += time.perf_counter() - t2
        if on_page is not None:
            on_page(result, page)
    # Step 4: the new watermark.
    previous = load_cursor(resource, state.watermark)
    kept = _keyed(ctx, resource, state.boundary)
    if high is not None and (previous is None or high > previous):
        state.watermark, state.boundary = dump_cursor(high), sorted(high_keys)
    elif high is not None and high == previous:
        state.boundary = sorted(kept | high_keys)
    else:
        state.boundary = sorted(kept)
    state.run = None
    result.watermark = state.watermark
    if not dry_run:
        t3 = time.perf_counter()
        store.save(connector.name, resource.name, state)
        result.state_seconds += time.perf_counter() - t3
    result.http_seconds = api.seconds - http_before
    result.seconds = time.perf_counter() - started
    return result


def _keyed(ctx: MappingContext, resource: Resource, keys: Iterable[str]) -> set[str]:
    """Record keys as state keeps them; state written before keys were keyed is converted."""
    return {k if is_subject_ref(k) else ctx.record_ref(resource.name, k) for k in keys}


def _already_seen(value: Any, key: str, start: Any, boundary: set[str]) -> bool:
    if value is None or start is None:
        return False
    return bool(value < start or (value == start and key in boundary))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc) or type(exc).__name__
