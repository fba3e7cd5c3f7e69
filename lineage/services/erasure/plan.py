"""Planning: one subject's holders -> tasks, over this subject's own flows.

Per holder that holds data of the subject now (own systems, processors, sub-processors,
onward recipients of transfers), restricted to the request's scope:
- an independent recipient (``controller``, ``joint_controller``, ``public_authority``)
  gets a ``notify`` task (Art. 19): it decides on erasure itself;
- categories held for a purpose that an Art. 17(3) exception covers and whose retention
  still runs get a ``retain`` task until then (restricted meanwhile, erased when it ends);
- everything else gets an ``erase`` task.
Tasks come deepest holder first (a sub-processor before its processor), so an interrupted
run leaves the upstream records that explain where the data went.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lineage.rules.reasons import Reason, Text, english, rule_params
from lineage.rules.requests import Task
from lineage.rules.subject import Holding
from lineage.rules.taxonomy import covered, covers
from lineage.timeutil import iso

if TYPE_CHECKING:
    from lineage.services.whohas import Subject

INDEPENDENT_ROLES = ("controller", "joint_controller", "public_authority")

# Art. 17(3) exceptions, by legal basis or by data use (their texts: ``task.retain.<ground>``
# in ``rules.reasons``). Legal claims have no fideslang data use: a catalog declares a custom
# one ending in ``legal_claims``.
EXCEPTION_BASES = ("legal_obligation", "public_task")
EXCEPTION_USE_SUFFIXES = ("legal_claims",)


@dataclass(frozen=True)
class Retention:
    categories: frozenset[str]
    until: datetime | None
    reason: Text


def exception_ground(purpose: str | None, basis: str | None) -> str | None:
    """The Art. 17(3) ground that keeps data received for ``purpose`` on ``basis``, if any."""
    if basis in EXCEPTION_BASES:
        return basis
    for suffix in EXCEPTION_USE_SUFFIXES:
        if purpose and (purpose == suffix or purpose.endswith("." + suffix)):
            return suffix
    return None


def task(holder: str, action: str, categories: set[str], why: Text, **kw: Any) -> Task:
    """A task with its reason: the English text and the parts other languages render."""
    return Task(
        holder, action, tuple(sorted(categories)), reason=english(why), reason_parts=why, **kw
    )


def retention(s: Subject, h: Holding, categories: set[str], now: datetime) -> Retention | None:
    """What an Art. 17(3) exception keeps at ``h`` and until when (None: nothing). Only the
    categories received under an excepted purpose, and only while that purpose's retention
    runs (``rules.retention``: the events' own, else the catalog's rule)."""
    kept: set[str] = set()
    ends: list[datetime] = []
    grounds: list[Reason] = []
    unknown = False
    reckoned = s.retention(h)
    for key, r in reckoned.receipts.items():
        category, use, basis = key
        ground = exception_ground(use, basis)
        if ground is None or category not in categories:
            continue
        if r.known and r.until is not None and r.until <= now:
            continue  # that retention has ended: no exception any more
        kept.add(category)
        if r.source == "catalog":
            rules = s.catalog.rules if s.catalog is not None else {}
            described = [rule_params(pid, rules[pid]) for pid in r.pids]
            grounds.append(
                Reason(f"task.retain.{ground}.catalog", {"use": use or "?", "rules": described})
            )
        else:
            grounds.append(Reason(f"task.retain.{ground}", {"use": use or "?"}))
        if r.known and r.until is not None:
            ends.append(r.until)
        else:
            unknown = True
    if not kept:
        return None
    until = None if unknown else max(ends)
    end = (
        Reason("task.retain.no_period")
        if until is None
        else Reason("task.retain.until", {"date": iso(until)})
    )
    reason = (*sorted(set(grounds), key=Reason.english), end)
    return Retention(frozenset(kept), until, reason)


def plan_erasure(
    s: Subject, scope: tuple[str, ...], now: datetime, executors: dict[str, str]
) -> list[Task]:
    """The tasks of an erasure request. ``executors`` maps holders to eraser names; the
    subject's catalog supplies retention rules for events that carry none."""
    tasks: list[Task] = []
    held = s.state.held()
    depth = s.state.graph.depths()
    for h in sorted(held, key=lambda h: (-depth.get(h.name, 0), h.name)):
        categories = in_scope(h, scope)
        if not categories:
            continue
        if not h.own and h.role in INDEPENDENT_ROLES:
            tasks.append(task(h.name, "notify", categories, (Reason(f"task.notify.{h.role}"),)))
            continue
        kept = retention(s, h, categories, now)
        if kept is not None:
            tasks.append(
                task(
                    h.name,
                    "retain",
                    set(kept.categories),
                    kept.reason,
                    status="retained",
                    retain_until=kept.until,
                    executor=executors.get(h.name),
                )
            )
            categories -= kept.categories
        if categories:
            tasks.append(
                task(
                    h.name,
                    "erase",
                    categories,
                    (Reason("task.erase"),),
                    executor=executors.get(h.name),
                )
            )
    return tasks


def in_scope(h: Holding, scope: tuple[str, ...]) -> set[str]:
    """The categories held at ``h`` that a request's scope covers (a scope key covers its
    descendants; no scope: all)."""
    if not scope:
        return set(h.categories)
    return {c for c in h.categories if covered(c, scope)}


def plan_notification(s: Subject, kind: str, categories: tuple[str, ...]) -> list[Task]:
    """Art. 19 for rectification and restriction: notify every recipient (not our own
    systems, which we correct or restrict ourselves)."""
    tasks = []
    for h in s.state.held():
        if h.own:
            continue
        cats = in_scope(h, categories)
        if not cats:
            continue
        why = Reason(f"task.notify.{kind}", {"role": h.role or "unknown role"})
        tasks.append(task(h.name, "notify", cats, (why,)))
    return tasks


def plan_withdrawal(s: Subject, use: str, told: frozenset[str] = frozenset()) -> list[Task]:
    """Consent to ``use`` was withdrawn: every recipient holding data it received under
    ``use`` or a use it covers (``marketing`` covers ``marketing.communications.email``) is
    told to stop processing for it (Art. 7(3), 21(3); a processor acts only on our
    instructions, Art. 28(3)(a)). ``told``: holders that reported the withdrawal themselves
    (it came from them) get nothing. Our own systems stop through the consent record."""
    tasks = []
    for h in s.state.held():
        if h.own or h.name in told:
            continue
        uses = {u for (_c, u, _b) in h.receipts if u and covers(use, u)}
        cats = {c for (c, u, _b) in h.receipts if u in uses}
        if not cats:
            continue
        why = Reason(
            "task.notify.withdrawal",
            {"role": h.role or "unknown role", "uses": ", ".join(sorted(uses)), "use": use},
        )
        tasks.append(task(h.name, "notify", cats, (why,)))
    return tasks
