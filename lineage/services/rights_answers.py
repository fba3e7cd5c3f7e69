"""The JSON of the rights requests' read answers, one function each for the CLI and the
service: ``lineage erasure status`` / ``GET /v1/erasure/requests`` and ``lineage erasure
due`` / ``GET /v1/erasure/due``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lineage.services.erasure.service import RequestService


def requests(
    service: RequestService,
    request_id: str | None = None,
    *,
    overdue: bool = False,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Every request (or one) judged at ``as_of`` (default the service's clock); with
    ``overdue``, only those past their deadline."""
    at = as_of or service.clock()
    found = service.requests(request_id, as_of=as_of)
    if overdue:
        found = [q for q in found if q.overdue(at)]
    return {"requests": [q.to_json(at) for q in found]}


def due(service: RequestService) -> dict[str, Any]:
    """Deferred erasures whose retention has ended."""
    from lineage.timeutil import iso

    return {
        "due": [
            {
                "request_id": q.request_id,
                "subject": q.subject_ref,
                **t.to_json(),
                "due_since": iso(t.retain_until),
            }
            for q, t in service.due()
        ]
    }
