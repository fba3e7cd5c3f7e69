"""Delivery reports that arrive after a request was e-mailed (``lineage erasure bounces``,
``POST /v1/erasure/bounces``): one implementation for both.

Each report (``lineage.channels.dsn``) is matched to the tasks its returned Message-ID was
sent for (a message carries every task a run sent to one address; reminders count too).
  - A permanent failure (``Action: failed``, 5.x.x) records the task ``failed`` with step
    ``bounced`` and the scrubbed ``Status`` and ``Diagnostic-Code`` as reason, so
    ``lineage erasure retry`` sends it again.
  - A delay notice (``Action: delayed``, 4.x.x) records step ``delayed`` and leaves the
    status as it was: the server is still trying.
  - A task the holder already answered, or a report already recorded for that message
    (same message, same step; a delay after a failure), records nothing.
Unmatched reports, success reports and messages that are not delivery reports are counted;
a damaged report is a warning naming it, and the rest go on. The event's ``message_id`` is
the returned message's, so the evidence shows which message bounced.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lineage.channels.dsn import DELAYED, DELIVERED, FAILED, Report, parse
from lineage.errors import InputError
from lineage.events.model import Event
from lineage.rules.requests import Request, Task

BOUNCED = "bounced"
DIAGNOSTIC_LIMIT = 200


@dataclass
class Summary:
    read: int = 0
    not_reports: int = 0
    malformed: int = 0
    unmatched: int = 0
    delivered: int = 0
    bounced: int = 0
    delayed: int = 0
    duplicates: int = 0
    answered: int = 0
    recorded: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": {
                "read": self.read,
                "not_delivery_reports": self.not_reports,
                "malformed": self.malformed,
                "unmatched": self.unmatched,
                "delivered": self.delivered,
            },
            "tasks": {
                "bounced": self.bounced,
                "delayed": self.delayed,
                "already_recorded": self.duplicates,
                "already_answered": self.answered,
            },
            "recorded": self.recorded,
            "warnings": self.warnings,
        }


def record_bounces(
    service: Any, items: Iterable[tuple[str, bytes | None]], *, strict: bool = False
) -> Summary:
    """Read ``(name, bytes)`` messages and record what their reports say. ``strict``: a
    damaged report raises ``InputError`` (one message over HTTP) instead of a warning."""
    summary = Summary()
    reports: list[tuple[str, Report]] = []
    for name, data in items:
        summary.read += 1
        if data is None:
            summary.malformed += 1
            summary.warnings.append(f"{name}: cannot be read")
            continue
        try:
            report = parse(data, name)
        except InputError as exc:
            if strict:
                raise
            summary.malformed += 1
            summary.warnings.append(str(exc))
            continue
        if report is None:
            summary.not_reports += 1
        else:
            reports.append((name, report))
    if not reports:
        return summary
    index = _index(service, {mid for _n, r in reports for mid in r.original_ids})
    for _name, report in reports:
        matched = [hit for mid in report.original_ids for hit in index.get(mid, [])]
        if not matched:
            summary.unmatched += 1
            continue
        if report.kind == DELIVERED:
            summary.delivered += 1
            continue
        events: list[Event] = []
        seen: set[tuple[str, str, str]] = set()
        for req, task, mid in matched:
            if (req.request_id, *task.key) in seen:
                continue
            seen.add((req.request_id, *task.key))
            events += _record(service, summary, req, task, mid, report)
        service._append(events)
    return summary


def _index(service: Any, ids: set[str]) -> dict[str, list[tuple[Request, Task, str]]]:
    """The tasks that went out under these Message-IDs, by Message-ID: only their requests
    are folded (one report piped to the service must not fold every request there is)."""
    from lineage.services.whohas import requests_as_of

    if not ids:
        return {}
    app = service.app
    with app.store() as store:
        app.catch_up(store)
        found = store.fetch_dicts("requests_by_message", {"message_ids": sorted(ids)})
        requests = [
            req
            for row in found
            for req in requests_as_of(store, request_id=row["request_id"]).values()
        ]
    index: dict[str, list[tuple[Request, Task, str]]] = {}
    for req in requests:
        for task in req.tasks.values():
            if task.channel != "email":
                continue
            for mid in task.message_ids:
                index.setdefault(mid, []).append((req, task, mid))
    return index


def _record(
    service: Any, summary: Summary, req: Request, task: Task, mid: str, report: Report
) -> list[Event]:
    step = BOUNCED if report.kind == FAILED else DELAYED
    if (mid, step) in task.reports or (step == DELAYED and (mid, BOUNCED) in task.reports):
        summary.duplicates += 1
        return []
    if task.answered or task.status in ("confirmed", "refused"):
        summary.answered += 1
        return []
    said = service._scrub(report.diagnostic) or "no diagnostic given"
    if len(said) > DIAGNOSTIC_LIMIT:
        said = said[: DIAGNOSTIC_LIMIT - 1] + "…"
    if step == BOUNCED:
        reason = f"terminal: bounced {report.status}: {said}"
        events = service._update(
            req, task, "failed", reason=reason, channel=task.channel, step=step,
            message_id=mid, link_id=task.link_id,
        )  # fmt: skip
        summary.bounced += 1
        if req.completed:
            summary.warnings.append(
                f"request {req.request_id} was completed before {task.holder}'s message "
                f"bounced ({report.status}): tell {task.holder} by other means"
            )
    else:
        note = f"delivery delayed {report.status}: {said}"
        events = service._update(
            req, task, task.status, note=note, channel=task.channel, step=step,
            message_id=mid, link_id=task.link_id,
        )  # fmt: skip
        summary.delayed += 1
    summary.recorded.append(
        {
            "request_id": req.request_id,
            "holder": task.holder,
            "action": task.action,
            "step": step,
            "status": report.status,
            "task_status": task.status,
            "message_id": mid,
        }
    )
    return events
