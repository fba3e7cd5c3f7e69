"""A small holder API on 127.0.0.1 for eraser tests: answers like a real deletion endpoint.

Each holder (``POST /erase/<holder>``) erases the subject the first time (200) and has
nothing left afterwards (404). Tests script other answers per holder (``script``) and the
body of its error answers (``reply``), make a holder hang (``hang``) or hold a request open
until released (``block``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class HolderAPI:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.erased: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.script: dict[str, list[int]] = defaultdict(list)
        self.hang: dict[str, float] = {}
        self.reply: dict[str, bytes] = {}
        self.block: dict[str, threading.Event] = {}
        self.entered: dict[str, threading.Event] = defaultdict(threading.Event)
        self._held: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                holder = self.path.rsplit("/", 1)[-1]
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = api.answer(holder, body)
                payload = api.reply.get(holder, b'{"error": "busy"}') if status >= 400 else b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def holds(self, holder: str, email: str) -> None:
        self._held.add((holder, email))

    def answer(self, holder: str, body: dict[str, Any]) -> int:
        with self._lock:
            self.calls[holder] += 1
            self.bodies.append(body)
            scripted = self.script[holder].pop(0) if self.script[holder] else None
        if holder in self.hang:
            time.sleep(self.hang[holder])
        if scripted is not None:
            return scripted
        key = (holder, body["identifiers"].get("email", ""))
        with self._lock:
            if key not in self._held:
                status = 404
            else:
                self._held.discard(key)
                self.erased[holder] += 1
                status = 200
        self.entered[holder].set()
        if holder in self.block:
            self.block[holder].wait(30)
        return status

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/erase/{{holder}}"

    def __enter__(self) -> HolderAPI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for event in self.block.values():
            event.set()
        self.server.shutdown()
        self.server.server_close()
