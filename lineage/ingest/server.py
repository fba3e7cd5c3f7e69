"""The webhook receiver: a Starlette app with one route per connector, ``/hooks/NAME``.

Per delivery: verify the signature (4xx when it fails) and map, on the request's own thread;
then, unless the delivery id was seen before, hand it to the group commit and answer 2xx only
once its events are durable in the log and its id is remembered.

Group commit (``Receiver._commit``): deliveries that arrive while an append is in flight
queue up; the next writer takes everything queued and, in one step:

1. drops deliveries whose id was seen before or appears earlier in the same batch
   (duplicates: answered 200 without recording);
2. appends the events of all the others in one log append (one fsync for the batch);
3. appends their ids to the seen-files (one write + fsync per connector);
4. releases every waiter with its answer.

A failure at 2 answers 503 to the whole batch (nothing was recorded; the vendors retry). A
crash or failure between 2 and 3 leaves events in the log whose ids are not remembered: the
vendor retries, the same events (their ids derive from the delivery) are appended again, and
the projector keeps one of each. The id is never remembered before the events are durable,
so a delivery is never acknowledged without its events. One writer at a time: the log has one
writer, and the seen check and the append must not interleave between two copies of the same
delivery.

Hostile clients (``Limits``): a body is read as a stream and refused with 413 past
``max_body`` (before any signature check), 408 when it is not complete within
``body_timeout``; request headers must be complete within ``header_timeout`` and
``max_header_bytes``; idle keep-alive connections close after ``keep_alive``; past
``max_connections`` open connections uvicorn answers 503. A delivery that cannot be read
(nesting, numbers or times out of range) is a 400: a 500 would make the vendor retry it for
days.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lineage.edge.identity import Pseudonymizer
from lineage.errors import LineageError
from lineage.ingest.base import (
    Connector,
    MappingContext,
    WebhookDelivery,
    WebhookHandler,
    WebhookRequest,
)
from lineage.ingest.errors import PayloadError, SignatureError
from lineage.ingest.record import Sink
from lineage.ingest.webhooks import DAY, SeenDeliveries

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse

Answer = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class Limits:
    """What one client may cost the receiver. Vendors' deliveries are small (Stripe's
    largest events are a few hundred kilobytes) and sent at once."""

    max_body: int = 1024 * 1024
    body_timeout: float = 10.0
    header_timeout: float = 10.0
    max_header_bytes: int = 16 * 1024
    keep_alive: float = 5.0
    max_connections: int = 256


@dataclass(eq=False)
class _Pending:
    seen: SeenDeliveries
    delivery: WebhookDelivery
    answer: Answer | None = None  # set by the writer


class Receiver:
    def __init__(
        self,
        connectors: Sequence[Connector],
        pseudo: Pseudonymizer,
        sink: Sink,
        seen_dir: Path,
        clock: Callable[[], float] = time.time,
        catalog: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.routes: dict[str, tuple[WebhookHandler, MappingContext, SeenDeliveries]] = {}
        for c in connectors:
            handler = c.webhook()
            if handler is None:
                continue
            ctx = MappingContext(c.name, pseudo, c.mapping_defaults((catalog or {}).get(c.name)))
            seen = SeenDeliveries(
                seen_dir / f"{c.name}.seen", window=c.webhook_retry_horizon + DAY, clock=clock
            )
            self.routes[c.name] = (handler, ctx, seen)
        self.sink = sink
        self.clock = clock
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._writing = False
        self.counts = {"accepted": 0, "duplicates": 0, "rejected": 0, "commits": 0}

    def deliver(self, name: str, request: WebhookRequest) -> Answer:
        """(status, JSON body) for one request; the web framework is only the transport."""
        route = self.routes.get(name)
        if route is None:
            return 404, {"error": f"no webhook route for {name!r}"}
        handler, ctx, seen = route
        try:
            delivery = handler.handle(request, ctx, self.clock())
        except SignatureError as exc:
            self.counts["rejected"] += 1
            return 401, {"error": exc.reason}
        except PayloadError as exc:
            self.counts["rejected"] += 1
            return 400, {"error": exc.problem}
        except (RecursionError, OverflowError, ValueError) as exc:
            # A body no handler anticipated (nesting, huge numbers): the sender's fault, and a
            # 500 would make the vendor send it again for days.
            self.counts["rejected"] += 1
            return 400, {"error": f"unreadable delivery ({type(exc).__name__})"}
        if delivery.delivery_id is None:
            return 200, {"recorded": 0}
        if delivery.delivery_id in seen:  # the common retry, answered without queueing
            with self._cond:
                self.counts["duplicates"] += 1
            return 200, {"recorded": 0, "duplicate": True}
        return self._commit(_Pending(seen, delivery))

    def _commit(self, pending: _Pending) -> Answer:
        """Queue the delivery; the first waiter that finds no writer active writes the whole
        queue, the others wait for their answer (see the module docstring)."""
        with self._cond:
            self._queue.append(pending)
            while pending.answer is None and self._writing:
                self._cond.wait()
            if pending.answer is not None:
                return pending.answer
            self._writing = True
            batch, self._queue = self._queue, []
        try:
            self._write(batch)
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()
        assert pending.answer is not None
        return pending.answer

    def _write(self, batch: list[_Pending]) -> None:
        # Step 1: duplicates, against the seen-files and within the batch.
        fresh: list[_Pending] = []
        ids: set[tuple[int, str]] = set()
        for p in batch:
            key = (id(p.seen), str(p.delivery.delivery_id))
            if p.delivery.delivery_id in p.seen or key in ids:
                p.answer = (200, {"recorded": 0, "duplicate": True})
                self.counts["duplicates"] += 1
                continue
            ids.add(key)
            fresh.append(p)
        if not fresh:
            return
        try:
            # Step 2: every event of the batch in one durable append.
            events = [e for p in fresh for e in p.delivery.events]
            if events:
                self.sink(events)
            # Step 3: remember the ids, only now that their events are durable.
            by_file: dict[int, tuple[SeenDeliveries, list[str]]] = {}
            for p in fresh:
                by_file.setdefault(id(p.seen), (p.seen, []))[1].append(str(p.delivery.delivery_id))
            for seen, delivered in by_file.values():
                seen.add_many(delivered)
        except (LineageError, OSError) as exc:
            # Not (fully) recorded: a 5xx makes the vendor deliver it again later.
            for p in fresh:
                p.answer = (503, {"error": f"not recorded: {exc}"})
            return
        # Step 4: the answers (the waiters are woken by the caller).
        self.counts["commits"] += 1
        for p in fresh:
            p.answer = (200, {"recorded": len(p.delivery.events)})
            self.counts["accepted"] += 1

    def app(self, limits: Limits | None = None) -> Starlette:
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        bounds = limits or Limits()

        async def hook(request: Request) -> JSONResponse:
            from starlette.concurrency import run_in_threadpool

            body = await _read_body(request, bounds)
            if isinstance(body, JSONResponse):
                self.counts["rejected"] += 1
                return body
            incoming = WebhookRequest(
                method=request.method,
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                query=dict(request.query_params),
                body=body,
            )
            # The group commit blocks on fsync: keep it off the event loop.
            status, payload = await run_in_threadpool(
                self.deliver, request.path_params["name"], incoming
            )
            return JSONResponse(payload, status_code=status)

        async def health(request: Request) -> JSONResponse:
            return JSONResponse({"routes": sorted(self.routes), **self.counts})

        return Starlette(
            routes=[
                Route("/hooks/{name}", hook, methods=["GET", "POST"]),
                Route("/health", health, methods=["GET"]),
            ]
        )


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limits: Limits) -> bytes | JSONResponse:
    """The body, streamed and capped; or the 4xx answer (the connection is then closed)."""
    from starlette.responses import JSONResponse

    close = {"Connection": "close"}
    declared = request.headers.get("content-length", "")
    if len(declared) > 12 or (declared.isdigit() and int(declared) > limits.max_body):
        return JSONResponse(
            {"error": f"body larger than {limits.max_body} bytes"}, 413, headers=close
        )
    chunks: list[bytes] = []

    async def gather() -> None:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limits.max_body:
                raise _TooLarge
            chunks.append(chunk)

    try:
        await asyncio.wait_for(gather(), limits.body_timeout)
    except _TooLarge:
        return JSONResponse(
            {"error": f"body larger than {limits.max_body} bytes"}, 413, headers=close
        )
    except TimeoutError:
        return JSONResponse(
            {"error": f"body not received within {limits.body_timeout:g}s"}, 408, headers=close
        )
    return b"".join(chunks)


def serve(receiver: Receiver, host: str, port: int, limits: Limits | None = None) -> None:
    """Run the receiver under uvicorn with ``limits`` (see the module docstring)."""
    import uvicorn

    bounds = limits or Limits()
    config = uvicorn.Config(
        receiver.app(bounds),
        host=host,
        port=port,
        log_level="warning",
        http=header_timeout_protocol(bounds.header_timeout),
        timeout_keep_alive=max(1, round(bounds.keep_alive)),
        limit_concurrency=bounds.max_connections,
        h11_max_incomplete_event_size=bounds.max_header_bytes,
    )
    uvicorn.Server(config).run()


def header_timeout_protocol(
    header_timeout: float, parser: Literal["h11", "httptools"] = "h11"
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol with a deadline for each request's headers.

    uvicorn arms its idle timer only after a response: a client that connects and never
    finishes its headers (or sends them a byte at a time) holds its connection forever.
    Here every connection, and every keep-alive cycle, must start its next request within
    ``header_timeout`` seconds or is closed. Used by ``connector serve`` and ``lineage
    serve`` alike. ``parser``: uvicorn's pure-Python h11 protocol (with its bound on the
    header bytes, ``connector serve``), or its httptools one (a C parser: ``lineage serve``,
    whose event loop parsing and writing h11's events was a fifth of its answers' CPU)."""
    base: type[Any]
    if parser == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol

    class GuardedProtocol(base):
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def _arm(self) -> None:
            self.loop.call_later(header_timeout, self._expire, self.cycle)

        def _expire(self, cycle: object) -> None:
            # No new request began since the deadline was set: its headers never came.
            if self.cycle is cycle and not self.transport.is_closing():
                self.transport.close()

    return GuardedProtocol
