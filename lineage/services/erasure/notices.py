"""Notices to recipients (Art. 19 and the like), one implementation for the CLI and the API:
rectification, restriction and consent withdrawal are recorded, planned and sent at once.

A consent withdrawal (Art. 7(3); for direct marketing Art. 21(3)) reaches every recipient
that received the subject's data under the withdrawn data use or a narrower one: processors
act only on our instructions (Art. 28(3)(a)), independent recipients are told as Art. 19 tells
them of a rectification. It starts two ways:

- ``lineage consent withdraw`` (``POST /v1/consent/withdraw``) records the ``ConsentWithdrawn``
  through the recording pipeline and opens its notice request, sent with the identifiers
  given there (used for sending, never recorded);
- a withdrawal that arrived as an event (a connector, the SDK, HTTP ingest, Mailchimp's
  unsubscribe webhook) is picked up by ``lineage consent notices`` (``POST
  /v1/consent/notices``): one request per withdrawal, keyed on its event id, so a second run
  opens nothing. lineage keeps no raw identifiers, so such a request's e-mails, webhooks and
  unsubscribes need them given once: ``lineage erasure run REQUEST --id email=...``.

The holder a withdrawal came from (its event's source) already knows: it is not told again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lineage.errors import InputError, TaxonomyError
from lineage.events.taxonomy import default_taxonomy

if TYPE_CHECKING:
    from lineage.rules.requests import Request
    from lineage.services.erasure.service import RequestService

SOURCE = "lineage-consent"


def send_notice(
    service: RequestService,
    pairs: list[tuple[str, str]],
    kind: str,
    scope: tuple[str, ...] = (),
    *,
    dry_run: bool = False,
    purpose: str | None = None,
    withdrawal_id: str | None = None,
) -> Request:
    """Record and plan a notice request, then send it through each recipient's channel
    with the raw identifiers given (``dry_run``: plan only, record and send nothing)."""
    from lineage.services.erasure.service import raw_identifiers

    req = service.open_request(
        pairs,
        kind=kind,
        scope=scope,
        dry_run=dry_run,
        purpose=purpose,
        withdrawal_id=withdrawal_id,
    )
    if not dry_run:
        service.execute(req, raw_identifiers(pairs))
    return req


def withdraw(
    service: RequestService,
    pairs: list[tuple[str, str]],
    use: str,
    *,
    channel: str | None = None,
    dry_run: bool = False,
    where: str = "--use",
) -> Request:
    """Record that the subject withdrew consent to ``use`` (a fideslang data use; it covers
    its narrower uses) and tell every recipient of data under it to stop. ``where``: how
    the caller names the use in an error (the CLI's option, the API's field)."""
    from lineage.ingest.record import from_object, parser_for, record

    use = use.strip()
    if not use:
        raise InputError("name the data use whose consent is withdrawn", where)
    app = service.app
    taxonomy = app.taxonomy() or default_taxonomy()
    try:
        taxonomy.check_use(use)
    except TaxonomyError as exc:
        raise InputError(exc.problem, where) from None
    if dry_run:
        return send_notice(service, pairs, "withdrawal", dry_run=True, purpose=use)
    subject: dict[str, Any] = {}
    for kind, value in pairs:
        if kind == "ref":
            subject["subject_ref"] = value
        else:
            subject.setdefault("subject", {})[kind] = value
    at = service.clock()
    obj: dict[str, Any] = {
        "event_type": "ConsentWithdrawn",
        "occurred_at": at.isoformat(),
        "source": SOURCE,
        "purpose": use,
        "evidence": {"channel": channel or "recorded by the controller"},
        **subject,
    }
    parsed = from_object(parser_for(app, SOURCE), obj, "withdrawal", place=where)
    events = list(parsed.events)
    record(app, type(parsed)(events, parsed.place))
    withdrawn = next(e for e in events if e.event_type == "ConsentWithdrawn")
    return send_notice(
        service, pairs, "withdrawal", purpose=use, withdrawal_id=str(withdrawn.event_id)
    )


def open_withdrawals(service: RequestService) -> list[Request]:
    """A notice request for every recorded withdrawal that has none yet (and whose consent
    still stands withdrawn), executed as far as it can be without identifiers."""
    from lineage.services.whohas import subject

    opened: list[Request] = []
    with service.app.store() as store:
        service.app.catch_up(store)
        pending = store.fetch_dicts("withdrawals", {"event_id": None})
        todo = []
        at = service.clock()
        for row in pending:
            if row["noticed"] or not row["purpose"]:
                continue
            s = subject(store, [row["subject_ref"]], at)
            if s.state.consent.withdrawn_at(row["purpose"]) is None:
                continue  # given again since: nothing to stop
            todo.append(row)
    for row in todo:
        req = service.open_request(
            [("ref", row["subject_ref"])],
            kind="withdrawal",
            received_at=row["occurred_at"],
            purpose=row["purpose"],
            withdrawal_id=str(row["event_id"]),
        )
        opened.append(req)
    if opened:
        service.execute_many([(req, {}) for req in opened])
    return opened
