"""The webhook receiver: a Starlette app with one route per connector, ``/hooks/NAME``.

Per delivery: verify the signature (4xx when it fails), map, and unless the delivery id was
seen before, append the events to the log and remember the id, both durable, before the
2xx. Appends are serialised: the log has one writer, and the seen-set check and the append
must not interleave between two copies of the same delivery.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Connector, MappingContext, WebhookHandler, WebhookRequest
from connectors.errors import PayloadError, SignatureError
from connectors.webhooks import SeenDeliveries
from lineage.edge.identity import Pseudonymizer
from lineage.errors import LineageError
from lineage.events.model import Event

if TYPE_CHECKING:
    from starlette.applications import Starlette

Sink = Callable[[Sequence[Event]], Any]


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
            self.routes[c.name] = (handler, ctx, SeenDeliveries(seen_dir / f"{c.name}.seen"))
        self.sink = sink
        self.clock = clock
        self._lock = threading.Lock()
        self.counts = {"accepted": 0, "duplicates": 0, "rejected": 0}

    def deliver(self, name: str, request: WebhookRequest) -> tuple[int, dict[str, Any]]:
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
        if delivery.delivery_id is None:
            return 200, {"recorded": 0}
        with self._lock:
            if delivery.delivery_id in seen:
                self.counts["duplicates"] += 1
                return 200, {"recorded": 0, "duplicate": True}
            try:
                if delivery.events:
                    self.sink(delivery.events)
                seen.add(delivery.delivery_id)
            except (LineageError, OSError) as exc:
                # Not recorded: a 5xx makes the vendor deliver it again later.
                return 503, {"error": f"not recorded: {exc}"}
            self.counts["accepted"] += 1
        return 200, {"recorded": len(delivery.events)}

    def app(self) -> Starlette:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def hook(request: Request) -> JSONResponse:
            from starlette.concurrency import run_in_threadpool

            body = await request.body()
            incoming = WebhookRequest(
                method=request.method,
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                query=dict(request.query_params),
                body=body,
            )
            # The log append blocks on fsync: keep it off the event loop.
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
