"""``lineage key public``, ``lineage erasure verify`` and ``lineage erasure bounces``:
evidence an outsider can check, and delivery reports that arrive after a message was sent."""

from __future__ import annotations

from pathlib import Path

import click

from lineage.cli.catalog import catalog_option
from lineage.cli.output import emit_json, format_option, table, warn


@click.group("key")
def key() -> None:
    """The home's signing key: evidence bundles are signed with it (Ed25519).

    \b
      lineage key public --output lineage-evidence.pem
    """


@key.command("public")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the PEM to this file (default: stdout).",
)
@format_option("pem", "json")
@click.pass_context
def public(ctx: click.Context, output: str | None, fmt: str) -> None:
    """Export the public key that verifies this home's evidence bundles (PEM), to give to
    a supervisory authority. The key pair is created on first need (<home>/signing.key,
    owner-only); the private key never leaves the home.

    \b
      lineage key public --output lineage-evidence.pem
      lineage key public --format json
    """
    from lineage.cli.main import make_app
    from lineage.signing import fingerprint, public_pem, signing_key

    app = make_app(ctx)
    app.require_home()
    pub = signing_key(app.settings.home).public_key()
    pem = public_pem(pub).decode()
    if output is not None:
        Path(output).write_text(pem)
        click.echo(f"wrote {output} (fingerprint {fingerprint(pub)})", err=True)
    if fmt == "json":
        emit_json({"fingerprint": fingerprint(pub), "public_key": pem})
    elif output is None:
        click.echo(pem, nl=False)


@click.command("verify")
@click.argument("bundle", metavar="BUNDLE")
@click.option(
    "--public-key",
    type=click.Path(dir_okay=False),
    help="The controller's public key (PEM, from `lineage key public`); default: the home's.",
)
@format_option("table", "json")
@click.pass_context
def verify(ctx: click.Context, bundle: str, public_key: str | None, fmt: str) -> None:
    """Verify an evidence bundle (from `lineage erasure evidence`; '-' for stdin): the
    Ed25519 signature, that its events are well formed, in log order and agree with the
    request's tasks, and, where the lineage home is, that each record is in the log at
    the position stated with the SHA-256 stated. Exit code 1 when it does not verify, 2
    when the bundle or key cannot be read.

    \b
      lineage erasure verify 3f2a….json --public-key lineage-evidence.pem
      lineage --home /srv/lineage erasure verify 3f2a….json
    """
    from lineage.cli.main import make_app
    from lineage.errors import InputError
    from lineage.services.erasure.evidence import read_bundle
    from lineage.services.erasure.evidence import verify as check
    from lineage.signing import load_public

    doc = read_bundle(bundle)
    pub = None
    if public_key is not None:
        try:
            data = Path(public_key).read_bytes()
        except OSError as exc:
            raise InputError(exc.strerror or "cannot be read", public_key) from None
        pub = load_public(data, public_key)
    app = make_app(ctx)
    home = app if (app.settings.home / "pseudonym.key").exists() else None
    result = check(doc, public_key=pub, key_source="--public-key", app=home)
    if fmt == "json":
        emit_json(result.to_json())
        return
    where = "checked against this home's log" if result.log_checked else "log not checked"
    signer = f"key {result.fingerprint}" if result.fingerprint else "the home's secret key"
    click.echo(
        f"valid: request {result.request_id}, {result.events} events, signed by {signer} "
        f"({result.key}); {where}"
    )
    if result.note:
        click.echo(f"note: {result.note}")


@click.command("bounces")
@click.argument("source", metavar="SOURCE")
@format_option("table", "json")
@catalog_option
@click.pass_context
def bounces(ctx: click.Context, source: str, fmt: str) -> None:
    """Read delivery reports (RFC 3464 bounces and delay notices) that recipients' mail
    servers sent back, and record them on the e-mailed tasks they are about.

    SOURCE is a Maildir directory, an mbox file, a file with one message, or '-' for one
    message on standard input (a mail server's pipe). A permanent failure (5.x.x) makes
    the task failed with the report's status and diagnostic (scrubbed), for
    `lineage erasure retry`; a delay notice (4.x.x) is recorded without failing it. A
    report read twice is recorded once; other messages are counted, damaged ones warned
    about. Nothing is deleted from the source.

    \b
      lineage erasure bounces ~/Maildir/.bounces
      lineage erasure bounces /var/mail/privacy --format json
      lineage erasure bounces -  < report.eml
    """
    from lineage.channels.dsn import messages
    from lineage.cli.erasure import make_service
    from lineage.services.erasure.bounces import record_bounces

    items = messages(source)
    summary = record_bounces(make_service(ctx), items)
    for line in summary.warnings:
        warn(line, quoting=True)
    if fmt == "json":
        emit_json(summary.to_json())
        return
    data = summary.to_json()
    m, t = data["messages"], data["tasks"]
    click.echo(
        f"read {m['read']} messages: {t['bounced']} tasks bounced, {t['delayed']} delayed, "
        f"{t['already_recorded']} already recorded, {t['already_answered']} already "
        f"answered; {m['unmatched']} reports for no known message, {m['delivered']} "
        f"success reports, {m['not_delivery_reports']} not delivery reports, "
        f"{m['malformed']} unreadable"
    )
    if summary.recorded:
        rows = [
            (r["request_id"], r["holder"], r["step"], r["status"], r["task_status"])
            for r in summary.recorded
        ]
        click.echo(table(rows, ["request", "holder", "step", "status", "task"]))
