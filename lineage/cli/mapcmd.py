"""``lineage map``: the data map as a picture."""

from __future__ import annotations

import click

from lineage.cli.catalog import catalog_option
from lineage.cli.options import lang_option
from lineage.cli.output import write_atomic

_SUFFIXES = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot"}


@click.command("map")
@click.option(
    "--subject",
    metavar="ID",
    help="Draw one subject's map: an e-mail, +phone, KIND=VALUE or subject reference.",
)
@click.option(
    "--id",
    "ids",
    multiple=True,
    metavar="KIND=VALUE",
    help="One subject's identifier of a given kind (repeatable).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["svg", "png", "dot"]),
    help="Picture format (default: from the output's suffix .svg, .png, .dot or .gv). "
    "svg and png need Graphviz's dot program; dot does not.",
)
@click.option(
    "--output",
    "-o",
    required=True,
    metavar="FILE",
    help="Write the picture here ('-' for standard output).",
)
@click.option("--as-of", metavar="TIME", help="Draw from events up to this time (default now).")
@catalog_option
@lang_option
@click.pass_context
def map_command(
    ctx: click.Context,
    subject: str | None,
    ids: tuple[str, ...],
    fmt: str | None,
    output: str,
    as_of: str | None,
    lang: str,
) -> None:
    """The data map as a picture (Graphviz): own systems, processors, sub-processors and
    other recipients, left to right from the data subjects, with categories and legal bases
    on the flows. Countries outside the EEA are framed in orange, invalid transfers are red
    (the audit's transfer-invalid findings), and with a catalog, declared recipients that no
    event shows receiving data are dashed. Its words are in the language of --lang; category,
    purpose and transfer tool keys stay keys.

    Without --subject/--id: the whole company, every observed flow aggregated per pair of
    holders. With one: that person's flows (identity links followed, as in who-has). An
    unknown subject draws nothing (exit code 1).

    \b
      lineage map -o map.svg
      lineage map --format png -o map.png --catalog examples/webshop/lineage.yaml
      lineage map --subject jane@example.com -o jane.svg
      lineage map --lang da -o datakort.svg
      lineage map --format dot -o - | dot -Tpdf > map.pdf
    """
    from pathlib import Path

    from lineage.cli.main import current_store, make_app
    from lineage.edge.identity import is_subject_ref, parse_identifier
    from lineage.errors import InputError
    from lineage.graph.datamap import render, to_dot
    from lineage.timeutil import now, parse_time

    if fmt is None:
        fmt = _SUFFIXES.get(Path(output).suffix.lower())
        if fmt is None:
            raise InputError(
                f"cannot tell the format from {output!r}: give --format svg, png or dot",
                "--output",
            )
    if fmt != "dot":
        import shutil

        if shutil.which("dot") is None:
            render("", fmt)  # raises the one-line "install Graphviz" error, before any work
    pairs: list[tuple[str, str]] = []
    if subject:
        pairs.append(("ref", subject) if is_subject_ref(subject) else parse_identifier(subject))
    for text in ids:
        kind, sep, value = text.partition("=")
        if not sep:
            raise InputError(f"{text!r} must be KIND=VALUE", "--id")
        pairs.append((kind, value))
    when = parse_time(as_of, assume_utc=True, where="--as-of") if as_of else now()
    from lineage.cli.remote import service

    client = service(ctx)
    if client is not None:
        data = client.map(ids=pairs or None, format=fmt, as_of=as_of, lang=lang)
        if output == "-":
            click.echo(data, nl=False)
        else:
            write_atomic(output, data)
            click.echo(f"wrote {fmt} map to {output}", err=True)
        return
    app = make_app(ctx)
    catalog = app.catalog(check_taxonomy=False)
    with current_store(app) as store:
        from lineage.services.datamap import data_map

        datamap = data_map(store, app.refs_for(pairs) if pairs else None, when, catalog)
    data = render(to_dot(datamap, lang), fmt)
    if output == "-":
        click.echo(data, nl=False)  # bytes go to the binary stream as they are
        return
    write_atomic(output, data)
    invalid = sum(1 for e in datamap.edges if e.invalid)
    click.echo(
        f"wrote {fmt} map of {len(datamap.nodes)} nodes and {len(datamap.edges)} flows"
        + (f" ({invalid} with invalid transfers)" if invalid else "")
        + f" to {output}",
        err=True,
    )
