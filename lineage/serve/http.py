"""HTTP hygiene around the API: body limits and timeouts, the access log.

- ``Limits`` (ASGI middleware): a body larger than its route allows gets 413 as soon as the
  ``Content-Length`` says so or the streamed bytes pass the limit (never read whole first);
  a body that stalls longer than ``body_timeout`` between chunks gets 408. The application
  then sees the client as gone, so it records nothing.
- ``AccessLog`` (ASGI middleware): method, route template, status, duration, token name, and
  for answers computed under the service's bound on concurrent answers, the time spent
  computing (``work``) apart from the time spent waiting for a turn. Never the path as sent,
  query strings or bodies: they may hold identifiers.
The header timeout (uvicorn has none) is the webhook receiver's:
``lineage.ingest.server.header_timeout_protocol``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("lineage.access")

# Seconds a request spent computing its answer, set where the work is done (a threadpool
# thread: it sees the request's context, so it can fill the request's own list).
_work: ContextVar[list[float] | None] = ContextVar("lineage_work", default=None)


# Requests between their start and end in ``Limits``, the outermost layer the service always
# has (it runs on the event loop's thread only).
_in_flight = 0


def requests_in_flight() -> int:
    """How many requests the service is handling now: background work waits for none."""
    return _in_flight


def note_work(seconds: float) -> None:
    """Add ``seconds`` of answering to the current request's access-log line."""
    spent = _work.get()
    if spent is not None:
        spent.append(seconds)


async def _reply(send: Send, status: int, error: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is never read: the connection cannot be reused.
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Limits:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        large_body_paths: frozenset[str],
        max_large_body: int,
        body_timeout: float,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.large = large_body_paths
        self.max_large = max_large_body
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        global _in_flight
        _in_flight += 1
        try:
            await self._limited(scope, receive, send)
        finally:
            _in_flight -= 1

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_large if scope["path"] in self.large else self.max_body
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    await _reply(send, 400, "Content-Length is not a number", [])
                    return
                if int(value) > limit:
                    scope.setdefault("state", {})["status"] = 413
                    await _reply(send, 413, f"body larger than {limit} bytes", [])
                    return
        received = 0
        done = False
        replied = False
        started = False

        async def answer(status: int, error: str) -> Message:
            nonlocal replied
            if not started and not replied:
                await _reply(send, status, error, [])
            replied = True
            scope.setdefault("state", {})["status"] = status
            return {"type": "http.disconnect"}

        async def limited_receive() -> Message:
            nonlocal received, done
            if replied:
                return {"type": "http.disconnect"}
            if done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError:
                return await answer(408, f"no body data for {self.body_timeout:g}s")
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    return await answer(413, f"body larger than {limit} bytes")
                done = not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if replied:
                return  # the application's answer to a body it never got
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 0
        work: list[float] = []
        _work.set(work)

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            state = scope.get("state") or {}
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "/hooks/{name}" if scope["path"].startswith("/hooks/") else "-"
            )
            access_log.info(
                "%s %s %s %.1fms token=%s%s",
                scope["method"],
                template,
                status or state.get("status", 0),
                (time.perf_counter() - began) * 1000,
                state.get("token", "-"),
                f" work={sum(work) * 1000:.1f}ms" if work else "",
            )
