"""The state of rights requests, folded from their events (the projection keeps them all,
also after forgetting: they are the accountability record).

A task is (request, holder, action); its status is that of its latest event. A task is
*done* when confirmed, or for a ``notify`` task once notified (an independent controller
decides itself); *settled* when done or retained under an Art. 17(3) exception. The
Art. 12(3) deadline is one month after receipt, or the latest recorded extension.

Tasks sent through a channel (e-mail, webhook) pass ``sending`` (the message is on record
before it goes: not yet done, even for a notice) and then ``notified`` with a ``step`` (sent,
delivered, opened, reminded) until the holder answers: confirmed, nothing held (confirmed:
nothing to erase there), or refused. An e-mailed task not answered gets one reminder
``REMIND_BEFORE`` its request's deadline. A delivery report that comes back later by mail
records step ``bounced`` (status failed) or ``delayed`` (status unchanged), once per message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lineage.events import kinds
from lineage.rules.reasons import Text, from_json, to_json
from lineage.timeutil import add_duration, iso, parse_duration

DEADLINE = "P1M"
MAX_EXTENSION = "P2M"
REMIND_BEFORE = "P7D"
# A reminder never follows its message within a day (a late request's first message would
# otherwise be chased at once).
REMIND_AFTER = "P1D"
# Channel steps that answer a task (the holder's own word), and those that only track it.
ANSWERS = ("confirmed", "nothing_held", "refused")
# Steps recorded from a recipient's mail server's delivery report that arrived later.
REPORTS = ("bounced", "delayed")
CHANNELS = ("api", "email", "webhook", "manual")


def notice_basis(kind: str, action: str) -> str:
    """Why a recipient must act on a request (what the message to it cites): a processor or
    sub-processor erases under its contract (Art. 28(3)(g)), and its own sub-processors
    under the same duties (28(4)); an independent recipient is told of an erasure,
    rectification or restriction under Art. 19 (and 17(2) where the data was made public).
    A consent withdrawal binds every recipient to stop (Art. 7(3), 21(3)); a processor acts
    only on our documented instructions (Art. 28(3)(a))."""
    if kind == "withdrawal":
        return "consent"
    if kind == "erasure" and action != "notify":
        return "art28"
    return "art19"


@dataclass
class Task:
    holder: str
    action: str
    categories: tuple[str, ...] = ()
    status: str = "planned"
    reason: str | None = None
    # The reason's parts (``rules.reasons``), when the rules gave it: shown in each reader's
    # language. Empty for reasons recorded before they had parts (shown as recorded).
    reason_parts: Text = ()
    retain_until: datetime | None = None
    executor: str | None = None
    attempts: int = 0
    note: str | None = None
    updated_at: datetime | None = None
    channel: str | None = None
    step: str | None = None
    message_id: str | None = None
    link_id: str | None = None
    # Every recorded step (at, status, step, note): who was sent, reminded, answered what, when.
    history: list[tuple[datetime, str, str | None, str | None]] = field(default_factory=list)
    # Every Message-ID (or delivery id) the task went out under, and the delivery reports
    # recorded for them as (message id, step): a report read twice is recorded once.
    message_ids: list[str] = field(default_factory=list)
    reports: set[tuple[str, str]] = field(default_factory=set)

    def sent_as(self, message_id: str | None, step: str | None) -> None:
        if message_id and message_id not in self.message_ids:
            self.message_ids.append(message_id)
        if message_id and step in REPORTS:
            self.reports.add((message_id, step))

    @property
    def key(self) -> tuple[str, str]:
        return (self.holder, self.action)

    @property
    def done(self) -> bool:
        if self.action == "notify":
            return self.status in ("notified", "confirmed", "refused")
        return self.status == "confirmed"

    @property
    def settled(self) -> bool:
        return self.done or self.status == "retained"

    @property
    def answered(self) -> bool:
        """The holder gave its own answer through a channel (the link or the webhook)."""
        return self.step in ANSWERS

    @property
    def reminded(self) -> bool:
        return any(step == "reminded" for _at, _s, step, _n in self.history)

    def reminder_due(self, now: datetime, deadline: datetime) -> bool:
        """An e-mailed task still unanswered within ``REMIND_BEFORE`` of the deadline, sent at
        least ``REMIND_AFTER`` ago: one reminder."""
        return (
            self.channel == "email"
            and self.status == "notified"
            and not self.done
            and not self.answered
            and not self.reminded
            and now >= deadline - parse_duration(REMIND_BEFORE)
            and any(
                step == "sent" and now >= add_duration(at, REMIND_AFTER)
                for at, _s, step, _n in self.history
            )
        )

    def due(self, now: datetime) -> bool:
        """A retained task whose retention has ended: its follow-up erasure is due. (An
        ``erase`` task is retained too when its eraser reported a legal obligation.)"""
        return (
            self.action != "notify"
            and not self.done
            and self.retain_until is not None
            and self.retain_until <= now
        )

    def to_json(self, history: bool = True) -> dict[str, Any]:
        """The task; ``history`` adds when it was last updated and every recorded step."""
        out: dict[str, Any] = {
            "holder": self.holder,
            "categories": list(self.categories),
            "action": self.action,
            "reason": self.reason,
            "reason_code": self.reason_parts[0].code if self.reason_parts else None,
            "reason_parts": to_json(self.reason_parts),
            "retain_until": iso(self.retain_until),
            "status": self.status,
            "executor": self.executor,
            # The latest outcome: why it failed, the refusal, or the attempt under way.
            "note": self.note,
            "attempts": self.attempts,
            "channel": self.channel,
            "step": self.step,
            "message_id": self.message_id,
        }
        if history:
            out["updated_at"] = iso(self.updated_at)
            out["history"] = [
                {"at": iso(at), "status": status, "step": step, "note": note}
                for at, status, step, note in self.history
            ]
        return out


@dataclass
class Request:
    request_id: str
    subject_ref: str
    received_at: datetime
    kind: str = "erasure"
    scope: tuple[str, ...] = ()
    tasks: dict[tuple[str, str], Task] = field(default_factory=dict)
    # A withdrawal's data use and the id of its ConsentWithdrawn event.
    purpose: str | None = None
    withdrawal_id: str | None = None
    extensions: list[tuple[datetime, str, datetime]] = field(default_factory=list)
    completed_at: datetime | None = None

    @property
    def original_deadline(self) -> datetime:
        return add_duration(self.received_at, DEADLINE)

    @property
    def latest_deadline(self) -> datetime:
        """The furthest Art. 12(3) allows: two further months."""
        return add_duration(self.original_deadline, MAX_EXTENSION)

    @property
    def deadline(self) -> datetime:
        return self.extensions[-1][2] if self.extensions else self.original_deadline

    @property
    def completed(self) -> bool:
        return self.completed_at is not None

    @property
    def all_done(self) -> bool:
        return all(t.done for t in self.tasks.values())

    def overdue(self, now: datetime) -> bool:
        """Past the deadline with a task neither done nor retained under an exception."""
        return (
            not self.completed
            and now > self.deadline
            and (not self.tasks or not all(t.settled for t in self.tasks.values()))
        )

    def status(self, now: datetime) -> str:
        if self.completed:
            return "completed"
        if self.overdue(now):
            return "overdue"
        if self.tasks and all(t.settled for t in self.tasks.values()):
            return "retained"  # answered; deferred erasures run when retention ends
        return "open"

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "kind": self.kind,
            "subject": self.subject_ref,
            "scope": list(self.scope),
            "purpose": self.purpose,
            "withdrawal_id": self.withdrawal_id,
            "received_at": iso(self.received_at),
            "deadline": iso(self.deadline),
            "extensions": [
                {"at": iso(at), "reason": reason, "deadline": iso(until)}
                for at, reason, until in self.extensions
            ],
            "status": self.status(now),
            "completed_at": iso(self.completed_at),
            "tasks": [t.to_json() for t in self.tasks.values()],
        }


def fold(rows: Iterable[Mapping[str, Any]]) -> dict[str, Request]:
    """Requests by id from their events (rows of ``request_events.sql`` or the like)."""
    requests: dict[str, Request] = {}
    for row in rows:
        et = row["event_type"]
        rid = row["request_id"]
        if et == kinds.REQUESTED:
            detail = json.loads(row["detail"]) if row.get("detail") else {}
            requests[rid] = Request(
                request_id=rid,
                subject_ref=row["subject_ref"],
                received_at=row["at_time"] or row["occurred_at"],
                kind=detail.get("kind") or "erasure",
                scope=tuple(row["categories"] or ()),
                purpose=row.get("purpose"),
                withdrawal_id=detail.get("withdrawal_id"),
            )
            continue
        request = requests.get(rid)
        if request is None:
            continue  # a task of a request this view does not include
        at = row["occurred_at"]
        if et == kinds.TASK_UPDATED:
            detail = json.loads(row["detail"]) if row.get("detail") else {}
            action = detail.get("action") or "erase"
            key = (row["holder"], action)
            task = request.tasks.get(key)
            if task is None:
                task = request.tasks[key] = Task(row["holder"], action)
            task.status = row["status"]
            if row["categories"]:
                task.categories = tuple(row["categories"])
            if row["status"] in ("planned", "retained"):
                task.reason = row["reason"]
                parts = detail.get("reason_parts")
                task.reason_parts = from_json(json.loads(parts)) if parts else ()
                task.retain_until = row["at_time"]
                task.executor = detail.get("executor")
            elif row["status"] in ("failed", "refused"):
                task.note = row["reason"]
            else:
                task.note = detail.get("note") or task.note
            task.attempts = max(task.attempts, int(detail.get("attempt") or 0))
            task.updated_at = at
            task.channel = detail.get("channel") or task.channel
            task.step = detail.get("step")
            task.message_id = detail.get("message_id") or task.message_id
            task.sent_as(detail.get("message_id"), task.step)
            task.link_id = detail.get("link_id") or task.link_id
            task.history.append((at, row["status"], task.step, row["reason"] or detail.get("note")))
        elif et == kinds.EXTENDED:
            request.extensions.append((at, row["reason"], row["at_time"]))
        elif et == kinds.COMPLETED:
            request.completed_at = request.completed_at or at
    return requests
