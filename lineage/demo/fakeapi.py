"""A fake vendor API on 127.0.0.1: regex routes, injected faults, a request log.

A real HTTP server (threaded ``http.server``), so connectors are exercised through httpx's
real transport: tests, the demo and the benchmark all use it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    match: re.Match[str] | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class FakeResponse:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[FakeRequest], FakeResponse]


@dataclass
class _Fault:
    method: str | None
    pattern: re.Pattern[str]
    response: FakeResponse
    times: int


class FakeApi:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.faults: list[_Fault] = []
        self.log: list[tuple[float, str, str, int]] = []  # (time, method, path, status)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern + r"\Z"), handler))

    def fault(
        self,
        pattern: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` instead."""
        response = FakeResponse(status, json_body, body, dict(headers or {}))
        with self._lock:
            self.faults.append(_Fault(method, re.compile(pattern), response, times))

    def requests(self, pattern: str = "") -> list[tuple[float, str, str, int]]:
        rx = re.compile(pattern)
        return [entry for entry in self.log if rx.search(entry[2])]

    def dispatch(self, request: FakeRequest) -> FakeResponse:
        with self._lock:
            for fault in self.faults:
                hit = fault.times > 0 and fault.pattern.search(request.path)
                if hit and fault.method in (None, request.method):
                    fault.times -= 1
                    return fault.response
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                request.match = match
                return handler(request)
        return FakeResponse(404, {"error": f"no route for {request.method} {request.path}"})

    # -- server ---------------------------------------------------------------------------
    def start(self) -> str:
        api = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the benchmark measures the client

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                request = FakeRequest(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                response = api.dispatch(request)
                # Logged before answering: a client that has its answer may read the log.
                api.log.append((time.monotonic(), self.command, parts.path, response.status))
                body = response.body
                if body is None:
                    body = b"" if response.json is None else json.dumps(response.json).encode()
                self.send_response(response.status)
                headers = dict(response.headers)
                if response.json is not None:
                    headers.setdefault("Content-Type", "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: tests read ``api.log``

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeApi:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
