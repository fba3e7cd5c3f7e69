"""``lineage demo``: a throwaway home, a sample company, one answer."""

from __future__ import annotations

import click

from lineage.cli.options import lang_option
from lineage.cli.output import emit_json, format_option

CATALOG = "lineage.yaml"


@click.command()
@click.option(
    "--subjects", default=400, show_default=True, help="How many people the sample company has."
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False),
    help="Keep the demo home here instead of a temporary folder.",
)
@format_option("table", "json")
@lang_option
@click.pass_context
def demo(ctx: click.Context, subjects: int, keep: str | None, fmt: str, lang: str) -> None:
    """Run the whole pipeline on a sample webshop: emit its events, project them, and show
    who holds the data of one customer (jane.doe@example.dk).

    The sample is modelled on a real Danish webshop policy: contact form, newsletter via
    Mailchimp (US), QuickPay, e-conomic (with a sub-processor), a gift supplier, Meta's
    pixel, and a 2019 support desk under the invalidated Privacy Shield.
    """
    import os
    import shlex
    import tempfile
    from pathlib import Path

    from lineage.cli.whohas import render
    from lineage.config import KEY_ENV, resolve
    from lineage.demo.connectors import sync_sample_company
    from lineage.demo.webshop import SAMPLE_EMAIL, app_events, catalog_events
    from lineage.edge.jsonl import EventParser
    from lineage.services.app import App
    from lineage.services.whohas import who_has
    from lineage.timeutil import now

    with tempfile.TemporaryDirectory(prefix="lineage-demo-") as tmp:
        home = Path(keep) if keep else Path(tmp) / "home"
        os.environ.pop(KEY_ENV, None)  # the demo's own key, never the user's
        app = App(resolve(home))
        app.init()
        if keep:
            # The sample company's declarations, so `ropa`, `audit` and `map` work in the
            # kept home as they would in a real one.
            import shutil

            from lineage.resources import resource_dir

            shutil.copyfile(resource_dir("examples") / "webshop" / "lineage.yaml", home / CATALOG)
        parser = EventParser(app.pseudonymizer(), default_source="demo")
        objects = [*catalog_events(), *app_events(subjects)]
        appended = app.append(
            e for i, obj in enumerate(objects, 1) for e in parser.parse_object(obj, f"sample:{i}")
        )
        # The vendors' side comes from the connectors, run against recorded payloads served
        # on 127.0.0.1 in the vendors' own shapes.
        synced = sync_sample_company(app.pseudonymizer(), app.append, home)
        recorded = appended.count + sum(c["events"] for c in synced.values())
        with app.store() as store:
            app.catch_up(store)
            refs = app.refs_for([("email", SAMPLE_EMAIL)])
            answer = who_has(store, refs, now())
        if fmt == "json":
            emit_json(
                {
                    "home": str(home) if keep else None,
                    "events": recorded,
                    "connectors": synced,
                    "who_has": answer,
                }
            )
            return
        click.echo(
            f"sample company: {subjects} people, {recorded} events recorded and projected "
            f"({recorded - appended.count} of them by the connectors: {', '.join(synced)})"
        )
        click.echo(f"$ lineage who-has {SAMPLE_EMAIL}\n")
        click.echo(render(answer, lang))
        where = f"--home {shlex.quote(str(home))} " if keep else ""
        if keep:
            click.echo(f"\nhome kept at {home}, with the sample company's catalog ({CATALOG})")
        else:
            # The commands below need a home: the first one keeps this company in one.
            where = "--home demo-home "
            click.echo("\nthis home is thrown away now; to try more, keep one:")
            click.echo("  lineage demo --keep demo-home")
        click.echo("next, try:")
        for command in (
            f"lineage {where}access {SAMPLE_EMAIL} --format html --lang da > access.html",
            f"lineage {where}audit",
            f"lineage {where}ropa --format xlsx -o ropa.xlsx --lang da",
        ):
            click.echo(f"  {command}")
