"""Rights requests through the e-mail and webhook channels: send, remind, take answers.

Order of every message (so a killed sender resumes without sending anything twice that
was on record as sent, and without skipping anyone):
  1. ``sending`` is appended for every task the message carries, with its Message-ID (or
     webhook delivery id) and the link id of its answer link, before it goes.
  2. The message goes: one SMTP transaction, or one signed POST.
  3. ``notified`` (step ``sent`` / ``delivered``, plus the answer a webhook gave at once) or
     ``failed`` (with the scrubbed reason) is appended.
A task found ``sending`` on resume went out or not; it is sent again with the same
Message-ID, delivery id (``Idempotency-Key``) and link, so a recipient that did get it can
tell the copy for what it is (RFC 5322 message identity). Transient failures are retried
with backoff; the rest stay ``failed`` with their reason until ``lineage erasure retry``.

E-mail batches: every task a run sends to one address goes in one message (at most
``BATCH_LIMIT`` requests), each request with its own signed single-use answer link. The
recipient confirms, reports holding nothing, or refuses with a reason, and may name its own
sub-processors: each becomes a task of the request (Art. 28(2), 28(4)). Raw identifiers
are in the message only: never in an event, resolved from the caller at send time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any

from lineage.channels.links import Link, link_key, sign
from lineage.errors import ConfigError, InputError
from lineage.events.model import Event
from lineage.rules.reasons import Reason, english
from lineage.rules.requests import Request, Task, notice_basis
from lineage.timeutil import iso

if TYPE_CHECKING:
    import httpx

    from lineage.catalog.model import Channel
    from lineage.channels.email import Item, Smtp
    from lineage.services.erasure.service import RequestService

BATCH_LIMIT = 100
MAX_SUBPROCESSORS = 20
SENT_CHANNELS = ("email", "webhook")
BASIS_TEXT = {"art28": "Art. 28(3)(g)", "art19": "Art. 19", "consent": "Art. 7(3), 21(3), 28(3)(a)"}
_NAME = re.compile(r"[\w][\w .,&()'/+-]{0,79}")

Batch = Sequence[tuple[Request, Mapping[str, str]]]


class Dispatcher:
    def __init__(
        self,
        service: RequestService,
        channels: Mapping[str, Channel],
        http: httpx.Client | None = None,
    ) -> None:
        self.s = service
        self.channels = channels
        self.settings = service.app.settings
        self._http = http
        self._smtp: Smtp | None = None
        self._key: bytes | None = None

    # -- what to send ---------------------------------------------------------------------
    def due(self, req: Request, task: Task, at: datetime) -> bool:
        """A task this channel should send now: not answered, not done, not refused, and
        (like an eraser) a retained one only once its retention has ended."""
        if task.channel not in SENT_CHANNELS or task.holder not in self.channels or req.completed:
            return False
        if req.completed or task.done or task.status in ("refused", "notified", "retained"):
            return task.status == "retained" and task.due(at)
        if task.action == "retain" and not task.due(at):
            return False
        return task.status in ("planned", "sending", "failed")

    def run(self, batch: Batch, *, reminders: bool = True) -> None:
        at = self.s.clock()
        mail: dict[tuple[str, str | None], list[tuple[Request, Task, Mapping[str, str]]]] = {}
        hooks: list[tuple[Request, Task, Mapping[str, str]]] = []
        for req, identifiers in batch:
            for task in list(req.tasks.values()):
                if not self.due(req, task, at):
                    continue
                if task.channel == "email":
                    # A message on record as sending goes again whole, as it was.
                    again = task.message_id if task.status == "sending" else None
                    address = self.channels[task.holder].email or ""
                    mail.setdefault((address, again), []).append((req, task, identifiers))
                else:
                    hooks.append((req, task, identifiers))
        try:
            for (address, again), items in mail.items():
                for i in range(0, len(items), BATCH_LIMIT):
                    self._email(address, items[i : i + BATCH_LIMIT], again)
            for req, task, identifiers in hooks:
                self._webhook(req, task, identifiers)
            if reminders:
                self.remind([req for req, _ in batch])
        finally:
            self.close()

    # -- e-mail ---------------------------------------------------------------------------
    def _smtp_session(self) -> Smtp:
        if self._smtp is None:
            from lineage.channels.email import Smtp

            self._smtp = Smtp(self.settings)
        return self._smtp

    def _email(
        self,
        address: str,
        items: list[tuple[Request, Task, Mapping[str, str]]],
        again: str | None,
    ) -> None:
        from lineage.channels.email import SendError, compose

        first = items[0][1]
        channel = self.channels[first.holder]
        ready: list[tuple[Request, Task, Item, str]] = []
        for req, task, identifiers in items:
            try:
                ready.append((req, task, *self._item(req, task, identifiers, channel, again)))
            except ConfigError as exc:
                self.s._append(self._failed(req, task, f"terminal: {exc}", task.attempts + 1))
        if not ready:
            return
        try:
            smtp = self._smtp_session()
        except ConfigError as exc:
            for req, task, _item, _link in ready:
                self.s._append(self._failed(req, task, f"terminal: {exc}", task.attempts + 1))
            return
        message_id = again or make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
        for n in range(self.s.retries):
            attempt = max(r[1].attempts for r in ready) + 1
            # Step 1: every task of the message is on record as sending before it goes.
            events: list[Event] = []
            for req, task, _item, link_id in ready:
                events += self._step(
                    req, task, "sending", None, message_id, link_id, attempt=attempt
                )
            self.s._append(events)
            msg = compose(
                sender=smtp.sender,
                controller=self._controller(),
                to=address,
                holder_name=self._holder_name(first.holder),
                lang=channel.lang,
                items=[r[2] for r in ready],
                message_id=message_id,
            )
            try:
                smtp.send(msg)  # Step 2
            except SendError as exc:
                kind = "transient" if exc.transient else "terminal"
                reason = f"{kind}: {self.s._scrub(exc.reason)}"
                events = []
                for req, task, _item, _link in ready:
                    events += self._failed(req, task, reason, attempt)
                self.s._append(events)
                if not exc.transient or n + 1 == self.s.retries:
                    return
                self.s.sleep(self.s.backoff * 2**n)
                continue
            events = []  # Step 3
            for req, task, _item, link_id in ready:
                note = "e-mailed to the privacy contact"
                events += self._step(req, task, "notified", "sent", message_id, link_id, note=note)
            self.s._append(events)
            return

    def _item(
        self,
        req: Request,
        task: Task,
        identifiers: Mapping[str, str],
        channel: Channel,
        again: str | None,
    ) -> tuple[Item, str]:
        link_id = task.link_id if again and task.link_id else uuid.uuid4().hex
        return self._item_of(
            req, task, link_id, self._identities(req, task, identifiers, channel)
        ), link_id

    def _item_of(
        self, req: Request, task: Task, link_id: str, identities: Mapping[str, str]
    ) -> Item:
        from lineage.channels.email import Item

        return Item(
            request_id=req.request_id,
            kind=req.kind,
            action=task.action,
            basis=notice_basis(req.kind, task.action),
            categories=task.categories,
            purpose=req.purpose,
            deadline=iso(req.deadline) or "",
            link=self._url("answer", req, task, link_id),
            identities=identities,
        )

    def remind(self, requests: Iterable[Request]) -> int:
        """One reminder for every e-mailed task unanswered close to its deadline, batched
        per address; it quotes the request and its link (no identifiers: the first message
        had them). Returns the number of tasks reminded."""
        from lineage.channels.email import SendError, compose

        at = self.s.clock()
        groups: dict[str, list[tuple[Request, Task]]] = {}
        for req in requests:
            for task in req.tasks.values():
                if task.holder in self.channels and task.reminder_due(at, req.deadline):
                    address = self.channels[task.holder].email or ""
                    groups.setdefault(address, []).append((req, task))
        count = 0
        for address, pairs in groups.items():
            channel = self.channels[pairs[0][1].holder]
            try:
                smtp = self._smtp_session()
                self._url("answer", pairs[0][0], pairs[0][1], "check")
            except ConfigError:
                continue  # nothing to send with: the next reminder run tries again
            message_id = make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
            items = [self._item_of(req, task, task.link_id or "", {}) for req, task in pairs]
            msg = compose(
                sender=smtp.sender,
                controller=self._controller(),
                to=address,
                holder_name=self._holder_name(pairs[0][1].holder),
                lang=channel.lang,
                items=items,
                message_id=message_id,
                reminder=True,
            )
            firsts = sorted({t.message_id for _, t in pairs if t.message_id})
            if firsts:
                msg["In-Reply-To"] = firsts[0]
                msg["References"] = " ".join(firsts)
            try:
                smtp.send(msg)
            except SendError as exc:
                note = f"reminder not sent: {self.s._scrub(exc.reason)}"
                step, status = "reminder_failed", "notified"
            else:
                note, step, status = "reminder e-mailed", "reminded", "notified"
                count += len(pairs)
            events: list[Event] = []
            for req, task in pairs:
                events += self._step(req, task, status, step, message_id, task.link_id, note=note)
            self.s._append(events)
        self.close()
        return count

    # -- webhook --------------------------------------------------------------------------
    def _client(self) -> httpx.Client:
        if self._http is None:
            import httpx

            self._http = httpx.Client(timeout=self.s.timeout, follow_redirects=False)
        return self._http

    def _webhook(self, req: Request, task: Task, identifiers: Mapping[str, str]) -> None:
        import httpx

        from lineage.channels import webhook

        channel = self.channels[task.holder]
        again = task.status == "sending" and task.message_id
        uid = task.message_id if again and task.message_id else str(uuid.uuid4())
        link_id = task.link_id if again and task.link_id else uuid.uuid4().hex
        try:
            key = webhook.secret(channel, self.settings.home)
            body = webhook.request_body(
                uid=uid,
                controller=str(self._controller().get("name") or ""),
                kind=req.kind,
                request_id=req.request_id,
                holder=task.holder,
                action=task.action,
                basis=BASIS_TEXT[notice_basis(req.kind, task.action)],
                identities=self._identities(req, task, identifiers, channel),
                categories=task.categories,
                purpose=req.purpose,
                submitted=req.received_at.timestamp(),
                due=req.deadline.timestamp(),
                callback=self._url("callback", req, task, link_id),
            )
        except ConfigError as exc:
            self.s._append(self._failed(req, task, f"terminal: {exc}", task.attempts + 1))
            return
        url = channel.url or ""
        for n in range(self.s.retries):
            attempt = task.attempts + 1
            self.s._append(self._step(req, task, "sending", None, uid, link_id, attempt=attempt))
            error, transient = None, False
            try:
                response = self._client().post(
                    url, content=body, headers=webhook.headers(key, body, uid)
                )
            except httpx.TimeoutException:
                error, transient = f"POST {url}: no answer within {self.s.timeout:g}s", True
            except httpx.TransportError as exc:
                error, transient = f"POST {url}: {exc}", True
            else:
                code = response.status_code
                if code == 429 or code >= 500:
                    error, transient = f"POST {url} -> {code}", True
                elif code >= 300:
                    error = f"POST {url} -> {code}: {response.text[:300]}"
                else:
                    self._delivered(req, task, uid, link_id, response.content, code)
                    return
            self.s._append(
                self._failed(
                    req,
                    task,
                    f"{'transient' if transient else 'terminal'}: {self.s._scrub(error)}",
                    attempt,
                )
            )
            if not transient or n + 1 == self.s.retries:
                return
            self.s.sleep(self.s.backoff * 2**n)

    def _delivered(
        self, req: Request, task: Task, uid: str, link_id: str, content: bytes, code: int
    ) -> None:
        from lineage.channels import webhook

        events = self._step(req, task, "notified", "delivered", uid, link_id, note=f"HTTP {code}")
        if code != 202 and content.strip():
            try:
                # Names are checked before anything changes: a bad answer records none of it.
                answer = webhook.parse_answer(content, "response")
                if answer.step is not None:
                    events += self.answer(
                        req, task, answer.step, answer.reason, answer.sub_processors,
                        "webhook", link_id,
                    )  # fmt: skip
            except InputError as exc:
                events += self._step(
                    req, task, "notified", "delivered", uid, link_id,
                    note=f"answer not understood ({exc.problem}): awaiting the callback",
                )  # fmt: skip
        self.s._append(events)

    # -- answers --------------------------------------------------------------------------
    def answer(
        self,
        req: Request,
        task: Task,
        step: str,
        reason: str | None,
        sub_processors: Iterable[str],
        via: str,
        link_id: str | None,
    ) -> list[Event]:
        """The events of a holder's answer; sub-processors it names become tasks first, so
        the request is not completed before they are done."""
        names = check_names(sub_processors, self.s._scrub)
        events: list[Event] = []
        for name in names:
            action = "notify" if task.action == "notify" else "erase"
            if name == task.holder or (name, action) in req.tasks:
                continue
            why = (Reason("task.sub_processor", {"holder": task.holder}),)
            sub = Task(
                name,
                action,
                task.categories,
                reason=english(why),
                reason_parts=why,
                executor=self.channels[name].kind if name in self.channels else None,
                channel=self.channels[name].kind if name in self.channels else None,
            )
            req.tasks[sub.key] = sub
            events += self.s._update(req, sub, "planned", channel=sub.channel, step="sub_processor")
        if step == "refused":
            text = self.s._scrub(reason) or "no reason given"
            return events + self._step(
                req, task, "refused", "refused", task.message_id, link_id, reason=text
            )
        said = "holds nothing" if step == "nothing_held" else "confirmed"
        note = f"{task.holder} {said} via {via}"
        if reason:
            note += f": {self.s._scrub(reason)}"
        if names:
            note += f"; sub-processors: {', '.join(names)}"
        return events + self._step(
            req, task, "confirmed", step, task.message_id, link_id, note=note
        )

    # -- helpers --------------------------------------------------------------------------
    def _step(
        self,
        req: Request,
        task: Task,
        status: str,
        step: str | None,
        message_id: str | None,
        link_id: str | None,
        *,
        note: str | None = None,
        reason: str | None = None,
        attempt: int = 0,
    ) -> list[Event]:
        return self.s._update(
            req,
            task,
            status,
            reason=reason,
            note=note,
            attempt=attempt,
            channel=task.channel,
            step=step,
            message_id=message_id,
            link_id=link_id,
        )

    def _failed(self, req: Request, task: Task, reason: str, attempt: int) -> list[Event]:
        return self._step(
            req, task, "failed", "failed", task.message_id, task.link_id,
            reason=reason, attempt=attempt,
        )  # fmt: skip

    def _identities(
        self, req: Request, task: Task, identifiers: Mapping[str, str], channel: Channel
    ) -> dict[str, str]:
        wanted = channel.identities or list(identifiers)
        found = {k: identifiers[k] for k in wanted if k in identifiers}
        if not found:
            kinds = ", ".join(wanted) or "email"
            raise ConfigError(
                f"no identifier {task.holder} knows the subject by ({kinds}) was given: "
                f"`lineage erasure run {req.request_id} --id KIND=VALUE`"
            )
        return found

    def _link_key(self) -> bytes:
        if self._key is None:
            self._key = link_key(self.settings.pseudonym_key())
        return self._key

    def _url(self, purpose: str, req: Request, task: Task, link_id: str) -> str:
        base = self.settings.public_url.rstrip("/")
        if not base:
            raise ConfigError(
                "no public_url (LINEAGE_PUBLIC_URL): the address of `lineage serve` that "
                "recipients answer at"
            )
        token = sign(
            self._link_key(), Link(req.request_id, task.holder, task.action, link_id, purpose)
        )
        return f"{base}/hooks/channels/{purpose}/{token}"

    def _controller(self) -> dict[str, Any]:
        catalog = self.s.app.catalog(check_taxonomy=False)
        if catalog is None:
            return {"name": None, "contact": None}
        c = catalog.doc.controller
        return {"name": c.name, "contact": c.contact}

    def _holder_name(self, holder: str) -> str:
        catalog = self.s.app.catalog(check_taxonomy=False)
        h = catalog.holders.get(holder) if catalog is not None else None
        return (h.name if h is not None and h.name else None) or holder

    def close(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


def check_names(names: Iterable[str], scrub: Any) -> list[str]:
    """Sub-processor names from outside: short names, no identifiers in them."""
    out: list[str] = []
    names = list(names)
    if len(names) > MAX_SUBPROCESSORS:
        raise InputError(
            f"at most {MAX_SUBPROCESSORS} sub-processors in one answer", "sub_processors"
        )
    for raw in names:
        name = " ".join(str(raw).split())
        if not name:
            continue
        if not _NAME.fullmatch(name) or scrub(name) != name:
            raise InputError(f"sub-processor {name[:40]!r} is not a company name", "sub_processors")
        if name not in out:
            out.append(name)
    return out
