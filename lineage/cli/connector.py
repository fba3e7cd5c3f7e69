"""``lineage connector``: list, run and serve the connectors."""

from __future__ import annotations

import sys
from typing import Any

import click

from lineage.cli.output import emit_json, format_option, table


@click.group()
def connector() -> None:
    """Connectors read the systems where personal data goes and record the events.

    Settings come from LINEAGE_<CONNECTOR>_<SETTING> or the connector's table in
    HOME/connectors.toml (owner-readable only), e.g.

    \b
      [mailchimp]
      api_key = "..."
      list_id = "a1b2c3d4e5"
      webhook_secret = "..."
    """


def _app(ctx: click.Context) -> Any:
    from lineage.cli.main import make_app

    app = make_app(ctx)
    app.require_home()
    return app


def _catalog_entry(app: Any, conn: Any) -> dict[str, Any] | None:
    """The catalog's declaration for the holder this connector reports on, as mapping
    defaults; None without a catalog or when the catalog does not name the holder."""
    catalog = app.catalog()
    if catalog is None:
        return None
    from lineage.services.connector_defaults import holder_defaults, holder_of

    base = conn.mapping_defaults()
    holder = holder_of(catalog, base.recipient, conn.name)
    if holder is None:
        return None
    return holder_defaults(
        catalog, holder, purpose_hint=base.purpose, subject_hint=base.data_subject
    )


@connector.command("list")
@format_option("table", "json")
@click.pass_context
def list_connectors(ctx: click.Context, fmt: str) -> None:
    """Installed connectors (entry-point group lineage.connectors) and their resources."""
    from connectors.config import load_config
    from connectors.registry import available
    from lineage.errors import LineageError

    home = ctx.obj.get("home")
    from lineage.config import resolve

    home_path = resolve(home).home
    rows = []
    for name, ep in sorted(available().items()):
        cls = ep.load()
        try:
            instance = cls(load_config(cls.config_class, cls.name, home_path), home_path)
            resources = [r.name for r in instance.resources()]
            configured = "yes"
        except LineageError as exc:
            missing = getattr(exc, "missing", None)
            resources = []
            configured = f"missing {', '.join(missing)}" if missing else f"no: {exc}"
        eraser = (
            "manual" if cls.manual_erasure else "yes" if cls.eraser is not _no_eraser(cls) else "-"
        )
        webhook = "yes" if cls.webhook is not _no_webhook(cls) else "-"
        rows.append(
            {
                "name": name,
                "title": cls.title,
                "resources": resources,
                "webhook": webhook,
                "eraser": eraser,
                "configured": configured,
            }
        )
    if fmt == "json":
        emit_json(rows)
        return
    click.echo(
        table(
            [
                (
                    r["name"],
                    ", ".join(r["resources"]) or "-",
                    r["webhook"],
                    r["eraser"],
                    r["configured"],
                )
                for r in rows
            ],
            ["connector", "resources", "webhook", "eraser", "configured"],
        )
    )


def _no_eraser(cls: Any) -> Any:
    from connectors.base import Connector

    return Connector.eraser


def _no_webhook(cls: Any) -> Any:
    from connectors.base import Connector

    return Connector.webhook


@connector.command("run")
@click.argument("name")
@click.option("--resource", "resources", multiple=True, help="Only this resource (repeatable).")
@click.option("--since", metavar="TIME", help="Re-read from TIME instead of the watermark.")
@click.option("--dry-run", is_flag=True, help="Read and map, record nothing, move nothing.")
@format_option("table", "json")
@click.pass_context
def run_connector(
    ctx: click.Context,
    name: str,
    resources: tuple[str, ...],
    since: str | None,
    dry_run: bool,
    fmt: str,
) -> None:
    """Sync NAME: read what changed since the last run and record the events.

    Watermarks move only after the events are durable in the log; an interrupted run
    resumes from its last durable page. Re-runs record nothing twice.

    \b
      lineage connector run mailchimp
      lineage connector run e-conomic --resource customers --since 2024-01-01T00:00:00Z
      lineage connector run stripe --dry-run
    """
    from connectors.runner import open_connector, run, state_root
    from connectors.state import StateStore
    from lineage.timeutil import parse_time

    app = _app(ctx)
    home = app.settings.home
    conn = open_connector(name, home)
    show = sys.stderr.isatty() and fmt == "table"

    def on_page(result: Any, page: Any) -> None:
        if show:
            total = f"/{page.total:,}" if page.total else ""
            click.echo(
                f"\r{name}/{result.resource}: {result.records:,}{total} records, "
                f"{result.events:,} events",
                nl=False,
                err=True,
            )

    results = run(
        conn,
        app.pseudonymizer(),
        lambda events: app.append(events),
        StateStore(state_root(home)),
        resources=resources,
        since=parse_time(since, where="--since") if since else None,
        dry_run=dry_run,
        on_page=on_page,
        catalog=_catalog_entry(app, conn),
        taxonomy=app.taxonomy(),
    )
    if show:
        click.echo("", err=True)
    if fmt == "json":
        emit_json([r.as_dict() for r in results])
        return
    verb = "would record" if dry_run else "recorded"
    for r in results:
        click.echo(
            f"{name}/{r.resource}: {r.records:,} records read, {r.skipped:,} already seen, "
            f"{verb} {r.events:,} events (watermark {'-' if r.watermark is None else r.watermark})"
        )


@connector.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--connector", "names", multiple=True, help="Only these connectors' routes.")
# Defaults live in connectors.server.Limits (imported only when serving: it is heavy).
@click.option("--max-body", type=click.IntRange(min=1), help="Largest body in bytes (1 MiB); 413.")
@click.option(
    "--header-timeout",
    type=click.FloatRange(min=0.1),
    help="Seconds to send a request's headers (10).",
)
@click.option(
    "--body-timeout", type=click.FloatRange(min=0.1), help="Seconds to send a body (10); 408."
)
@click.option(
    "--max-connections", type=click.IntRange(min=1), help="Open connections before 503 (256)."
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    names: tuple[str, ...],
    max_body: int | None,
    header_timeout: float | None,
    body_timeout: float | None,
    max_connections: int | None,
) -> None:
    """Receive webhooks at /hooks/NAME (Mailchimp, Stripe, QuickPay).

    Signatures are checked (401 when wrong or stale), events are durable in the log
    before the 2xx, and a delivery seen before is acknowledged without recording it again.
    Unreadable deliveries get 400, bodies over --max-body 413, slow ones 408.
    """
    from connectors.server import Limits
    from connectors.server import serve as run_server

    app = _app(ctx)
    receiver = build_receiver(app, names, lambda events: app.append(events))
    if not receiver.routes:
        from lineage.errors import InputError

        raise InputError("no configured connector has a webhook route")
    for route in sorted(receiver.routes):
        click.echo(f"http://{host}:{port}/hooks/{route}", err=True)
    given: dict[str, Any] = {
        "max_body": max_body,
        "header_timeout": header_timeout,
        "body_timeout": body_timeout,
        "max_connections": max_connections,
    }
    run_server(receiver, host, port, Limits(**{k: v for k, v in given.items() if v is not None}))


def build_receiver(app: Any, names: tuple[str, ...], sink: Any, quiet: bool = False) -> Any:
    """The webhook receiver for the named connectors (default: every installed one that is
    configured), recording through ``sink``; also mounted by ``lineage serve``."""
    from connectors.registry import available
    from connectors.runner import open_connector
    from connectors.server import Receiver
    from lineage.errors import LineageError

    home = app.settings.home
    chosen = names or tuple(sorted(available()))
    conns = []
    for name in chosen:
        try:
            conns.append(open_connector(name, home))
        except LineageError as exc:
            if names:
                raise
            if not quiet:
                click.echo(f"skipping {name}: {exc}", err=True)
    entries = {c.name: _catalog_entry(app, c) for c in conns}
    return Receiver(
        conns,
        app.pseudonymizer(),
        sink,
        home / "connectors" / "webhooks",
        catalog={name: entry for name, entry in entries.items() if entry},
    )
