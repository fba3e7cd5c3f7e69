"""``lineage export openlineage`` and ``lineage import openlineage``: the data teams' lineage
format, out (aggregated flows) and in (catalog suggestions)."""

from __future__ import annotations

from typing import Any

import click

from lineage.cli.catalog import catalog_option
from lineage.cli.output import deliver, format_option, output_option


@click.group("export")
def export_group() -> None:
    """Export what lineage knows in other tools' formats."""


@click.group("import")
def import_group() -> None:
    """Read other tools' formats into catalog suggestions."""


@export_group.command("openlineage")
@click.option("--since", metavar="TIME", help="Only flows that occurred after this time.")
@click.option("--as-of", metavar="TIME", help="Flows up to, and judged as of, this time.")
@output_option("JSON Lines")
@click.option(
    "--url",
    metavar="URL",
    help="POST each event to URL/api/v1/lineage (Marquez and compatible servers).",
)
@click.option(
    "--namespace",
    metavar="NS",
    help="OpenLineage namespace (default lineage://CONTROLLER from the catalog).",
)
@click.option("--timeout", type=float, default=10, show_default=True, help="HTTP timeout (s).")
@catalog_option
@click.pass_context
def export_openlineage(
    ctx: click.Context,
    since: str | None,
    as_of: str | None,
    output: str | None,
    url: str | None,
    namespace: str | None,
    timeout: float,
) -> None:
    """The company's personal-data flows as OpenLineage run events (spec 2-0-2): one dataset
    per holder and category group, one job per purpose, one run per job, with tags for
    categories, special categories, legal bases, country and transfer tool (judged valid or
    not), and lineage's own facets (lineage_personalData, lineage_purpose, lineage_flows).
    Flows are aggregated: subject counts, never subject references.

    \b
      lineage export openlineage -o flows.jsonl
      lineage export openlineage --url http://localhost:5000 --since 2025-01-01
      lineage export openlineage --catalog examples/webshop/lineage.yaml --as-of 2025-09-01
    """
    from lineage.cli.main import _catch_up, make_app
    from lineage.cli.output import write_atomic
    from lineage.errors import InputError
    from lineage.services.openlineage_export import run_events, to_json
    from lineage.timeutil import now, parse_time

    if output and url:
        raise InputError("give --output or --url, not both", "--url")
    when = parse_time(as_of, assume_utc=True) if as_of else now()
    start = parse_time(since, assume_utc=True) if since else None
    app = make_app(ctx)
    catalog = app.catalog()
    with app.store() as store:
        _catch_up(app, store)
        events = run_events(store, when, start, catalog, namespace)
    if url:
        from lineage.services.openlineage_post import post

        post(events, url, timeout)
        click.echo(f"posted {len(events)} run events to {url}", err=True)
        return
    text = "".join(to_json(e) + "\n" for e in events)
    if output:
        write_atomic(output, text.encode())
        click.echo(f"wrote {len(events)} run events to {output}", err=True)
    else:
        click.echo(text, nl=False)


@import_group.command("openlineage")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@output_option("the suggestions (YAML)")
@format_option("yaml", "json")
@catalog_option
@click.pass_context
def import_openlineage(ctx: click.Context, file: Any, output: str | None, fmt: str) -> None:
    """Read OpenLineage run events (JSON Lines, a JSON array or one event; '-' for standard
    input) from a pipeline (dbt, Airflow, Spark...) and suggest what the catalog does not
    declare yet: holders that received datasets tagged as personal data, and the flows to
    them (a transfer when the holder is outside the EEA). Never subject events: a pipeline
    run names no person.

    \b
      lineage import openlineage dbt-run.jsonl
      cat events.json | lineage import openlineage - --format json
    """
    from lineage.cli.main import make_app
    from lineage.services.openlineage_import import read_events, suggest

    name = "<stdin>" if file.name == "<stdin>" else file.name
    result = suggest(read_events(file.read(), name), make_app(ctx).catalog(), name)
    deliver(result.yaml(), result.as_json(), output, fmt, f"{len(result.suggestions)} suggestions")
