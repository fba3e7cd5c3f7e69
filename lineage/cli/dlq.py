"""``lineage dlq``: records the projector set aside."""

from __future__ import annotations

import click

from lineage.cli.output import emit_json, format_option, table


@click.group()
def dlq() -> None:
    """Dead letters: records that could not be decoded or were not valid events.

    On Kafka they are in the <topic>.dlq topic, with headers saying why and where they came
    from; on the file log, in the projection's quarantine table.
    """


@dlq.command("list")
@format_option("table", "json")
@click.pass_context
def dlq_list(ctx: click.Context, fmt: str) -> None:
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
    if not letters:
        click.echo("no dead letters")
        return
    rows = [(d["partition"], d["offset"], d["size"], d["reason"]) for d in letters]
    click.echo(table(rows, ["partition", "offset", "bytes", "reason"]))
