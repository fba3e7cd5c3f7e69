"""``lineage exposed``: breach impact at one holder at one moment."""

from __future__ import annotations

import csv
import io

import click

from lineage.cli.catalog import catalog_option
from lineage.cli.options import lang_option
from lineage.cli.output import emit_json, format_option, table


@click.command("exposed", short_help="Breach impact at a holder and time (Art. 33/34).")
@click.option("--holder", required=True, help="The holder that was breached.")
@click.option("--at", "at", required=True, metavar="TIME", help="The moment of the breach.")
@click.option("--references", is_flag=True, help="Also list the subject references.")
@format_option("table", "json", "csv")
@lang_option
@catalog_option
@click.pass_context
def exposed(
    ctx: click.Context, holder: str, at: str, references: bool, fmt: str, lang: str
) -> None:
    """Breach impact (Art. 33/34): how many subjects, which categories (special categories
    flagged), under which legal bases and purposes, were at HOLDER at that moment.

    Several identifiers of one person count once. CSV has one row per category. A holder
    that neither the events nor the catalog name is an error with the closest names.

    \b
      lineage exposed --holder mailchimp --at 2024-06-01T12:00:00Z
      lineage exposed --holder mailchimp --at 2024-06-01 --references --format json
    """
    from lineage.cli.main import _catch_up, make_app
    from lineage.cli.remote import service
    from lineage.services.exposure import exposed as answer
    from lineage.services.names import known_holders, require_known
    from lineage.timeutil import parse_time

    when = parse_time(at, assume_utc=True, where="--at")
    client = service(ctx)
    if client is not None:
        result = client.exposed(holder, at, references=references)
    else:
        app = make_app(ctx)
        catalog = app.catalog(check_taxonomy=False)
        with app.store() as store:
            _catch_up(app, store)
            require_known(holder, known_holders(store, catalog), "holder", "--holder")
            result = answer(store, holder, when, references=references)
    if fmt == "json":
        emit_json(result)
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["holder", "at", "category", "subjects", "special"])
        for c in result["categories"]:
            writer.writerow(
                [holder, result["at"], c["category"], c["subjects"], c["special"] or ""]
            )
        click.echo(buf.getvalue(), nl=False)
    else:
        from lineage.i18n import NP_, gettext, ngettext
        from lineage.services import plain

        _ = gettext(lang)
        count = result["subjects"]
        click.echo(
            ngettext(lang)(
                *NP_(
                    "%(num)d subject at %(holder)s at %(at)s",
                    "%(num)d subjects at %(holder)s at %(at)s",
                ),
                count,
            )
            % {"num": count, "holder": holder, "at": result["at"]}
        )
        rows = [
            (
                plain.key_name(c["category"], None, lang),
                c["subjects"],
                c["special"] or "",
            )
            for c in result["categories"]
        ]
        click.echo(table(rows, [_("category"), _("subjects"), _("special")]))
        bases = ", ".join(
            f"{plain.basis_name(b['legal_basis'], lang)} ({b['subjects']})"
            for b in result["legal_bases"]
        )
        click.echo(_("legal bases: %(bases)s") % {"bases": bases or "-"})
        if references:
            click.echo("\n".join(result["references"]))
