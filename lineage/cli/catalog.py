"""``lineage catalog validate|import-fides|export-fides`` and the shared ``--catalog`` option."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from lineage.cli.output import deliver, emit_json, format_option, output_option

F = TypeVar("F", bound=Callable[..., Any])


def _remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value:
        ctx.ensure_object(dict)["catalog"] = value
    return value


def catalog_option(func: F) -> F:
    """``--catalog FILE`` (env LINEAGE_CATALOG); the default is lineage.yaml in the home."""
    return click.option(
        "--catalog",
        "catalog_file",
        metavar="FILE",
        envvar="LINEAGE_CATALOG",
        expose_value=False,
        is_eager=True,
        callback=_remember,
        help="Catalog file (default: lineage.yaml in the lineage home; env LINEAGE_CATALOG).",
    )(func)


@click.group()
def catalog() -> None:
    """The processing catalog: what the company declares (controller, holders, purposes)."""


@catalog.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@format_option("table", "json")
@catalog_option
@click.pass_context
def validate(ctx: click.Context, file: str | None, fmt: str) -> None:
    """Check a catalog and list every problem, one per line as FILE:LINE:COLUMN: problem
    (with the likely fix where there is one). Exit code 2 when there is any.

    \b
      lineage catalog validate                   lineage.yaml in the home
      lineage catalog validate examples/webshop/lineage.yaml
    """
    from lineage.catalog import catalog_path
    from lineage.catalog.loader import check_catalog
    from lineage.cli.main import make_app
    from lineage.errors import InputError

    app = make_app(ctx)
    path = catalog_path(app.settings.home, file or app.catalog_file)
    if path is None:
        raise InputError(
            f"no catalog: give FILE or --catalog, or create {app.settings.home / 'lineage.yaml'}"
        )
    loaded, problems = check_catalog(path)
    if fmt == "json":
        emit_json(
            {
                "catalog": str(path),
                "valid": not problems,
                "problems": [p._asdict() for p in problems],
                "purposes": len(loaded.purposes) if loaded else None,
                "holders": len(loaded.holders) if loaded else None,
            }
        )
    elif problems:
        for problem in problems:
            click.secho(str(problem), fg="red", err=True)
    else:
        assert loaded is not None
        click.echo(
            f"{path}: valid ({len(loaded.purposes)} purposes, {len(loaded.holders)} holders)"
        )
    if problems:
        ctx.exit(2)


@catalog.command("import-fides")
@click.argument("manifest", type=click.Path(dir_okay=False, exists=True))
@output_option("the catalog")
@click.option("--controller", "controller", help="Controller name when the manifest has none.")
@click.option(
    "--country",
    default="DK",
    show_default=True,
    help="Country of the controller and its own systems (Fides has no country).",
)
@click.option(
    "--holder-country",
    "holder_countries",
    multiple=True,
    metavar="SYSTEM=CC",
    help="Country of a recipient system Fides states none for (repeatable).",
)
@format_option("yaml", "json")
@click.pass_context
def import_fides(
    ctx: click.Context,
    manifest: str,
    output: str | None,
    controller: str | None,
    country: str,
    holder_countries: tuple[str, ...],
    fmt: str,
) -> None:
    """Turn a Fides manifest (organization, systems with privacy declarations, custom
    taxonomy keys; fideslang YAML) into a catalog, so a map kept in Fides need not be
    rewritten.

    Processors, sub-processors and other companies' systems become recipients with their
    role, transfer tool and DPIA; retention written in words ("5 years", "5 år", "until
    consent is withdrawn") becomes a rule; data flows go to the purposes they belong to.
    Every Fides field that could not be mapped, and every value Fides does not state (a
    marked placeholder is written), is listed at the top of the catalog and under `notes`
    in --format json. The catalog is checked before anything is written.

    \b
      lineage catalog import-fides fides/systems.yml -o lineage.yaml
      lineage catalog import-fides systems.yml --holder-country mailchimp=US --format json
    """
    from pathlib import Path

    from lineage.catalog.fides import import_manifest
    from lineage.catalog.loader import parse_catalog
    from lineage.errors import InputError
    from lineage.events.validate import check_country

    def code(value: str, where: str) -> str:
        try:
            check_country(value.upper())
        except InputError as exc:
            raise InputError(exc.problem, where) from None
        return value.upper()

    countries: dict[str, str] = {}
    for given in holder_countries:
        key, sep, value = given.partition("=")
        if not (key and sep):
            raise InputError(f"{given!r} must be SYSTEM=CC", "--holder-country")
        countries[key] = code(value, "--holder-country")
    result = import_manifest(
        Path(manifest),
        controller=controller,
        country=code(country, "--country"),
        countries=countries,
    )
    text = result.yaml()
    _, problems = parse_catalog(text, output or "<imported catalog>")
    if problems:  # the mapping must never write a catalog lineage cannot load
        raise InputError(f"the imported catalog does not validate: {problems[0]}", manifest)
    deliver(text, result.as_json(), output, fmt, f"{len(result.notes)} notes to review at its top")


@catalog.command("export-fides")
@output_option("the manifest")
@format_option("yaml", "json")
@catalog_option
@click.pass_context
def export_fides(ctx: click.Context, output: str | None, fmt: str) -> None:
    """Write the catalog as a Fides manifest (fideslang YAML: an organization with controller,
    representative and DPO; systems with privacy declarations; custom taxonomy keys), checked
    with fideslang's own models, so the map can move to Fides and back with `import-fides`.

    What Fides has no field for (DPA dates, DPF certification, erasers, a purpose's
    description...) is listed at the top of the manifest and under `notes` in --format json.

    \b
      lineage catalog export-fides -o fides/lineage.yml
      lineage catalog export-fides --catalog examples/webshop/lineage.yaml --format json
    """
    from lineage.catalog.fides_export import export_manifest
    from lineage.cli.main import make_app

    result = export_manifest(make_app(ctx).require_catalog())
    deliver(result.yaml(), result.as_json(), output, fmt, f"{len(result.notes)} notes at its top")
