"""``lineage who-has``."""

from __future__ import annotations

from typing import Any

import click

from lineage.cli.catalog import catalog_option
from lineage.cli.options import id_option, identifier_pairs, lang_option
from lineage.cli.output import Marked, emit_json, format_option, table


@click.command("who-has")
@click.argument("identifier", required=False)
@id_option
@click.option("--as-of", metavar="TIME", help="Answer from events up to this time (default now).")
@click.option(
    "--shards",
    type=int,
    help="Kafka scale-out: ask the shard of N (projection-shardIofN files) that owns the subject.",
)
@click.option(
    "--projection",
    "projections",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Answer from these projection files together (repeatable; e.g. every shard).",
)
@format_option("table", "json")
@lang_option
@catalog_option
@click.pass_context
def who_has(
    ctx: click.Context,
    identifier: str | None,
    ids: tuple[str, ...],
    as_of: str | None,
    shards: int | None,
    projections: tuple[str, ...],
    fmt: str,
    lang: str,
) -> None:
    """Every holder of one person's data: categories, purposes and legal bases, since when,
    retained until, transfer tool and its validity, the path the data took, and status.

    IDENTIFIER with an @ is an e-mail, +digits a phone number, 64 hex digits a subject
    reference; anything else needs --id KIND=VALUE. Identifiers linked to it (IdentityLinked,
    or several in one event) give the same answer. An unknown subject is an empty list.
    Without a retention on the event, the catalog's rule for the purpose gives the date.

    \b
      lineage who-has jane@example.com
      lineage who-has --id customer_number=1042 --as-of 2024-06-30
      lineage who-has jane@example.com --format json
      lineage who-has jane@example.com --lang da
    """
    from lineage.cli.main import current_store, make_app
    from lineage.cli.remote import service
    from lineage.services.whohas import who_has as answer
    from lineage.timeutil import now, parse_time

    pairs = identifier_pairs(identifier, ids)
    when = parse_time(as_of, assume_utc=True, where="--as-of") if as_of else now()
    remote = service(ctx)
    if remote is not None and (projections or shards):
        from lineage.errors import InputError

        raise InputError(
            "reads projection files on this machine, and lineage serve answers from its own "
            "projection: unset LINEAGE_URL to use it",
            "--projection" if projections else "--shards",
        )
    if remote is not None:
        result = remote.who_has(ids=pairs, as_of=as_of)
        _future_note(result, fmt)
        emit_json(result) if fmt == "json" else click.echo(render(result, lang))
        return
    app = make_app(ctx, shards=shards)
    refs = app.refs_for(pairs)
    # Taxonomy keys are checked by `catalog validate` and on emit; not on this read path.
    catalog = app.catalog(check_taxonomy=False)
    if projections:
        from pathlib import Path

        from lineage.services.sharded import who_has_across

        result = who_has_across(app, refs, when, [Path(p) for p in projections], catalog)
    elif app.settings.shards:
        from lineage.services.sharded import who_has_sharded

        result = who_has_sharded(app, refs, when, app.settings.shards, catalog)
    else:
        with current_store(app) as store:
            result = answer(store, refs, when, catalog)
        _future_note(result, fmt)
    if fmt == "json":
        emit_json(result)
    else:
        click.echo(render(result, lang))


def _future_note(result: dict[str, Any], fmt: str) -> None:
    if result.get("omitted_future_events") and fmt != "json":
        click.secho(
            f"note: {result['omitted_future_events']} events of this subject are dated in "
            f"the future (first {result['omitted_future_first_at']}) and not shown: is a "
            "producer's clock ahead? (--as-of a later time includes them)",
            fg="yellow",
            err=True,
        )


def render(result: dict[str, Any], lang: str = "en") -> str:
    """The who-has table in ``lang``: plain names of categories, purposes, legal bases and
    roles, as the web UI and the documents name them (``services.plain``)."""
    from lineage.i18n import gettext
    from lineage.services import plain

    _ = gettext(lang)
    head = _("subject %(subject)s…  as of %(as_of)s") % {
        "subject": result["subject"][:16],
        "as_of": result["as_of"],
    }
    if not result["holders"]:
        return head + "\n" + _("no holder has data of this subject")
    rows = []
    for h in result["holders"]:
        purposes = "\n".join(
            f"{plain.key_name(p['purpose'], None, lang)} "
            f"({plain.basis_name(p['legal_basis'], lang)})"
            + (" " + _("consent withdrawn") if p.get("consent_withdrawn_at") else "")
            for p in h["purposes"]
        )
        transfer = "-"
        if h["transfer"]:
            t = h["transfer"]
            verdict = _("valid") if t["valid"] else _("INVALID")
            transfer = f"{t['country']} {t['mechanism']} {verdict}"
            if not t["valid"]:
                reason = plain.text(t.get("reason_parts"), lang, t.get("reason"))
                transfer = Marked(f"{transfer}\n{reason}" if reason else transfer)
        dates = f"{(h['since'] or '-')[:10]}\n{(h['retain_until'] or '-')[:10]}"
        if h["status"] == "overdue" or h["overdue_categories"]:
            dates = Marked(dates + "\n" + plain.status("overdue", lang))
        status = plain.status(h["status"], lang)
        if h["special_categories"]:
            status += "\n" + _("special category")
        rows.append(
            (
                h["holder"],
                f"{_role(h, lang)}\n{h['country'] or '-'}",
                "\n".join(plain.key_name(c, None, lang) for c in h["categories"]) or "-",
                purposes or "-",
                dates,
                transfer,
                " → ".join(h["path"]),
                status,
            )
        )
    headers = [
        _("holder"),
        _("role, country"),
        _("categories"),
        _("purposes (basis)"),
        _("since, until"),
        _("transfer"),
        _("path"),
        _("status"),
    ]
    return head + "\n" + table(rows, headers)


def _role(h: dict[str, Any], lang: str) -> str:
    """The web UI's words: our own system where the path starts, else the recipient's role."""
    from lineage.i18n import gettext
    from lineage.services import plain

    _ = gettext(lang)
    if len(h["path"]) == 1:
        return _("own system")
    return plain.role(h["role"], lang) if h["role"] else "-"
