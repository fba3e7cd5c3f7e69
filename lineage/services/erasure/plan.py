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
from typing import TYPE_CHECKING

from lineage.services.erasure.state import Task
from lineage.services.whohas import Replay, _Holding, _Retention
from lineage.timeutil import iso

if TYPE_CHECKING:
    from lineage.catalog.catalog import Catalog

INDEPENDENT_ROLES = ("controller", "joint_controller", "public_authority")

# Art. 17(3) exceptions, by legal basis or by data use. Legal claims have no fideslang
# data use: a catalog declares a custom one ending in ``legal_claims``.
EXCEPTION_BASES = {
    "legal_obligation": "Art. 17(3)(b) legal obligation",
    "public_task": "Art. 17(3)(b) public task",
}
EXCEPTION_USE_SUFFIXES = {"legal_claims": "Art. 17(3)(e) legal claims"}


@dataclass(frozen=True)
class Retention:
    categories: frozenset[str]
    until: datetime | None
    reason: str


def exception_ground(purpose: str, basis: str | None) -> str | None:
    if basis in EXCEPTION_BASES:
        return EXCEPTION_BASES[basis]
    for suffix, ground in EXCEPTION_USE_SUFFIXES.items():
        if purpose == suffix or purpose.endswith("." + suffix):
            return ground
    return None


def retention(
    h: _Holding, categories: set[str], now: datetime, rules: _Retention | None = None
) -> Retention | None:
    """What an Art. 17(3) exception keeps at ``h`` and until when (None: nothing). The
    event's own retention decides; without one, the catalog's rule for the purpose
    (``rules``, as who-has reckons it: e.g. 5 years from the end of the financial year)."""
    kept: set[str] = set()
    ends: list[datetime] = []
    grounds: list[str] = []
    unknown = False
    for key, cats in h.purpose_categories.items():
        purpose, basis = key
        ground = exception_ground(purpose, basis)
        covered = cats & categories
        if ground is None or not covered:
            continue
        until = h.retain.get(key)
        why = purpose
        if until is None and rules is not None and (found := rules.from_catalog(h, key)):
            best, is_open, by_purpose = found
            until = None if is_open else best
            why += ", catalog: " + "; ".join(
                f"{pid}: {rule.describe()}" for pid, rule in by_purpose
            )
        if until is not None and until <= now:
            continue  # that retention has ended: no exception any more
        kept |= covered
        grounds.append(f"{ground} ({why})")
        if until is None:
            unknown = True
        else:
            ends.append(until)
    if not kept:
        return None
    until = None if unknown else max(ends)
    reason = "; ".join(sorted(set(grounds)))
    if until is None:
        reason += "; no retention period recorded: restricted until one is declared"
    else:
        reason += f"; restricted (Art. 18) until {iso(until)}, then erased"
    return Retention(frozenset(kept), until, reason)


def plan_erasure(
    r: Replay,
    scope: tuple[str, ...],
    now: datetime,
    executors: dict[str, str],
    catalog: Catalog | None = None,
) -> list[Task]:
    """The tasks of an erasure request. ``executors`` maps holders to eraser names; the
    ``catalog`` supplies retention rules for events that carry none."""
    rules = _Retention(catalog, r.activity, r.withdrawn) if catalog is not None else None
    tasks: list[Task] = []
    held = r.held()
    depth = {h.name: len(r.graph.path(h.name)) for h in held}
    for h in sorted(held, key=lambda h: (-depth[h.name], h.name)):
        categories = set(h.categories) & set(scope) if scope else set(h.categories)
        if not categories:
            continue
        if not h.own and h.role in INDEPENDENT_ROLES:
            tasks.append(
                Task(
                    h.name,
                    "notify",
                    tuple(sorted(categories)),
                    reason=f"independent {h.role.replace('_', ' ')}: tell it of the erasure "
                    "(Art. 19); it decides itself",
                )
            )
            continue
        kept = retention(h, categories, now, rules)
        if kept is not None:
            tasks.append(
                Task(
                    h.name,
                    "retain",
                    tuple(sorted(kept.categories)),
                    status="retained",
                    reason=kept.reason,
                    retain_until=kept.until,
                    executor=executors.get(h.name),
                )
            )
            categories -= kept.categories
        if categories:
            tasks.append(
                Task(
                    h.name,
                    "erase",
                    tuple(sorted(categories)),
                    reason="no purpose justifies keeping it",
                    executor=executors.get(h.name),
                )
            )
    return tasks


def plan_notification(r: Replay, kind: str, categories: tuple[str, ...]) -> list[Task]:
    """Art. 19 for rectification and restriction: notify every recipient (not our own
    systems, which we correct or restrict ourselves)."""
    tasks = []
    for h in r.held():
        if h.own:
            continue
        cats = set(h.categories) & set(categories) if categories else set(h.categories)
        if not cats:
            continue
        tasks.append(
            Task(
                h.name,
                "notify",
                tuple(sorted(cats)),
                reason=f"recipient ({h.role or 'unknown role'}): communicate the {kind} (Art. 19)",
            )
        )
    return tasks
