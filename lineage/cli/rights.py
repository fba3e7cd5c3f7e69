"""The data subject's rights beyond erasure: ``access`` (Art. 15), ``rectify`` (Art. 16),
``restrict`` (Art. 18), ``recipients`` (Art. 19), each notified to every recipient."""

from __future__ import annotations

from typing import Any

import click

from lineage.cli.catalog import catalog_option
from lineage.cli.erasure import categories_of, make_service, plan_json, render_request
from lineage.cli.options import id_option, identifier_pairs, lang_option
from lineage.cli.output import emit_json, format_option, table


def _open(
    ctx: click.Context,
    pairs: list[tuple[str, str]],
    kind: str,
    categories: tuple[str, ...],
    dry_run: bool,
    fmt: str,
    lang: str,
) -> None:
    from lineage.cli.remote import service as remote

    client = remote(ctx)
    if client is not None:
        if kind == "rectification":
            data = client.rectify(ids=pairs, categories=categories, dry_run=dry_run)
        else:
            data = client.restrict(ids=pairs, dry_run=dry_run)
    else:
        from lineage.services.erasure.notices import send_notice

        service = make_service(ctx)
        cats = categories_of(categories, "--categories", service)
        # Recipients with an e-mail or webhook channel are told now (Art. 19).
        data = plan_json(send_notice(service, pairs, kind, cats, dry_run=dry_run))
    if fmt == "json":
        emit_json(data)
    else:
        click.echo(render_request(data, lang))


@click.command("rectify", short_help="Record a rectification and notify recipients (Art. 16, 19).")
@click.argument("identifier", required=False)
@id_option
@click.option(
    "--categories",
    "categories",
    multiple=True,
    required=True,
    metavar="CATEGORY",
    help="Categories that were corrected (repeatable or comma-separated).",
)
@click.option("--dry-run", is_flag=True, help="Plan only: record nothing.")
@format_option("table", "json")
@lang_option
@catalog_option
@click.pass_context
def rectify(
    ctx: click.Context,
    identifier: str | None,
    ids: tuple[str, ...],
    categories: tuple[str, ...],
    dry_run: bool,
    fmt: str,
    lang: str,
) -> None:
    """Record a rectification (Art. 16) and plan its notification to every recipient that
    holds the corrected categories (Art. 19); track each with `lineage erasure confirm`.

    \b
      lineage rectify jane@example.com --categories user.contact.address
    """
    _open(ctx, identifier_pairs(identifier, ids), "rectification", categories, dry_run, fmt, lang)


@click.command("restrict", short_help="Record a restriction and notify recipients (Art. 18, 19).")
@click.argument("identifier", required=False)
@id_option
@click.option("--dry-run", is_flag=True, help="Plan only: record nothing.")
@format_option("table", "json")
@lang_option
@click.pass_context
def restrict(
    ctx: click.Context,
    identifier: str | None,
    ids: tuple[str, ...],
    dry_run: bool,
    fmt: str,
    lang: str,
) -> None:
    """Record a restriction of processing (Art. 18) and plan its notification to every
    recipient (Art. 19); who-has then shows those holders as restricted.

    \b
      lineage restrict jane@example.com
    """
    _open(ctx, identifier_pairs(identifier, ids), "restriction", (), dry_run, fmt, lang)


def _subject(ctx: click.Context, identifier: str | None, ids: tuple[str, ...]) -> Any:
    from lineage.cli.main import make_app

    pairs = identifier_pairs(identifier, ids)
    app = make_app(ctx)
    refs = app.refs_for(pairs)
    return app, refs


@click.command("recipients", short_help="Everyone the subject's data was disclosed to (Art. 19).")
@click.argument("identifier", required=False)
@id_option
@format_option("table", "json")
@lang_option
@click.pass_context
def recipients(
    ctx: click.Context, identifier: str | None, ids: tuple[str, ...], fmt: str, lang: str
) -> None:
    """Everyone the subject's data was disclosed to (Art. 19: the subject may ask), with
    role, country, categories and whether they still hold them.

    \b
      lineage recipients jane@example.com --format json
    """
    from lineage.cli.main import current_store
    from lineage.cli.remote import service
    from lineage.services.access import recipients as answer
    from lineage.timeutil import now

    client = service(ctx)
    if client is not None:
        result = client.recipients(ids=identifier_pairs(identifier, ids))
    else:
        app, refs = _subject(ctx, identifier, ids)
        with current_store(app) as store:
            result = answer(store, refs, now())
    if fmt == "json":
        emit_json(result)
        return
    from lineage.i18n import gettext
    from lineage.services import plain

    _ = gettext(lang)
    rows = [
        (
            r["recipient"],
            plain.role(r["role"], lang) if r["role"] else "-",
            r["country"] or "-",
            "\n".join(plain.key_name(c, None, lang) for c in r["categories"]) or "-",
            plain.status(r["status"], lang),
        )
        for r in result["recipients"]
    ]
    headers = [_("recipient"), _("role"), _("country"), _("categories"), _("status")]
    click.echo(table(rows, headers))


@click.command("access", short_help="The subject access report (Art. 15): json, md or html.")
@click.argument("identifier", required=False)
@id_option
@click.option("--as-of", metavar="TIME", help="Answer from events up to this time (default now).")
@lang_option
@format_option("json", "markdown", "html")
@catalog_option
@click.pass_context
def access(
    ctx: click.Context,
    identifier: str | None,
    ids: tuple[str, ...],
    as_of: str | None,
    lang: str,
    fmt: str,
) -> None:
    """The Art. 15 report for one subject: who the controller is (with representative and
    DPO), purposes in plain words with their legal bases, categories, recipients, how long
    the data is kept (who-has's dates), source, transfers and their safeguards (erased ones
    as history), automated decisions, the subject's rights and where to complain.

    With a catalog (--catalog or lineage.yaml in the home) the report names the purposes as
    the catalog does, retention follows the catalog's rules, and the supervisory authority
    of the controller's country is named. Without one it is built from the events alone.

    \b
      lineage access jane@example.com --format md > report.md
      lineage access jane@example.com --format html --lang da > rapport.html
    """
    from lineage.cli.main import current_store
    from lineage.cli.remote import service
    from lineage.services.access import access_report, to_html, to_markdown
    from lineage.timeutil import now, parse_time

    when = parse_time(as_of, assume_utc=True, where="--as-of") if as_of else now()
    client = service(ctx)
    if client is not None:
        pairs = identifier_pairs(identifier, ids)
        answer = client.access(ids=pairs, as_of=as_of, lang=lang, format=fmt)
        emit_json(answer) if fmt == "json" else click.echo(answer, nl=False)
        return
    app, refs = _subject(ctx, identifier, ids)
    # Taxonomy keys are checked by `catalog validate` and on emit; not on this read path.
    catalog = app.catalog(check_taxonomy=False)
    with current_store(app) as store:
        report = access_report(store, refs, when, catalog, lang)
    if fmt == "json":
        emit_json(report)
    elif fmt == "markdown":
        click.echo(to_markdown(report), nl=False)
    else:
        click.echo(to_html(report), nl=False)
