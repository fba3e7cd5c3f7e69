"""``lineage who-has``."""

from __future__ import annotations

from typing import Any

import click

from lineage.cli.catalog import catalog_option
from lineage.cli.options import id_option, identifier_pairs
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
        emit_json(result) if fmt == "json" else click.echo(render(result))
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
        click.echo(render(result))


def _future_note(result: dict[str, Any], fmt: str) -> None:
    if result.get("omitted_future_events") and fmt != "json":
        click.secho(
            f"note: {result['omitted_future_events']} events of this subject are dated in "
            f"the future (first {result['omitted_future_first_at']}) and not shown: is a "
            "producer's clock ahead? (--as-of a later time includes them)",
            fg="yellow",
            err=True,
        )


def render(result: dict[str, Any]) -> str:
    head = f"subject {result['subject'][:16]}…  as of {result['as_of']}"
    if not result["holders"]:
        return head + "\nno holder has data of this subject"
    rows = []
    for h in result["holders"]:
        purposes = "\n".join(
            f"{p['purpose']} ({p['legal_basis'] or '?'})"
            + (" consent withdrawn" if p.get("consent_withdrawn_at") else "")
            for p in h["purposes"]
        )
        transfer = "-"
        if h["transfer"]:
            t = h["transfer"]
            transfer = f"{t['country']} {t['mechanism']} {'valid' if t['valid'] else 'INVALID'}"
            if not t["valid"]:
                transfer = Marked(transfer)
        dates = f"{(h['since'] or '-')[:10]}\n{(h['retain_until'] or '-')[:10]}"
        if h["status"] == "overdue" or h["overdue_categories"]:
            dates = Marked(dates + "\npast retention")
        status = h["status"]
        if h["special_categories"]:
            status += "\nspecial category"
        rows.append(
            (
                h["holder"],
                f"{h['role'] or '-'}\n{h['country'] or '-'}",
                "\n".join(h["categories"]) or "-",
                purposes or "-",
                dates,
                transfer,
                " → ".join(h["path"]),
                status,
            )
        )
    headers = [
        "holder",
        "role, country",
        "categories",
        "purposes (basis)",
        "since, until",
        "transfer",
        "path",
        "status",
    ]
    return head + "\n" + table(rows, headers)
