"""``lineage audit``: findings where declaration and evidence disagree, as a CI gate."""

from __future__ import annotations

import click

from lineage.cli.catalog import catalog_option
from lineage.cli.options import lang_option
from lineage.cli.output import Marked, Warned, emit_json, format_option, table
from lineage.i18n import NP_

# The summary line: findings by severity.
COUNTS = {
    "error": NP_("%(num)d error", "%(num)d errors"),
    "warning": NP_("%(num)d warning", "%(num)d warnings"),
    "info": NP_("%(num)d info", "%(num)d info"),
}


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
@lang_option
@catalog_option
@click.pass_context
def audit(ctx: click.Context, fail_on: str, as_of: str | None, fmt: str, lang: str) -> None:
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
      lineage audit --lang da
    """
    from lineage.cli.main import current_store, make_app
    from lineage.cli.remote import service
    from lineage.i18n import gettext, ngettext
    from lineage.services import plain
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
    _ = gettext(lang)
    if skipped:
        click.echo(
            _(
                "note: no catalog (--catalog FILE or lineage.yaml in the home): skipped "
                "%(num)d rules that need one (%(rules)s)"
            )
            % {"num": len(skipped), "rules": ", ".join(skipped)},
            err=True,
        )
    if fmt == "json":
        emit_json(data)
    else:
        marks = {"error": Marked, "warning": Warned}
        rows = [
            (
                marks.get(f["severity"], str)(plain.severity(f["severity"], lang)),
                f["rule"],
                f["holder"] or "-",
                f["purpose"] or "-",
                plain.text(f.get("message_parts"), lang, f["message"]),
                plain.text(f.get("fix_parts"), lang, f["fix"]),
            )
            for f in findings
        ]
        headers = [_("severity"), _("rule"), _("holder"), _("purpose"), _("finding"), _("fix")]
        if rows:
            click.echo(table(rows, headers))
        n = ngettext(lang)
        counts = (n(*COUNTS[s], summary[s]) % {"num": summary[s]} for s in COUNTS)
        click.echo(", ".join(counts))
    if any(reaches(f["severity"], fail_on) for f in findings):
        ctx.exit(1)
