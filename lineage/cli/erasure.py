"""``lineage erase`` and ``lineage erasure ...``: Art. 17 requests, tracked to the end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from lineage.cli.catalog import catalog_option
from lineage.cli.options import id_option, identifier_pairs, lang_option
from lineage.cli.output import emit_json, format_option, table

F = TypeVar("F", bound=Callable[..., Any])


def executor_options(f: F) -> F:
    f = click.option(
        "--retries",
        type=click.IntRange(1, 20),
        default=3,
        show_default=True,
        envvar="LINEAGE_ERASE_RETRIES",
        help="Attempts per task on transient failures (env LINEAGE_ERASE_RETRIES).",
    )(f)
    f = click.option(
        "--backoff",
        type=click.FloatRange(0),
        default=1.0,
        show_default=True,
        envvar="LINEAGE_ERASE_BACKOFF",
        help="Seconds before the first retry; doubles each time (env LINEAGE_ERASE_BACKOFF).",
    )(f)
    return click.option(
        "--timeout",
        type=click.FloatRange(0.01),
        default=30.0,
        show_default=True,
        envvar="LINEAGE_ERASE_TIMEOUT",
        help="Seconds an eraser may take per attempt (env LINEAGE_ERASE_TIMEOUT).",
    )(f)


def make_service(ctx: click.Context, **options: Any) -> Any:
    from lineage.cli.main import make_app

    app = make_app(ctx)
    app.require_home()
    return service_for(app, **options)


def service_for(app: Any, **options: Any) -> Any:
    """The rights-request service over ``app``, with the erasers configured for its home."""
    from lineage.erasers import load_registry
    from lineage.services.erasure.service import RequestService

    catalog = app.catalog(check_taxonomy=False)
    declared = {n: h.eraser for n, h in catalog.holders.items() if h.eraser} if catalog else {}
    channels = {n: h.channel for n, h in catalog.holders.items() if h.channel} if catalog else {}
    registry = load_registry(app.settings.home, declared)
    return RequestService(app, registry, channels=channels, **options)


def categories_of(values: tuple[str, ...], option: str, service: Any) -> tuple[str, ...]:
    """The categories named, checked against fideslang and the catalog's own keys."""
    from lineage.errors import InputError, TaxonomyError
    from lineage.events.taxonomy import default_taxonomy

    out = [c.strip() for v in values for c in v.split(",") if c.strip()]
    tax = (service.app.taxonomy() if out else None) or default_taxonomy()
    for c in out:
        try:
            tax.check_category(c)
        except TaxonomyError as exc:
            raise InputError(exc.problem, option) from None
    return tuple(dict.fromkeys(out))


def plan_json(req: Any) -> dict[str, Any]:
    from lineage.timeutil import iso

    return {
        "request_id": None if req.request_id == "dry-run" else req.request_id,
        "kind": req.kind,
        "purpose": req.purpose,
        "subject": req.subject_ref,
        "received_at": iso(req.received_at),
        "deadline": iso(req.deadline),
        "tasks": [t.to_json(history=False) for t in req.tasks.values()],
    }


def render_request(data: dict[str, Any], lang: str = "en") -> str:
    from lineage.i18n import gettext
    from lineage.services import plain

    _ = gettext(lang)
    what = plain.request_kind(data.get("kind") or "erasure", lang)
    if data.get("purpose"):
        # A withdrawal names the data use whose consent it withdrew.
        what += " (" + _("consent to") + " " + data["purpose"] + ")"
    head = (
        what
        + " "
        + _("request %(request)s  subject %(subject)s…")
        % {
            "request": data["request_id"] or _("(dry run, nothing recorded)"),
            "subject": data["subject"][:16],
        }
        + "\n"
        + _("received %(received)s  deadline %(deadline)s")
        % {"received": data["received_at"], "deadline": data["deadline"]}
    )
    if data.get("status"):
        head += "  " + _("status %(status)s") % {
            "status": plain.request_status(data["status"], lang)
        }
    if not data["tasks"]:
        return head + "\n" + _("nothing is held for this subject: no tasks")
    rows = [
        (
            t["holder"],
            plain.action(t["action"], lang),
            "\n".join(plain.key_name(c, None, lang) for c in t["categories"]),
            plain.task_status(t["status"], lang),
            t["executor"] or _("manual"),
            (t["retain_until"] or "-")[:10],
            _reason(t, lang),
        )
        for t in data["tasks"]
    ]
    headers = [
        _("holder"),
        _("action"),
        _("categories"),
        _("status"),
        _("executor"),
        _("retain until"),
        _("reason"),
    ]
    return head + "\n" + table(rows, headers)


def _reason(task: dict[str, Any], lang: str) -> str:
    """Why the task exists and, when it failed or was refused, why that was (the holder's
    own words, as recorded)."""
    from lineage.services import plain

    reason = plain.text(task.get("reason_parts"), lang, task["reason"]) or "-"
    if task["status"] in ("failed", "refused") and task.get("note"):
        return f"{plain.task_status(task['status'], lang)}: {task['note']}\n{reason}"
    return reason


@click.command("erase", short_help="Record, plan and execute an erasure request (Art. 17).")
@click.argument("identifier", required=False)
@id_option
@click.option(
    "--scope",
    multiple=True,
    metavar="CATEGORY",
    help="Erase only these categories (repeatable or comma-separated; default all).",
)
@click.option("--dry-run", is_flag=True, help="Plan only: record nothing, execute nothing.")
@click.option("--no-run", is_flag=True, help="Record and plan, but do not call erasers yet.")
@click.option("--received-at", metavar="TIME", help="When the request was received (default now).")
@executor_options
@format_option("table", "json")
@lang_option
@catalog_option
@click.pass_context
def erase(
    ctx: click.Context,
    identifier: str | None,
    ids: tuple[str, ...],
    scope: tuple[str, ...],
    dry_run: bool,
    no_run: bool,
    received_at: str | None,
    retries: int,
    backoff: float,
    timeout: float,
    fmt: str,
    lang: str,
) -> None:
    """Record an erasure request (Art. 17), plan it over every holder of the subject's data
    and execute it where an eraser is configured (<home>/erasers.toml, or the catalog
    holder's `eraser`: a connector such as mailchimp, stripe, e-conomic, zendesk-sell).

    The request is in the log before anything else happens. Per holder: erase; retain
    until a legal obligation or legal claim ends (restricted meanwhile, erased then); or
    notify an independent controller (Art. 19). Holders without an eraser become manual
    tasks (`lineage erasure confirm`). A second request while one is open points to it.

    \b
      lineage erase jane@example.com
      lineage erase jane@example.com --scope user.contact.email --dry-run
      lineage erase jane@example.com --id customer_number=1042 --format json
    """
    from lineage.cli.remote import service as remote
    from lineage.timeutil import parse_time

    pairs = identifier_pairs(identifier, ids)
    received = (
        parse_time(received_at, assume_utc=True, where="--received-at") if received_at else None
    )
    client = remote(ctx)
    if client is not None:
        flat = tuple(c.strip() for v in scope for c in v.split(",") if c.strip())
        _print(
            client.erase(
                ids=pairs,
                scope=flat,
                dry_run=dry_run,
                no_run=no_run,
                received_at=received_at,
            ),
            fmt,
            lang,
        )
        return
    service = make_service(ctx, retries=retries, backoff=backoff, timeout=timeout)
    categories = categories_of(scope, "--scope", service)
    req = service.open_request(pairs, scope=categories, received_at=received, dry_run=dry_run)
    if not dry_run and not no_run:
        from lineage.services.erasure.service import raw_identifiers

        service.execute(req, raw_identifiers(pairs))
    _print(plan_json(req), fmt, lang)


def _print(data: dict[str, Any], fmt: str, lang: str) -> None:
    if fmt == "json":
        emit_json(data)
    else:
        click.echo(render_request(data, lang))


@click.group("erasure")
def erasure() -> None:
    """Follow rights requests to the end: run, confirm, extend, status, due, evidence.

    \b
      lineage erasure status --overdue
      lineage erasure run REQUEST --id email=jane@example.com
      lineage erasure retry REQUEST --holder gift-supplier --id email=jane@example.com
      lineage erasure evidence REQUEST --out evidence/
      lineage erasure verify REQUEST.json --public-key lineage-evidence.pem
      lineage erasure bounces ~/Maildir/.bounces
      lineage erasure confirm REQUEST --holder quickpay --evidence "ticket 4711"
    """


@erasure.command("run")
@click.argument("request_id", metavar="REQUEST")
@id_option
@executor_options
@format_option("table", "json")
@lang_option
@catalog_option
@click.pass_context
def run(
    ctx: click.Context,
    request_id: str,
    ids: tuple[str, ...],
    retries: int,
    backoff: float,
    timeout: float,
    fmt: str,
    lang: str,
) -> None:
    """Execute, or resume after a crash, the tasks of a request that have an eraser.

    Confirmed tasks are never repeated. lineage does not store identifiers, so erasers
    that need the e-mail or customer number get it again here (checked against the
    request's subject). Due deferred erasures (`lineage erasure due`) run too.

    \b
      lineage erasure run 3f2a… --id email=jane@example.com
    """
    from lineage.cli.remote import service as remote

    pairs = identifier_pairs(None, ids) if ids else []
    client = remote(ctx)
    if client is not None:
        _print(client.run(request_id, ids=pairs), fmt, lang)
        return
    service = make_service(ctx, retries=retries, backoff=backoff, timeout=timeout)
    req = service.run(request_id, pairs)
    _show(req, fmt, service, lang)


@erasure.command("retry")
@click.argument("request_id", metavar="REQUEST")
@click.option("--holder", help="Only this holder's tasks (default: every failed or open one).")
@id_option
@executor_options
@format_option("table", "json")
@lang_option
@catalog_option
@click.pass_context
def retry(
    ctx: click.Context,
    request_id: str,
    holder: str | None,
    ids: tuple[str, ...],
    retries: int,
    backoff: float,
    timeout: float,
    fmt: str,
    lang: str,
) -> None:
    """Try failed tasks again (their reason is in `erasure status`): the eraser, or the
    e-mail or webhook to the holder, with the identifiers given here.

    \b
      lineage erasure retry 3f2a… --holder gift-supplier --id email=jane@example.com
    """
    pairs = identifier_pairs(None, ids) if ids else []
    service = make_service(ctx, retries=retries, backoff=backoff, timeout=timeout)
    req = service.run(request_id, pairs, holder)
    _show(req, fmt, service, lang)


@erasure.command("remind")
@format_option("table", "json")
@lang_option
@catalog_option
@click.pass_context
def remind(ctx: click.Context, fmt: str, lang: str) -> None:
    """Send one reminder for every e-mailed task still unanswered a week before its
    request's deadline, one message per recipient (run it daily, e.g. from cron).

    \b
      lineage erasure remind
    """
    count = make_service(ctx).remind()
    if fmt == "json":
        emit_json({"reminded": count})
    else:
        from lineage.i18n import NP_, ngettext

        reminded = NP_("reminded %(num)d task", "reminded %(num)d tasks")
        click.echo(ngettext(lang)(*reminded, count) % {"num": count})


@erasure.command("evidence")
@click.argument("request_id", metavar="REQUEST")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Write REQUEST.json and REQUEST.html into this folder (default: stdout).",
)
@lang_option
@format_option("json", "html")
@catalog_option
@click.pass_context
def evidence(ctx: click.Context, request_id: str, out: str | None, lang: str, fmt: str) -> None:
    """Export the evidence of one request for a supervisory authority: every event with
    its log position and the SHA-256 of its record, who was asked through which channel
    and who confirmed, refused or failed, when (JSON, and an HTML page). Signed with the
    home's Ed25519 key: the authority checks it with `lineage erasure verify` and the
    public key from `lineage key public`.

    \b
      lineage erasure evidence 3f2a… --out evidence/
    """
    import json
    from pathlib import Path

    from lineage.services.erasure.evidence import bundle, html

    doc = bundle(make_service(ctx), request_id)
    if out is None:
        if fmt == "html":
            click.echo(html(doc, lang))
        else:
            emit_json(doc)
        return
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{request_id}.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    (folder / f"{request_id}.html").write_text(html(doc, lang))
    click.echo(f"wrote {folder / request_id}.json and .html", err=True)


def _show(req: Any, fmt: str, service: Any, lang: str) -> None:
    _print(req.to_json(service.clock()), fmt, lang)


@erasure.command("confirm")
@click.argument("request_id", metavar="REQUEST")
@click.option("--holder", required=True, help="The holder that erased (or was notified).")
@click.option("--evidence", metavar="TEXT", help="What proves it: ticket, letter, e-mail.")
@click.option(
    "--action",
    type=click.Choice(["erase", "retain", "notify"]),
    help="Only this task at the holder (a holder may erase some data and retain other).",
)
@format_option("table", "json")
@lang_option
@click.pass_context
def confirm(
    ctx: click.Context,
    request_id: str,
    holder: str,
    evidence: str | None,
    action: str | None,
    fmt: str,
    lang: str,
) -> None:
    """Record a manual confirmation: the holder erased (or, for an independent
    controller, was notified; a second confirm records its own confirmation).

    A retained task can be confirmed only once its retention has ended.

    \b
      lineage erasure confirm 3f2a… --holder quickpay --evidence "support ticket 4711"
    """
    from lineage.cli.remote import service as remote

    client = remote(ctx)
    if client is not None:
        _print(client.confirm(request_id, holder, evidence=evidence, action=action), fmt, lang)
        return
    service = make_service(ctx)
    req = service.confirm(request_id, holder, evidence, action)
    _show(req, fmt, service, lang)


@erasure.command("extend")
@click.argument("request_id", metavar="REQUEST")
@click.option("--reason", help="Why more time is needed (required; told to the subject).")
@click.option(
    "--months",
    type=click.IntRange(1, 2),
    help="Further months (default: what is left of the two Art. 12(3) allows).",
)
@format_option("table", "json")
@lang_option
@click.pass_context
def extend(
    ctx: click.Context, request_id: str, reason: str | None, months: int | None, fmt: str, lang: str
) -> None:
    """Extend the one-month deadline by up to two further months (Art. 12(3)), with the
    reason. Must be decided within the first month; three months in total at most.

    \b
      lineage erasure extend 3f2a… --reason "data spread over 14 archived systems"
    """
    from lineage.cli.remote import service as remote

    client = remote(ctx)
    if client is not None:
        _print(client.extend(request_id, reason or "", months=months), fmt, lang)
        return
    service = make_service(ctx)
    req = service.extend(request_id, reason or "", months)
    _show(req, fmt, service, lang)


@erasure.command("status")
@click.argument("request_id", metavar="[REQUEST]", required=False)
@click.option("--overdue", is_flag=True, help="Only requests past their deadline.")
@click.option("--as-of", metavar="TIME", help="Judge from events up to this time (default now).")
@format_option("table", "json")
@lang_option
@click.pass_context
def status(
    ctx: click.Context,
    request_id: str | None,
    overdue: bool,
    as_of: str | None,
    fmt: str,
    lang: str,
) -> None:
    """Every request (or one) with its tasks, deadline (one month, Art. 12(3), or as
    extended) and status: open, retained (answered; deferred erasures pending), overdue,
    completed. With --overdue, exit code 1 when any request is overdue.

    \b
      lineage erasure status
      lineage erasure status --overdue --format json
    """
    from lineage.cli.remote import service as remote
    from lineage.i18n import gettext
    from lineage.services import plain
    from lineage.services.rights_answers import requests as answer
    from lineage.timeutil import parse_time

    at = parse_time(as_of, assume_utc=True, where="--as-of") if as_of else None
    client = remote(ctx)
    if client is not None:
        found = client.erasure_status(request_id, overdue=overdue, as_of=as_of)
    else:
        found = answer(make_service(ctx), request_id, overdue=overdue, as_of=at)
    data = found["requests"]
    _ = gettext(lang)
    if fmt == "json":
        emit_json({"requests": data})
    elif not data:
        click.echo(_("no overdue requests") if overdue else _("no requests"))
    elif request_id:
        click.echo(render_request(data[0], lang))
    else:
        rows = [
            (
                d["request_id"],
                # A withdrawal names the data use whose consent it withdrew.
                plain.request_kind(d["kind"], lang)
                + (f"\n{d['purpose']}" if d.get("purpose") else ""),
                d["received_at"][:10],
                d["deadline"][:10],
                plain.request_status(d["status"], lang),
                sum(t["status"] in ("confirmed", "notified") for t in d["tasks"]),
                len(d["tasks"]),
            )
            for d in data
        ]
        click.echo(
            table(
                rows,
                [
                    _("request"),
                    _("kind"),
                    _("received"),
                    _("deadline"),
                    _("status"),
                    _("done"),
                    _("tasks"),
                ],
            )
        )
    if overdue and data:
        ctx.exit(1)


@erasure.command("due")
@format_option("table", "json")
@lang_option
@click.pass_context
def due(ctx: click.Context, fmt: str, lang: str) -> None:
    """Deferred erasures whose retention has ended: erase them now (`lineage erasure run`,
    or by hand and `lineage erasure confirm`).

    \b
      lineage erasure due --format json
    """
    from lineage.cli.remote import service as remote
    from lineage.i18n import gettext
    from lineage.services import plain
    from lineage.services.rights_answers import due as answer

    _ = gettext(lang)
    client = remote(ctx)
    data = client.erasure_due() if client is not None else answer(make_service(ctx))
    rows = data["due"]
    if fmt == "json":
        emit_json({"due": rows})
    elif not rows:
        click.echo(_("no deferred erasure is due"))
    else:
        click.echo(
            table(
                [
                    (
                        r["request_id"],
                        r["holder"],
                        "\n".join(plain.key_name(c, None, lang) for c in r["categories"]),
                        r["due_since"],
                    )
                    for r in rows
                ],
                [_("request"), _("holder"), _("categories"), _("due since")],
            )
        )
