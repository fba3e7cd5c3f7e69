"""Rights requests, end to end: record, plan, execute, confirm, extend, report.

Order of every request (the request can never be lost, and no work is repeated):
  1. ``ErasureRequested`` is appended (durable) before anything else happens.
  2. The plan is appended as one batch of ``ErasureTaskUpdated`` (planned / retained).
  3. Each task with an eraser: ``notified`` (attempt N) is appended, the eraser is called,
     then ``confirmed`` (+ ``DataErased``), ``refused`` or ``failed`` is appended. Transient
     failures are retried with exponential backoff.
  4. The update that makes every task done also appends ``ErasureCompleted``.
A crash anywhere leaves the log at one of these steps. ``run`` resumes from the log: it
re-plans a request that has no tasks yet, skips done tasks, and calls the eraser again for
a task whose latest state is planned, notified (a call in flight at the crash) or failed;
erasers are idempotent (nothing left to erase counts as erased), so the holder erases once
and the task is confirmed once. Raw identifiers live only in the invocation: a resumed run
needs them again (``lineage erasure run REQUEST --id email=...``).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lineage.edge.identity import normalise
from lineage.erasers import Eraser, EraserRegistry, ErasureTarget, Outcome, Withdrawer
from lineage.errors import (
    EraserError,
    InputError,
    LinkUsedError,
    OpenRequestError,
    RequestError,
    TransientEraserError,
    UnknownRequestError,
)
from lineage.events.model import (
    DataErased,
    ErasureCompleted,
    ErasureExtended,
    ErasureRequested,
    ErasureTaskUpdated,
    Event,
)
from lineage.projection.store import Store
from lineage.rules.reasons import GROUNDS, Reason, english, to_json
from lineage.rules.requests import Request, Task
from lineage.services.erasure.channels import SENT_CHANNELS, Dispatcher
from lineage.services.erasure.plan import plan_erasure, plan_notification, plan_withdrawal
from lineage.services.whohas import identity_component, requests_as_of, subject
from lineage.timeutil import add_duration, iso, now

if TYPE_CHECKING:
    from lineage.catalog.model import Channel
    from lineage.channels.links import Link

SOURCE = "lineage-erasure"


class RequestService:
    def __init__(
        self,
        app: Any,
        registry: EraserRegistry | None = None,
        *,
        retries: int = 3,
        backoff: float = 1.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = now,
        channels: Mapping[str, Channel] | None = None,
        http: Any = None,
    ) -> None:
        self.app = app
        self.registry = registry or EraserRegistry()
        # Holders' channels from the catalog (lineage.services.erasure.channels).
        self.channels = dict(channels or {})
        self.http = http
        self.retries = max(1, retries)
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock
        # Raw identifiers of the request being executed: holders quote them in their answers.
        self._known: dict[str, str] = {}

    # -- reading --------------------------------------------------------------------------
    def _requests(
        self,
        store: Store,
        request_id: str | None = None,
        refs: list[str] | None = None,
        as_of: datetime | None = None,
    ) -> dict[str, Request]:
        return requests_as_of(store, as_of, request_id=request_id, refs=refs)

    def _request(self, store: Store, request_id: str) -> Request:
        found = self._requests(store, request_id).get(request_id)
        if found is None:
            from lineage.services.names import closest

            raise UnknownRequestError(request_id, closest(request_id, self._requests(store)))
        return found

    def _executors(self) -> dict[str, str]:
        found = {h: self.registry.get(h).name for h in self.registry}  # type: ignore[union-attr]
        for holder, channel in self.channels.items():
            if channel.kind in SENT_CHANNELS:
                found[holder] = channel.kind
        return found

    def channel_of(self, holder: str, action: str = "erase", kind: str = "erasure") -> str | None:
        """How a task reaches ``holder``: its catalog channel, else ``api`` with an eraser
        (which erases: it carries no notice). A consent withdrawal goes by ``api`` only to
        an eraser that can unsubscribe (``Withdrawer``); any other holder is told through
        its e-mail or webhook address, else by hand."""
        channel = self.channels.get(holder)
        found = channel.kind if channel is not None else None
        if found is None and holder in self.registry:
            found = "api"
        if kind == "withdrawal" and found == "api":
            if isinstance(self.registry.get(holder), Withdrawer):
                return "api"
            if channel is not None and channel.email:
                return "email"
            if channel is not None and channel.url:
                return "webhook"
            return "manual"
        return None if found == "api" and action == "notify" else found

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(self, {h: c for h, c in self.channels.items()}, self.http)

    # -- recording ------------------------------------------------------------------------
    def _update(
        self,
        req: Request,
        task: Task,
        status: str,
        *,
        reason: str | None = None,
        note: str | None = None,
        attempt: int = 0,
        channel: str | None = None,
        step: str | None = None,
        message_id: str | None = None,
        link_id: str | None = None,
    ) -> list[Event]:
        """The events of one task update, applied to the in-memory state too."""
        at = self.clock()
        planned = status in ("planned", "retained")
        events: list[Event] = [
            ErasureTaskUpdated(
                subject_ref=req.subject_ref,
                occurred_at=at,
                source=SOURCE,
                request_id=req.request_id,
                holder=task.holder,
                status=status,
                reason=task.reason if planned else reason,
                reason_parts=(
                    json.dumps(to_json(task.reason_parts))
                    if planned and task.reason_parts
                    else None
                ),
                retain_until=task.retain_until if planned else None,
                action=task.action,
                categories=task.categories,
                executor=task.executor,
                attempt=attempt,
                note=note,
                channel=channel or task.channel,
                step=step,
                message_id=message_id,
                link_id=link_id,
            )
        ]
        task.status = status
        task.channel = channel or task.channel
        task.step = step
        task.message_id = message_id or task.message_id
        task.sent_as(message_id, step)
        task.link_id = link_id or task.link_id
        task.history.append((at, status, step, (reason if not planned else None) or note))
        task.attempts = max(task.attempts, attempt)
        task.updated_at = at
        if not planned:
            task.note = reason or note
        if status == "confirmed" and task.action in ("erase", "retain") and req.kind == "erasure":
            events.append(
                DataErased(
                    subject_ref=req.subject_ref,
                    occurred_at=at,
                    source=SOURCE,
                    holder=task.holder,
                    categories=task.categories,
                )
            )
        return events + self._completion(req)

    def _completion(self, req: Request) -> list[Event]:
        if req.completed or not req.all_done:
            return []
        req.completed_at = self.clock()
        return [
            ErasureCompleted(
                subject_ref=req.subject_ref,
                occurred_at=req.completed_at,
                source=SOURCE,
                request_id=req.request_id,
            )
        ]

    def _append(self, events: Iterable[Event]) -> None:
        events = list(events)
        if events:
            self.app.append(events, known=self._known)

    def _scrub(self, text: str | None) -> str | None:
        """A holder's words, without the identifiers they quote (also for what is shown)."""
        from lineage.edge.scrub import Scrubber

        return Scrubber(self.app.pseudonymizer(), self._known)(text)

    # -- requests -------------------------------------------------------------------------
    def open_request(
        self,
        pairs: list[tuple[str, str]],
        *,
        kind: str = "erasure",
        scope: tuple[str, ...] = (),
        received_at: datetime | None = None,
        dry_run: bool = False,
        purpose: str | None = None,
        withdrawal_id: str | None = None,
    ) -> Request:
        """Record (unless ``dry_run``) and plan a request; nothing is executed yet. A
        withdrawal notice (``purpose``, ``withdrawal_id``) is one per ``ConsentWithdrawn``:
        asked again, the request already recorded for it is returned."""
        at = self.clock()
        received = received_at or at
        if received > at:
            raise InputError("the request cannot be received in the future", "--received-at")
        refs = self.app.refs_for(pairs)
        with self.app.store() as store:
            self.app.catch_up(store)
            component = identity_component(store, refs, at)
            for other in self._requests(store, refs=component).values():
                if kind == "withdrawal":
                    if withdrawal_id is not None and other.withdrawal_id == withdrawal_id:
                        return other
                elif other.kind == kind and not other.completed:
                    raise OpenRequestError(other.request_id, kind)
            if dry_run:
                request_id = "dry-run"
            elif withdrawal_id is not None:
                # Keyed on the withdrawal: two senders racing record one request id.
                request_id = str(
                    uuid.uuid5(uuid.NAMESPACE_URL, f"lineage:withdrawal:{withdrawal_id}")
                )
            else:
                request_id = str(uuid.uuid4())
            req = Request(
                request_id=request_id,
                subject_ref=refs[0],
                received_at=received,
                kind=kind,
                scope=scope,
                purpose=purpose,
                withdrawal_id=withdrawal_id,
            )
            if not dry_run:
                # Step 1: the request is durable before anything else happens.
                self._append(
                    [
                        ErasureRequested(
                            subject_ref=req.subject_ref,
                            occurred_at=at,
                            source=SOURCE,
                            request_id=req.request_id,
                            received_at=received,
                            scope=scope,
                            kind=kind,
                            purpose=purpose,
                            withdrawal_id=withdrawal_id,
                        )
                    ]
                )
            self._plan(store, req, dry_run=dry_run)
        return req

    def _plan(self, store: Store, req: Request, *, dry_run: bool = False) -> None:
        catalog = self.app.catalog(check_taxonomy=False) if req.kind == "erasure" else None
        s = subject(store, [req.subject_ref], self.clock(), catalog)
        if req.kind == "erasure":
            tasks = plan_erasure(s, req.scope, self.clock(), self._executors())
        elif req.kind == "withdrawal":
            tasks = plan_withdrawal(s, req.purpose or "", self._reporters(store, req))
        else:
            tasks = plan_notification(s, req.kind, req.scope)
        for task in tasks:
            task.channel = self.channel_of(task.holder, task.action, req.kind)
            req.tasks[task.key] = task
        if dry_run:
            return
        # Step 2: the whole plan in one append (and completion when nothing is held).
        events: list[Event] = []
        for task in tasks:
            events += self._update(req, task, task.status, channel=task.channel)
        events += self._completion(req)
        self._append(events)

    def _reporters(self, store: Store, req: Request) -> frozenset[str]:
        """Holders a withdrawal came from (its event's source is the holder, or the
        connector of the holder's eraser: Mailchimp's unsubscribe webhook): they know."""
        if req.withdrawal_id is None:
            return frozenset()
        rows = store.fetch_dicts("withdrawals", {"event_id": req.withdrawal_id})
        sources = {r["source"] for r in rows}
        found = set(sources)
        for holder in self.registry:
            eraser = self.registry.get(holder)
            if eraser is not None and eraser.name in sources:
                found.add(holder)
        return frozenset(found)

    def run(
        self, request_id: str, pairs: list[tuple[str, str]], holder: str | None = None
    ) -> Request:
        """Execute (or resume) a request's tasks that have an eraser or a channel; with
        ``holder``, only that holder's (``lineage erasure retry``)."""
        with self.app.store() as store:
            self.app.catch_up(store)
            req = self._request(store, request_id)
            identifiers = self._identifiers(store, req, pairs)
            if not req.tasks and not req.completed:
                self._plan(store, req)  # the run that recorded the request crashed before
        if holder is None:
            self.execute(req, identifiers)
            return req
        if holder not in {t.holder for t in req.tasks.values()}:
            raise RequestError(f"--holder: request {request_id} has no task at {holder!r}")
        others = {k: t for k, t in req.tasks.items() if t.holder != holder}
        for key in others:
            del req.tasks[key]
        try:
            self.execute(req, identifiers)
        finally:
            req.tasks.update(others)
        return req

    def remind(self) -> int:
        """Reminders for every e-mailed task unanswered close to its deadline."""
        return self.dispatcher().remind(q for q in self.requests() if not q.completed)

    def answer(
        self,
        link: Link,
        step: str | None,
        *,
        reason: str | None = None,
        sub_processors: tuple[str, ...] = (),
        via: str = "answer link",
        opened: bool = False,
    ) -> Request:
        """A holder's answer through its signed link or webhook callback: recorded once.
        ``opened``: the link was followed (recorded the first time). A link that is not the
        task's current one, or a task already answered (an erasure task of a completed
        request too), is refused and records nothing."""
        with self.app.store() as store:
            self.app.catch_up(store)
            req = self._request(store, link.request_id)
        task = req.tasks.get((link.holder, link.action))
        if task is None or task.link_id != link.link_id:
            raise LinkUsedError("this link has been replaced by a newer message")
        # A notice is done once delivered, so its request may be completed already; the
        # recipient's own confirmation (it stopped, it rectified) is still recorded, once.
        late = req.completed and task.action != "notify"
        if task.answered or late or task.status in ("confirmed", "refused"):
            raise LinkUsedError("this request has already been answered: thank you")
        dispatcher = self.dispatcher()
        if opened:
            if not any(step == "opened" for _a, _s, step, _n in task.history):
                self._append(
                    dispatcher._step(
                        req,
                        task,
                        task.status,
                        "opened",
                        None,
                        link.link_id,
                        note=f"{task.holder} opened the answer link",
                    )
                )
            return req
        assert step is not None
        self._append(dispatcher.answer(req, task, step, reason, sub_processors, via, link.link_id))
        return req

    def _identifiers(
        self, store: Store, req: Request, pairs: list[tuple[str, str]]
    ) -> dict[str, str]:
        """Raw identifiers for the erasers, after checking they are this request's subject."""
        if not pairs:
            return {}
        component = set(identity_component(store, [req.subject_ref], self.clock()))
        identifiers = {}
        for (kind, value), ref in zip(pairs, self.app.refs_for(pairs), strict=True):
            if ref not in component:
                raise RequestError(
                    f"the identifier given as {kind} is not the subject of request {req.request_id}"
                )
            if kind != "ref" and value != ref:
                k, v = normalise(kind, value)
                identifiers[k] = v
        return identifiers

    def execute(self, req: Request, identifiers: dict[str, str]) -> None:
        self.execute_many([(req, identifiers)])

    def execute_many(self, batch: list[tuple[Request, dict[str, str]]]) -> None:
        """Execute several requests: erasers per task, then the channels, which batch every
        e-mail to one address into one message."""
        for req, identifiers in batch:
            self._erasers(req, identifiers)
        self._known = {k: v for _, ids in batch for k, v in ids.items()}
        self.dispatcher().run(batch)

    def _erasers(self, req: Request, identifiers: dict[str, str]) -> None:
        at = self.clock()
        self._known = identifiers
        for task in list(req.tasks.values()):
            if req.kind == "withdrawal" and task.channel == "api" and not task.done:
                withdrawer = self.registry.get(task.holder)
                if isinstance(withdrawer, Withdrawer) and not req.completed:
                    self._run_task(req, task, withdrawer, identifiers)
                continue
            if task.done or req.completed or task.action == "notify" or task.status == "refused":
                continue  # notify tasks and refusals need a person (or a channel)
            if task.channel in (*SENT_CHANNELS, "manual"):
                continue  # sent by the dispatcher, or a person's job by the catalog's word
            eraser = self.registry.get(task.holder)
            if eraser is None:
                continue  # a manual task: `lineage erasure confirm`
            if not task.due(at) and (task.action == "retain" or task.status == "retained"):
                # Deferred under Art. 17(3). An eraser that keeps what the law requires by
                # itself erases the rest now, once; any other waits for the retention to end.
                early = getattr(eraser, "honours_retention", False)
                if not early or (task.status == "retained" and task.attempts > 0):
                    continue
            self._run_task(req, task, eraser, identifiers)

    def _run_task(
        self, req: Request, task: Task, eraser: Eraser, identifiers: dict[str, str]
    ) -> None:
        target = ErasureTarget(
            req.request_id, task.holder, task.categories, identifiers, purpose=req.purpose
        )
        withdraw = req.kind == "withdrawal" and isinstance(eraser, Withdrawer)
        for n in range(self.retries):
            attempt = task.attempts + 1
            # Step 3: the attempt is on record before the holder is called.
            self._append(
                self._update(
                    req,
                    task,
                    # A notice on record as notified is done: until the holder answers,
                    # an unsubscribe in flight is only sending.
                    "sending" if withdraw else "notified",
                    note=f"attempt {attempt} via {eraser.name}",
                    attempt=attempt,
                )
            )
            try:
                outcome = _call(eraser, target, self.timeout, withdraw)
            except EraserError as exc:
                error, transient = exc.reason, exc.transient
            except Exception as exc:  # an eraser's own bug: the task stays open
                error, transient = f"{type(exc).__name__}: {exc}", False
            else:
                outcome = replace(outcome, note=self._scrub(outcome.note))
                if outcome.status == "retained":
                    self._append(self._retained(req, task, outcome, eraser.name, attempt))
                    return
                self._append(
                    self._update(
                        req,
                        task,
                        outcome.status,
                        reason=outcome.note if outcome.status == "refused" else None,
                        note=outcome.note,
                        attempt=attempt,
                        step=outcome.step,
                    )
                )
                return
            kind = "transient" if transient else "terminal"
            self._append(
                self._update(
                    req, task, "failed", reason=f"{kind}: {self._scrub(error)}", attempt=attempt
                )
            )
            if not transient or n + 1 == self.retries:
                return
            self.sleep(self.backoff * 2**n)

    def _retained(
        self, req: Request, task: Task, outcome: Outcome, eraser: str, attempt: int
    ) -> list[Event]:
        """The holder erased what it could and keeps the rest under a legal obligation: the
        task is retained (restricted meanwhile) until the later of the planned and the
        reported date, never confirmed; nothing is recorded as erased."""
        at = self.clock()
        reported = outcome.retain_until
        if reported is not None and reported <= at:
            # The holder's own retention has ended but it still keeps the data.
            return self._update(
                req,
                task,
                "notified",
                note=f"{outcome.note}; that retention ended {iso(reported)}: "
                "erase by hand and confirm",
                attempt=attempt,
            )
        dates = [d for d in (reported, task.retain_until) if d is not None]
        until = max(dates) if dates else None
        held = (
            Reason("task.held.reports", {"eraser": eraser, "note": outcome.note})
            if outcome.note
            else Reason("task.held", {"eraser": eraser})
        )
        end = (
            Reason("task.retain.until", {"date": iso(until)})
            if until
            else Reason("task.retain.until_holder_declares")
        )
        if task.action == "retain" and task.reason and not task.reason_parts:
            # A reason recorded before reasons had parts: its ground stays as written.
            ground = task.reason.split("; restricted")[0].split("; no retention")[0]
            task.reason = f"{ground}; {english((held, end))}"
        else:
            kept = tuple(p for p in task.reason_parts if p.code in GROUNDS)
            if task.action != "retain" or not kept:
                kept = (Reason("task.retain.at_holder"),)
            task.reason_parts = (*kept, held, end)
            task.reason = english(task.reason_parts)
        task.retain_until = until
        return self._update(req, task, "retained", note=outcome.note, attempt=attempt)

    # -- people's actions -----------------------------------------------------------------
    def confirm(
        self, request_id: str, holder: str, evidence: str | None, action: str | None = None
    ) -> Request:
        at = self.clock()
        with self.app.store() as store:
            self.app.catch_up(store)
            req = self._request(store, request_id)
        tasks = [
            t
            for t in req.tasks.values()
            if t.holder == holder and (action is None or t.action == action)
        ]
        if not tasks:
            from lineage.services.names import closest

            at_holder = {t.holder for t in req.tasks.values()}
            hint = closest(holder, at_holder) if holder not in at_holder else []
            mean = f"did you mean {', '.join(map(repr, hint))}? " if hint else ""
            raise RequestError(
                f"--holder: request {request_id} has no "
                + (f"{action} task " if action and holder in at_holder else "task ")
                + f"at {holder!r} ({mean}its holders: {', '.join(sorted(at_holder)) or 'none'})"
            )
        events: list[Event] = []
        for task in tasks:
            if (task.action == "retain" or task.status == "retained") and not task.due(at):
                if action == "retain":
                    raise RequestError(
                        f"{holder} keeps {', '.join(task.categories)} until "
                        f"{iso(task.retain_until) or 'a retention period is declared'}: "
                        "confirm the erasure when that has passed"
                    )
                continue
            if task.action == "notify":
                status = "confirmed" if task.status == "notified" else "notified"
            elif task.status == "confirmed":
                continue
            else:
                status = "confirmed"
            events += self._update(req, task, status, note=evidence or "confirmed by hand")
        if not events:
            raise RequestError(f"nothing to confirm at {holder} for request {request_id}")
        self._append(events)
        return req

    def extend(self, request_id: str, reason: str, months: int | None = None) -> Request:
        at = self.clock()
        if not reason or not reason.strip():
            raise InputError("an extension needs the reason told to the subject", "--reason")
        with self.app.store() as store:
            self.app.catch_up(store)
            req = self._request(store, request_id)
        if req.completed:
            raise RequestError(f"request {request_id} is completed: nothing to extend")
        if at > req.original_deadline:
            raise RequestError(
                f"request {request_id} was due {iso(req.original_deadline)}: an extension "
                "must be decided and told to the subject within the first month (Art. 12(3))"
            )
        used = 0 if not req.extensions else _months_between(req.original_deadline, req.deadline)
        wanted = months if months is not None else 2 - used
        if wanted < 1 or used + wanted > 2:
            raise RequestError(
                f"request {request_id} can be extended by two further months at most "
                f"(already extended by {used})"
            )
        deadline = add_duration(req.original_deadline, f"P{used + wanted}M")
        self._append(
            [
                ErasureExtended(
                    subject_ref=req.subject_ref,
                    occurred_at=at,
                    source=SOURCE,
                    request_id=request_id,
                    reason=reason.strip(),
                    deadline=deadline,
                )
            ]
        )
        req.extensions.append((at, reason.strip(), deadline))
        return req

    # -- reports --------------------------------------------------------------------------
    def requests(
        self, request_id: str | None = None, as_of: datetime | None = None
    ) -> list[Request]:
        with self.app.store() as store:
            self.app.catch_up(store)
            if request_id is not None:
                return [self._request(store, request_id)]
            found = self._requests(store, as_of=as_of).values()
            return sorted(found, key=lambda q: q.received_at)

    def due(self) -> list[tuple[Request, Task]]:
        at = self.clock()
        return [(q, t) for q in self.requests() for t in q.tasks.values() if t.due(at)]


def raw_identifiers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Normalised raw identifiers for erasers (subject references are not identifiers)."""
    out: dict[str, str] = {}
    for kind, value in pairs:
        if kind == "ref":
            continue
        k, v = normalise(kind, value)
        out[k] = v
    return out


def _months_between(start: datetime, end: datetime) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def _call(eraser: Eraser, target: ErasureTarget, timeout: float, withdraw: bool = False) -> Outcome:
    """Call the eraser (or its unsubscribe, ``withdraw``) with a time limit. A daemon
    thread: a hung holder must not keep the command from exiting (erasers are idempotent,
    so a late answer does no harm)."""
    result: list[Outcome] = []
    error: list[BaseException] = []

    def work() -> None:
        try:
            if withdraw:
                assert isinstance(eraser, Withdrawer)
                result.append(eraser.withdraw(target))
            else:
                result.append(eraser.erase(target))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=work, name=f"eraser-{target.holder}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TransientEraserError(target.holder, f"no answer within {timeout:g}s")
    if error:
        raise error[0]
    return result[0]
