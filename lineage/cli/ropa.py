"""``lineage ropa``: the Article 30 records."""

from __future__ import annotations

import click

from lineage.cli.catalog import catalog_option
from lineage.cli.options import lang_option
from lineage.cli.output import format_option, write_atomic

_SUFFIX = {"markdown": "md", "csv": "csv", "xlsx": "xlsx", "json": "json", "html": "html"}


@click.command()
@format_option(*_SUFFIX, help="Output format.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write to this file (required for xlsx; default standard output).",
)
@lang_option
@click.option("--as-of", metavar="TIME", help="Evidence from events up to this time.")
@catalog_option
@click.pass_context
def ropa(ctx: click.Context, fmt: str, output: str | None, lang: str, as_of: str | None) -> None:
    """Article 30 records of processing: one row per purpose (30(1)) with the columns of the
    supervisory authorities' templates, a header with controller, representative and DPO,
    evidence from the events (subjects observed, first and last seen, recipients observed),
    and 30(2) records when the catalog lists processing done as a processor.

    \b
      lineage ropa --format xlsx -o ropa.xlsx --lang da
      lineage ropa --format html -o ropa.html
      lineage ropa --format csv --catalog examples/webshop/lineage.yaml
    """
    from lineage.cli.main import _catch_up, make_app
    from lineage.errors import InputError
    from lineage.services.ropa import build
    from lineage.services.ropa_export import render
    from lineage.timeutil import now, parse_time

    if fmt == "xlsx" and not output:
        raise InputError("xlsx needs --output FILE", "--format")
    from lineage.cli.remote import service

    when = parse_time(as_of, assume_utc=True, where="--as-of") if as_of else now()
    client = service(ctx)
    if client is not None:
        data = client.ropa(format=fmt, lang=lang, as_of=as_of)
        if not output:
            click.echo(data.decode("utf-8"), nl=False)
            return
        write_atomic(output, data)
        click.echo(f"wrote the records of processing to {output}", err=True)
        return
    app = make_app(ctx)
    catalog = app.require_catalog()
    with app.store() as store:
        _catch_up(app, store)
        records = build(catalog, store, when, lang)
    data = render(records, fmt, lang)
    if not output:
        click.echo(data.decode("utf-8"), nl=False)
        return
    write_atomic(output, data)
    click.echo(
        f"wrote {len(records.controller_records)} controller records"
        f" and {len(records.processor_records)} processor records to {output}",
        err=True,
    )
