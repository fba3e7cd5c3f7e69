"""``lineage consent ...``: consent withdrawals, told to every recipient (Art. 7(3), 21(3))."""

from __future__ import annotations

import click

from lineage.cli.catalog import catalog_option
from lineage.cli.erasure import executor_options, make_service, plan_json, render_request
from lineage.cli.options import id_option, identifier_pairs
from lineage.cli.output import emit_json, format_option, table


@click.group("consent")
def consent() -> None:
    """Consent withdrawals: record them and tell every recipient to stop.

    \b
      lineage consent withdraw jane@example.com --use marketing
      lineage consent notices
    """


@consent.command("withdraw", short_help="Record a withdrawal and tell the recipients to stop.")
@click.argument("identifier", required=False)
@id_option
@click.option(
    "--use",
    "use",
    required=True,
    metavar="DATA_USE",
    help="The fideslang data use withdrawn (covers its narrower uses: marketing covers "
    "marketing.communications.email).",
)
@click.option("--channel", metavar="TEXT", help="How the subject withdrew (kept as evidence).")
@click.option("--dry-run", is_flag=True, help="Plan only: record nothing, send nothing.")
@executor_options
@format_option("table", "json")
@catalog_option
@click.pass_context
def withdraw(
    ctx: click.Context,
    identifier: str | None,
    ids: tuple[str, ...],
    use: str,
    channel: str | None,
    dry_run: bool,
    retries: int,
    backoff: float,
    timeout: float,
    fmt: str,
) -> None:
    """Record that the subject withdrew consent to a data use (a ConsentWithdrawn event)
    and tell every recipient that received their data under it, or a narrower use, to stop
    processing for it: Mailchimp is unsubscribed through its API, other recipients get the
    notice by e-mail or webhook (and confirm through its link or callback), the rest are
    tasks for a person (`lineage erasure confirm`). Follow it with `lineage erasure status`.

    \b
      lineage consent withdraw jane@example.com --use marketing
      lineage consent withdraw --id customer_number=1042 --use marketing.communications.email
    """
    from lineage.cli.remote import service as remote

    pairs = identifier_pairs(identifier, ids)
    client = remote(ctx)
    if client is not None:
        data = client.withdraw(ids=pairs, use=use, channel=channel, dry_run=dry_run)
    else:
        from lineage.services.erasure.notices import withdraw as answer

        service = make_service(ctx, retries=retries, backoff=backoff, timeout=timeout)
        data = plan_json(answer(service, pairs, use, channel=channel, dry_run=dry_run))
    if fmt == "json":
        emit_json(data)
    else:
        click.echo(render_request(data))


@consent.command("notices", short_help="Open notices for withdrawals recorded elsewhere.")
@executor_options
@format_option("table", "json")
@catalog_option
@click.pass_context
def notices(ctx: click.Context, retries: int, backoff: float, timeout: float, fmt: str) -> None:
    """Open a notice request for every recorded consent withdrawal that has none yet
    (from connectors, the SDK, HTTP ingest or Mailchimp's unsubscribe webhook) and send
    what can be sent. Run it after ingesting, e.g. from cron: a second run opens nothing.
    The holder a withdrawal came from is not told again. lineage keeps no identifiers, so
    e-mails, webhooks and unsubscribes wait for them: `lineage erasure run REQUEST --id
    email=...` (their tasks show as failed until then).

    \b
      lineage consent notices --format json
    """
    from lineage.cli.remote import service as remote

    client = remote(ctx)
    if client is not None:
        data = client.consent_notices()
    else:
        from lineage.services.erasure.notices import open_withdrawals

        service = make_service(ctx, retries=retries, backoff=backoff, timeout=timeout)
        opened = open_withdrawals(service)
        data = {"opened": [r.to_json(service.clock()) for r in opened]}
    if fmt == "json":
        emit_json(data)
        return
    if not data["opened"]:
        click.echo("no withdrawal without its notices")
        return
    rows = [
        (
            r["request_id"],
            r["purpose"],
            r["status"],
            "\n".join(
                f"{t['holder']} ({t['channel'] or 'manual'}): {t['status']}" for t in r["tasks"]
            )
            or "-",
        )
        for r in data["opened"]
    ]
    click.echo(table(rows, ["request", "use", "status", "tasks"]))
