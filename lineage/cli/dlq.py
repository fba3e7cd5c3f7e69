"""``lineage dlq``: records the projector set aside."""

from __future__ import annotations

import click

from lineage.cli.options import lang_option
from lineage.cli.output import emit_json, format_option, table


@click.group()
def dlq() -> None:
    """Dead letters: records that could not be decoded or were not valid events.

    On Kafka they are in the <topic>.dlq topic, with headers saying why and where they came
    from; on the file log, in the projection's quarantine table.
    """


@dlq.command("list")
@format_option("table", "json")
@lang_option
@click.pass_context
def dlq_list(ctx: click.Context, fmt: str, lang: str) -> None:
    """List the dead letters: source partition and offset, reason, size.

    \b
      lineage --log kafka dlq list
      lineage dlq list --format json
    """
    from lineage.cli.main import make_app
    from lineage.cli.remote import service

    client = service(ctx)
    letters = client.dead_letters() if client is not None else make_app(ctx).dead_letters()
    if fmt == "json":
        emit_json(letters)
        return
    from lineage.i18n import gettext

    _ = gettext(lang)
    if not letters:
        click.echo(_("no dead letters"))
        return
    # The reason is a decoder's own words about the bytes, kept as recorded.
    rows = [(d["partition"], d["offset"], d["size"], d["reason"]) for d in letters]
    click.echo(table(rows, [_("partition"), _("offset"), _("bytes"), _("reason")]))
