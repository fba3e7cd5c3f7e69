"""Real recipients on 127.0.0.1 for the channel tests and the benchmark: an SMTP server
(aiosmtpd) that keeps and parses what it accepts and can refuse or stall, and a webhook
receiver that checks the signature and answers as told."""

from __future__ import annotations

import email
import email.policy
import json
import random
import threading
from collections.abc import Callable
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from lineage.channels import webhook


class Mailbox:
    """aiosmtpd handler: refuses addresses in ``refuse`` (550), stalls while ``stall`` is
    set for the address in ``stall_for``, keeps every accepted message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self.fail_first: dict[str, int] = {}
        self.stall_for: str | None = None
        # Keeps the message for this address, then stalls before its "250 accepted".
        self.stall_after_data_for: str | None = None
        # The benchmark's faults: this share of messages is refused (451) at its first DATA.
        self.fail_rate = 0.0
        self.rng = random.Random(0)
        self.refused = 0
        self._seen: set[str] = set()
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        import asyncio

        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        with self.lock:
            left = self.fail_first.get(address, 0)
            if left:
                self.fail_first[address] = left - 1
                return "451 4.3.0 try again later"
        if address == self.stall_for:
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            first = msg["Message-ID"] not in self._seen
            self._seen.add(msg["Message-ID"])
            if first and self.fail_rate and self.rng.random() < self.fail_rate:
                self.refused += 1
                return "451 4.3.0 try again later"
            self.messages.append(msg)  # type: ignore[arg-type]
        if self.stall_after_data_for in envelope.rcpt_tos:
            import asyncio

            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


def smtp_server(port: int, tls: Any = None) -> tuple[Controller, Mailbox]:
    """The server; with an ``ssl.SSLContext`` it offers STARTTLS and requires it."""
    box = Mailbox()
    extra = {"tls_context": tls, "require_starttls": True} if tls is not None else {}
    controller = Controller(box, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    return controller, box


class Receiver:
    """A recipient's webhook endpoint: verifies the signature, records the request, and
    answers with ``reply(doc) -> (status, body)``."""

    def __init__(self, secret: bytes, reply: Callable[[dict[str, Any]], tuple[int, Any]]) -> None:
        self.secret = secret
        self.reply = reply
        self.received: list[dict[str, Any]] = []
        self.bad_signatures = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    webhook.check_signature(
                        outer.secret, body, {k.lower(): v for k, v in self.headers.items()}
                    )
                except Exception:
                    outer.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                doc = json.loads(body)
                outer.received.append(doc)
                status, answer = outer.reply(doc)
                data = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/dsr"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def status_event(
    uid: str, status: str, reason: str | None = None, subs: list[str] | None = None
) -> bytes:
    doc = {
        "apiVersion": webhook.API_VERSION,
        "kind": "DeleteStatusEvent",
        "metadata": {"uid": uid},
        "event": {"status": status, "reason": reason, "subProcessors": subs or []},
    }
    return json.dumps(doc).encode()
