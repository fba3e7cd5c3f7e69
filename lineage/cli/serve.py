"""``lineage serve`` and ``lineage token``: the HTTP service and its API tokens."""

from __future__ import annotations

import sys
from typing import Any, Literal

import click

from lineage.cli.catalog import catalog_option
from lineage.cli.options import lang_option
from lineage.cli.output import emit_json, format_option, progress, table, warn

MIB = 1024 * 1024


@click.command("serve", short_help="Serve answers, rights requests and ingest over HTTP.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--ssl-certfile",
    type=click.Path(dir_okay=False, exists=True),
    help="TLS certificate (PEM), passed to uvicorn.",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(dir_okay=False, exists=True),
    help="TLS private key (PEM), passed to uvicorn.",
)
@click.option(
    "--max-body",
    type=click.IntRange(1024),
    default=16 * MIB,
    show_default=True,
    help="Largest ingest body in bytes (413 beyond); other requests take 64 KiB.",
)
@click.option(
    "--max-ingests",
    type=click.IntRange(1),
    default=8,
    show_default=True,
    help="Ingest requests in flight at once (429 with Retry-After beyond).",
)
@click.option(
    "--write-wait",
    type=click.FloatRange(0.01),
    default=2.0,
    show_default=True,
    help="Seconds a write waits for the log writer (503 with Retry-After beyond).",
)
@click.option(
    "--ingest-workers",
    type=click.IntRange(0),
    help="Processes that parse, check and encode ingest batches, so that answers are not "
    "slowed by them (default: one per CPU; 0: in the request's thread).",
)
@click.option(
    "--ingest-threshold",
    type=click.IntRange(0),
    metavar="BYTES",
    help="Ingest bodies smaller than this are prepared in the request's thread "
    "(default 8 KiB, about 20 events: below it a worker's round trip costs more than it saves).",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(0.1),
    default=10.0,
    show_default=True,
    help="Seconds a client has to send a request's headers; an idle keep-alive connection "
    "is closed after as long. Keep it above your clients' own idle limit (httpx: 5 s): a "
    "client that reuses a connection as the service closes it gets a read error.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(0.1),
    default=10.0,
    show_default=True,
    help="Seconds a request body may stall between chunks (408 beyond).",
)
@click.option(
    "--limit-concurrency",
    type=click.IntRange(1),
    default=256,
    show_default=True,
    help="Connections and requests at once (uvicorn answers 503 beyond).",
)
@click.option(
    "--connector",
    "connectors",
    multiple=True,
    metavar="NAME",
    help="Webhook routes of these connectors at /hooks/NAME (default: every configured one).",
)
@click.option("--no-access-log", is_flag=True, help="Do not log requests to stderr.")
@catalog_option
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    max_body: int,
    max_ingests: int,
    write_wait: float,
    ingest_workers: int | None,
    ingest_threshold: int | None,
    header_timeout: float,
    body_timeout: float,
    limit_concurrency: int,
    connectors: tuple[str, ...],
    no_access_log: bool,
) -> None:
    """One process that owns the projection: follows the log (file or Kafka) and answers
    over HTTP/JSON what the CLI answers, records rights requests, takes events
    (POST /v1/events) and the connectors' webhooks (/hooks/NAME).

    Every request needs a bearer token with its scope (`lineage token create`). Binds to
    127.0.0.1; for other hosts use TLS (--ssl-certfile/--ssl-keyfile) or a reverse proxy
    that terminates it. The API is described at /docs (OpenAPI at /openapi.json); the web
    UI for DPOs is at /ui (sign in with a token).

    \b
      lineage token create --scope read --name dpo
      lineage serve --port 8787
      curl -H "Authorization: Bearer $TOKEN" -d '{"identifier": "jane@example.com"}' \\
          http://127.0.0.1:8787/v1/who-has
    """
    import logging

    import uvicorn

    from lineage.cli.connector import build_receiver
    from lineage.cli.main import make_app
    from lineage.ingest.server import header_timeout_protocol
    from lineage.serve.api import create_api
    from lineage.serve.channels import routes as channel_routes
    from lineage.serve.http import AccessLog, Limits
    from lineage.serve.runtime import Runtime, settle
    from lineage.serve.tokens import Verifier
    from lineage.serve.web import Dispatch, create_web

    if bool(ssl_certfile) != bool(ssl_keyfile):
        from lineage.errors import InputError

        raise InputError("TLS needs both --ssl-certfile and --ssl-keyfile", "--ssl-certfile")
    app = make_app(ctx)
    app.require_home()
    app.settings.pseudonym_key()  # a missing key fails now, not at the first request
    app.catalog()  # a broken catalog fails now, with its line and column
    verifier = Verifier(app.settings.home)
    if not verifier.file.load():
        warn("no API tokens yet: every request will get 401 (lineage token create --scope ...)")
    if host not in ("127.0.0.1", "localhost", "::1") and not ssl_certfile:
        warn(f"serving plain HTTP on {host}: use --ssl-certfile/--ssl-keyfile or a TLS proxy")
    if ingest_workers is None:
        import os

        ingest_workers = os.cpu_count() or 1
    runtime = Runtime(app.settings, app.catalog_file, write_wait, ingest_workers, ingest_threshold)
    try:
        if runtime.ingest is not None:
            runtime.ingest.warm()
        with progress(app.pending(runtime.store), "projecting") as bar:
            start = sum(runtime.store.positions().values())
            runtime.follower.catch_up(lambda r: bar.to(sum(r.positions.values()) - start))
        runtime.follower.start()
        served = runtime.app()
        receiver = build_receiver(served, connectors, served.append, quiet=not connectors)
        hooks = [r for r in receiver.app().routes if getattr(r, "path", "").startswith("/hooks/")]
        api = create_api(
            runtime, verifier, max_ingests=max_ingests, extra_routes=hooks + channel_routes(runtime)
        )
        wrapped: Any = Limits(
            Dispatch(api, create_web(runtime, verifier)),
            max_body=64 * 1024,
            large_body_paths=frozenset({"/v1/events", *(f"/hooks/{n}" for n in receiver.routes)}),
            max_large_body=max_body,
            body_timeout=body_timeout,
        )
        if not no_access_log:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            access = logging.getLogger("lineage.access")
            access.addHandler(handler)
            access.setLevel(logging.INFO)
            access.propagate = False
            wrapped = AccessLog(wrapped)
        # httptools' C parser, and uvloop (uvicorn's "auto" loop takes it when installed):
        # the event loop's share of an answer is most of the service's own CPU per answer.
        protocol = header_timeout_protocol(header_timeout, _http_parser())
        config = uvicorn.Config(
            wrapped,
            host=host,
            port=port,
            http=protocol,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            # uvicorn's own access log prints paths with query strings: ours does not.
            access_log=False,
            log_level="warning",
            lifespan="off",
            limit_concurrency=limit_concurrency,
            timeout_graceful_shutdown=10,
            # Idle connections close at the header deadline (the protocol's), not at
            # uvicorn's 5 s: httpx also drops idle connections at 5 s, and a request sent on
            # one as the service closed it failed with a read error (bench/README.md).
            timeout_keep_alive=max(1, round(header_timeout)),
            server_header=False,
        )
        scheme = "https" if ssl_certfile else "http"
        click.echo(f"serving {scheme}://{host}:{port} (web UI at /ui, API at /docs)", err=True)
        for name in sorted(receiver.routes):
            click.echo(f"webhooks: {scheme}://{host}:{port}/hooks/{name}", err=True)
        # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal with the
        # handler it found: let that be a no-op, so the service closes its workers, follower
        # and projection below and exits 0 instead of dying at that point.
        import signal

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        settle()
        uvicorn.Server(config).run()
    finally:
        verifier.flush()
        runtime.close()


@click.group("token")
def token() -> None:
    """API tokens for `lineage serve`. Scopes: read (answers), ingest (POST /v1/events),
    rights (erase, confirm, extend, rectify, restrict), admin (everything).

    \b
      lineage token create --scope ingest --name webshop
      lineage token list
      lineage token revoke webshop
    """


def _tokens(ctx: click.Context) -> Any:
    from lineage.cli.main import make_app
    from lineage.serve.tokens import TokenFile

    app = make_app(ctx)
    app.require_home()
    return TokenFile(app.settings.home)


@token.command("create")
@click.option("--scope", required=True, type=click.Choice(["read", "ingest", "rights", "admin"]))
@click.option("--name", help="A name for the token (default: SCOPE-N).")
@format_option("table", "json")
@click.pass_context
def create(ctx: click.Context, scope: str, name: str | None, fmt: str) -> None:
    """Create a token and print it once: only its hash is kept (HOME/tokens.json)."""
    record, secret = _tokens(ctx).create(scope, name)
    if fmt == "json":
        emit_json({**record.public(), "token": secret})
        return
    click.echo(secret)
    click.echo(f"token {record.name!r} (scope {record.scope}): shown once, store it now", err=True)


@token.command("list")
@format_option("table", "json")
@lang_option
@click.pass_context
def list_tokens(ctx: click.Context, fmt: str, lang: str) -> None:
    """Tokens by name, scope, when created and last used (never the tokens themselves)."""
    from lineage.i18n import gettext

    _ = gettext(lang)
    tokens = [t.public() for t in _tokens(ctx).load()]
    if fmt == "json":
        emit_json({"tokens": tokens})
    elif not tokens:
        click.echo(_("no tokens"))
    else:
        rows = [(t["name"], t["scope"], t["created"], t["last_used"] or "-") for t in tokens]
        click.echo(table(rows, [_("name"), _("scope"), _("created"), _("last used")]))


@token.command("revoke")
@click.argument("name")
@click.pass_context
def revoke(ctx: click.Context, name: str) -> None:
    """Revoke a token: a running service refuses it from its next request."""
    _tokens(ctx).revoke(name)
    click.echo(f"revoked token {name!r}", err=True)


def _http_parser() -> Literal["h11", "httptools"]:
    """httptools when installed (a dependency; h11 where its wheel is missing)."""
    import importlib.util

    return "httptools" if importlib.util.find_spec("httptools") else "h11"
