"""``lineage audit``: findings where declaration and evidence disagree, as a CI gate."""

from __future__ import annotations

import click

from lineage.cli.catalog import catalog_option
from lineage.cli.output import Marked, Warned, emit_json, format_option, table


@click.command()
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info"]),
    default="error",
    show_default=True,
    help="Exit 1 when a finding is at least this severe.",
)
@click.option("--as-of", metavar="TIME", help="Judge as of this time (default now).")
@format_option("table", "json")
@catalog_option
@click.pass_context
def audit(ctx: click.Context, fail_on: str, as_of: str | None, fmt: str) -> None:
    """Check the catalog against the events and the GDPR's rules: transfers without a valid
    tool on their dates, data held past retention, processing after consent was withdrawn,
    processors without a DPA, special categories without an Art. 9 condition, flows the
    catalog does not declare, declared recipients never observed, overdue erasure requests.

    Without a catalog, the rules that need only events run (invalid transfer tools, data
    past a retention the events carry, consent, overdue requests); the catalog's rules are
    skipped with a notice. Exit code 1 when a finding reaches --fail-on (default error), so
    it can gate CI; a missing catalog alone never fails it.

    \b
      lineage audit
      lineage audit --format json --fail-on warning
    """
    from lineage.cli.main import current_store, make_app
    from lineage.cli.remote import service
    from lineage.services.audit import reaches, report
    from lineage.timeutil import now, parse_time

    when = parse_time(as_of, assume_utc=True, where="--as-of") if as_of else now()
    client = service(ctx)
    if client is not None:
        data = client.audit(as_of=as_of)
    else:
        app = make_app(ctx)
        catalog = app.catalog()
        # Read-only (a follower's projection, a read-only home): answered by folding what
        # the kept summaries cannot give, without storing.
        with current_store(app) as store:
            data = report(catalog, store, when)
    skipped, summary, findings = data["skipped_rules"], data["summary"], data["findings"]
    if skipped:
        click.echo(
            "note: no catalog (--catalog FILE or lineage.yaml in the home): "
            f"skipped {len(skipped)} rules that need one ({', '.join(skipped)})",
            err=True,
        )
    if fmt == "json":
        emit_json(data)
    else:
        marks = {"error": Marked, "warning": Warned}
        rows = [
            (
                marks.get(f["severity"], str)(f["severity"]),
                f["rule"],
                f["holder"] or "-",
                f["purpose"] or "-",
                f["message"],
                f["fix"],
            )
            for f in findings
        ]
        if rows:
            click.echo(table(rows, ["severity", "rule", "holder", "purpose", "finding", "fix"]))
        click.echo(
            f"{summary['error']} errors, {summary['warning']} warnings, {summary['info']} info"
        )
    if any(reaches(f["severity"], fail_on) for f in findings):
        ctx.exit(1)
