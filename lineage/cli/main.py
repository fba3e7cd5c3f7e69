"""Entry point: ``lineage``."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from lineage import __version__
from lineage.cli.catalog import catalog_option
from lineage.cli.options import lang_option
from lineage.cli.output import emit_json, format_option, progress, table, warn
from lineage.errors import InputError, LineageError, NoSpaceError, is_no_space


class _WarningHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        warn(record.getMessage(), quoting=True)


class LineageGroup(click.Group):
    """Turns lineage's errors into one red line and an exit code (``--debug``: traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if not is_no_space(exc):
                raise
            self._fail(ctx, NoSpaceError(exc.filename or "the disk"))
        except LineageError as exc:
            self._fail(ctx, exc)
        except Exception as exc:
            damaged = _damaged_projection(exc)
            if damaged is None:
                raise
            self._fail(ctx, damaged)

    @staticmethod
    def _fail(ctx: click.Context, exc: LineageError) -> None:
        if ctx.obj and ctx.obj.get("debug"):
            raise exc
        click.secho(f"error: {exc}", fg="red", err=True)
        ctx.exit(exc.exit_code)


def _damaged_projection(exc: Exception) -> LineageError | None:
    """DuckDB's block checksums catch a damaged projection on any query; the projection is
    derived, so the fix is always a rebuild. (Checked by module name: importing DuckDB
    here would slow every command's start.)"""
    from lineage.errors import ProjectionError

    msg = str(exc).splitlines()[0] if str(exc) else ""
    if type(exc).__module__ in ("duckdb", "_duckdb") and ("checksum" in msg or "orrupt" in msg):
        return ProjectionError(f"the projection is damaged ({msg}): run `lineage rebuild`")
    return None


@click.group(cls=LineageGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar="LINEAGE_HOME",
    help="Lineage home (default ./.lineage; env LINEAGE_HOME).",
)
@click.option(
    "--log",
    "log_backend",
    type=click.Choice(["file", "kafka"]),
    help="Log backend (default file; env LINEAGE_LOG).",
)
@click.option(
    "--bootstrap-servers",
    metavar="HOST:PORT[,...]",
    help="Kafka bootstrap servers (env LINEAGE_KAFKA_BOOTSTRAP).",
)
@click.option("--topic", metavar="NAME", help="Kafka topic (env LINEAGE_KAFKA_TOPIC).")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="lineage")
@click.pass_context
def cli(
    ctx: click.Context,
    home: str | None,
    log_backend: str | None,
    bootstrap_servers: str | None,
    topic: str | None,
    debug: bool,
) -> None:
    """lineage: where does this person's data live, on what basis, until when?

    Connectors and tools record personal-data events (collected, shared, transferred,
    erased); lineage keeps them in an append-only log, projects them into DuckDB and
    answers from the evidence.

    \b
    Start here:
      lineage demo                       a sample company, end to end
      lineage init                       create ./.lineage with a pseudonym key
      lineage emit --file events.jsonl   record events (JSON Lines)
      lineage who-has jane@example.com   every holder of one person's data
    """
    # Everything lineage creates holds pseudonymised personal data or secrets: owner-only
    # (0700 directories, 0600 files), whatever umask the shell had. DuckDB, its WAL and
    # connector state are created by code that takes no mode, so the umask is the one place.
    os.umask(0o077)
    if os.environ.get("NO_COLOR"):  # https://no-color.org: click colours a terminal otherwise
        ctx.color = False
    logger = logging.getLogger("lineage")
    if not logger.handlers:
        logger.addHandler(_WarningHandler())
        logger.setLevel(logging.WARNING)
    ctx.ensure_object(dict)
    ctx.obj["home"] = home
    ctx.obj["debug"] = debug
    ctx.obj["flags"] = {
        "log": log_backend,
        "kafka_bootstrap": bootstrap_servers,
        "kafka_topic": topic,
    }


def make_app(ctx: click.Context, **flags: Any) -> Any:
    from lineage.config import resolve
    from lineage.services.app import App

    merged = {**ctx.obj.get("flags", {}), **{k: v for k, v in flags.items() if v is not None}}
    app = App(resolve(ctx.obj.get("home"), **merged), catalog_file=ctx.obj.get("catalog"))
    ctx.call_on_close(app.close)  # Kafka clients hold sockets and a sender thread
    return app


workers_option = click.option(
    "--workers",
    type=click.IntRange(min=0),
    help="Kafka: processes that read and decode (0 = none; env LINEAGE_PROJECT_WORKERS; "
    "default 2).",
)


@cli.command()
@format_option("table", "json")
@click.pass_context
def init(ctx: click.Context, fmt: str) -> None:
    """Create the lineage home: a random pseudonym key (owner-readable only) and the log.

    Safe to run twice: an existing home and key are left as they are.
    """
    app = make_app(ctx)
    created = app.init()
    home = str(app.settings.home)
    if fmt == "json":
        emit_json({"home": home, "created": created})
    elif created:
        click.echo(f"initialised lineage home {home} (pseudonym key: {app.settings.key_path})")
    else:
        click.echo(f"lineage home {home} already initialised; nothing changed")


@cli.command()
@click.option(
    "--file",
    "-f",
    "file",
    # Bytes: each line is decoded on its own, so bad UTF-8 is reported with its line.
    type=click.File("rb"),
    help="JSON Lines file of events ('-' for standard input).",
)
@click.option(
    "--id",
    "ids",
    multiple=True,
    metavar="KIND=VALUE",
    help="Subject identifier (single-event form).",
)
@click.option(
    "--at", "occurred_at", metavar="TIME", help="When it happened (single-event form; default now)."
)
@click.option("--source", help="Emitting tool or connector (default: emit).")
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    help="Processes that prepare chunks of a --file (0 = none, all in this process). "
    "Default: one per CPU for files of 32 MiB or more, when more than one CPU is idle "
    "(by the load average). "
    "Standard input is always read in this process.",
)
@click.option("--chunk-size", type=click.IntRange(min=1), hidden=True, help="Bytes per chunk.")
@click.argument("fields", nargs=-1, metavar="[EVENT_TYPE FIELD=VALUE...]")
@format_option("table", "json")
@catalog_option
@click.pass_context
def emit(
    ctx: click.Context,
    file: Any,
    ids: tuple[str, ...],
    occurred_at: str | None,
    source: str | None,
    workers: int | None,
    chunk_size: int | None,
    fields: tuple[str, ...],
    fmt: str,
) -> None:
    """Record events in the log. The whole input is checked first: one bad line and nothing
    from it is appended (exit code 2, the line named).

    Raw identifiers are pseudonymised here and never stored.

    \b
    From a file (one JSON object per line, see README):
      lineage emit --file events.jsonl
      cat events.jsonl | lineage emit --file -
    \b
    One event from options (lists are comma-separated):
      lineage emit DataCollected --id email=jane@example.com \\
          categories=user.name,user.contact.email system=webshop-db \\
          purpose=essential.service legal_basis=contract data_subject=customer
    """
    from lineage.ingest.record import from_lines, from_object, parser_for, record

    app = make_app(ctx)
    app.require_home()
    if file is not None and (fields or ids):
        raise InputError("give either --file or an event on the command line, not both")
    parser = parser_for(app, source)
    if file is not None:
        # Binary standard input may have no name (or the descriptor number) for one.
        name = getattr(file, "name", None)
        name = name if isinstance(name, str) and name != "-" else "<stdin>"
        size = _size(file)
        with progress(size, "recording") as bar:
            # Standard input, even from a file, is read in this process.
            workers = _emit_workers(workers, size) if name != "<stdin>" else 0
            if workers:
                from lineage.serve.ingest import CHUNK_BYTES, record_file

                chunk = chunk_size or CHUNK_BYTES
                result = record_file(app, file, name, source, workers, chunk, bar.to)
            else:
                result = record(app, from_lines(parser, _read(file, bar), name))
    else:
        obj = _event_from_options(fields, ids, occurred_at, source)
        result = record(app, from_object(parser, obj, "command line", place="--at"))
    if result.future:
        warn(
            f"{result.future} events are dated more than {app.settings.future_tolerance:g}s "
            f"ahead of this clock (first at {result.first_future}): who-has leaves them out "
            "until then; is a producer's clock ahead?"
        )
    if fmt == "json":
        emit_json(result.to_json())
    else:
        links = result.identity_links
        extra = f" (including {links} identity links)" if links else ""
        click.echo(f"appended {result.appended} events{extra}")


def _emit_workers(
    workers: int | None, size: int, cpus: int | None = None, load: float | None = None
) -> int:
    """Worker processes for a file of ``size`` bytes (0 for a stream: it is not chunked).
    By default one per CPU for a large file, when more than one CPU is idle: on cores busy
    with other work the workers cost more CPU and finish no sooner (bench/README.md)."""
    if not size:
        return 0
    if workers is not None:
        return workers
    from lineage.serve.ingest import FILE_THRESHOLD

    if size < FILE_THRESHOLD:
        return 0
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if load is None:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return cpus if cpus > 1 and cpus - load >= 1.5 else 0


def _size(file: Any) -> int:
    try:
        return os.fstat(file.fileno()).st_size if file.seekable() else 0
    except (OSError, ValueError):
        return 0


def _read(file: Any, bar: Any) -> Any:
    """The file's lines, moving the progress bar every 10,000."""
    done = 0
    for n, line in enumerate(file, 1):
        done += len(line)
        if n % 10_000 == 0:
            bar.to(done)
        yield line


_LIST_FIELDS = {"categories", "scope"}


def _event_from_options(
    fields: tuple[str, ...], ids: tuple[str, ...], occurred_at: str | None, source: str | None
) -> dict[str, Any]:
    from lineage.timeutil import iso, now

    if not fields:
        raise InputError("nothing to emit: give --file FILE or EVENT_TYPE FIELD=VALUE...")
    event_type, *pairs = fields
    obj: dict[str, Any] = {"event_type": event_type, "occurred_at": occurred_at or iso(now())}
    if source:
        obj["source"] = source
    subject: dict[str, str] = {}
    for text in ids:
        kind, sep, value = text.partition("=")
        if not sep:
            raise InputError(f"--id {text!r} must be KIND=VALUE", "--id")
        subject[kind] = value
    if subject:
        obj["subject"] = subject
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InputError(f"{pair!r} must be FIELD=VALUE")
        obj[key] = (
            [v.strip() for v in value.split(",") if v.strip()] if key in _LIST_FIELDS else value
        )
    return obj


@cli.command()
@click.option("--follow", is_flag=True, help="Keep projecting new events until SIGTERM/SIGINT.")
@click.option("--shard", metavar="I/N", help="Project only shard I of N (partitions p % N == I).")
@click.option("--partitions", metavar="P,P,...", help="Project only these Kafka partitions.")
@click.option("--batch-size", type=int, help="Records per transaction (env LINEAGE_BATCH_SIZE).")
@click.option(
    "--max-latency",
    type=float,
    metavar="SECONDS",
    help="Following: commit a batch at the latest this long after its first record.",
)
@workers_option
@format_option("table", "json")
@catalog_option
@click.pass_context
def project(
    ctx: click.Context,
    follow: bool,
    shard: str | None,
    partitions: str | None,
    batch_size: int | None,
    max_latency: float | None,
    workers: int | None,
    fmt: str,
) -> None:
    """Bring the DuckDB projection up to date with the log.

    Records that fail their checksum or are not valid events are set aside (never
    projected; on Kafka also sent to the <topic>.dlq topic), reported, and make the exit
    code 1.

    \b
    Scale-out on Kafka: each shard projects its partitions into its own file
      lineage --log kafka project --shard 0/2 --follow
      lineage --log kafka project --shard 1/2 --follow
      lineage --log kafka who-has jane@example.com --shards 2
    """
    app = make_app(
        ctx,
        shard=shard,
        partitions=partitions,
        batch_size=batch_size,
        max_latency=max_latency,
        project_workers=workers,
    )
    if follow:
        from lineage.cli.follow import run_follow

        run_follow(ctx, app, fmt)
        return
    with app.store() as store:
        result = _catch_up(app, store)
    applied = result.applied if result else 0
    if fmt == "json":
        emit_json(
            {
                "applied": applied,
                "duplicates": result.duplicates if result else 0,
                "set_aside": result.problems if result else [],
                "position": result.positions if result else None,
            }
        )
    else:
        if result is None:
            click.echo("projection is up to date")
        else:
            click.echo(f"projected {applied} events ({result.duplicates} already present)")
    if result and result.quarantined:
        ctx.exit(1)


@contextmanager
def current_store(app: Any) -> Iterator[Any]:
    """The projection to answer from, current: caught up here, unless a follower keeps it
    current or the home is read-only (then it is checked to be current)."""
    with app.query_store() as store:
        if not store.read_only:
            _catch_up(app, store)
        yield store


def _catch_up(app: Any, store: Any) -> Any:
    total = app.pending(store)
    start = sum(store.positions().values())
    with progress(total, "projecting") as bar:
        result = app.catch_up(store, on_batch=lambda r: bar.to(sum(r.positions.values()) - start))
    if result is not None:
        for problem in result.problems:
            warn(f"set aside log record at {problem}", quoting=True)
    return result


@cli.command()
@workers_option
@format_option("table", "json")
@catalog_option
@click.pass_context
def rebuild(ctx: click.Context, workers: int | None, fmt: str) -> None:
    """Drop the projection and rebuild it from the log (same answers, by construction).

    The new projection is built beside the old one and replaces it only when complete.
    """
    app = make_app(ctx, project_workers=workers)
    total = sum(app.log.end_offsets().values())
    with progress(total, "rebuilding") as bar:
        result = app.rebuild(on_batch=lambda r: bar.to(sum(r.positions.values())))
    for problem in result.problems:
        warn(f"set aside log record at {problem}", quoting=True)
    if fmt == "json":
        emit_json({"applied": result.applied, "set_aside": result.problems})
    else:
        click.echo(f"rebuilt projection from {result.read} log records ({result.applied} events)")


@cli.command()
@format_option("table", "json")
@lang_option
@click.pass_context
def status(ctx: click.Context, fmt: str, lang: str) -> None:
    """Log size and end, projected position, counts of events, subjects and holders."""
    from lineage.cli.remote import service

    client = service(ctx)
    if client is not None:
        info = client.status()
    else:
        app = make_app(ctx)
        with app.query_store() as store:
            info = app.status(store)
    if fmt == "json":
        emit_json(info)
        return
    from lineage.i18n import gettext

    _ = gettext(lang)
    log, proj = info["log"], info["projection"]
    size = log["size_bytes"]
    rows = [
        (_("home"), info["home"]),
        (_("log"), f"{log['backend']} {log['id']}"),
        (_("log size"), _("%(num)s bytes") % {"num": f"{size:,}"} if size >= 0 else _("unknown")),
        (_("log end"), _positions(log["end"])),
        (_("projected to"), _positions(proj["position"])),
        (_("pending"), f"{proj['pending']:,}"),
        (_("events"), f"{proj.get('events', 0):,}"),
        (_("subject references"), f"{proj.get('subject_refs', 0):,}"),
        (_("holders"), f"{proj.get('holders', 0):,}"),
        (_("set aside"), f"{proj.get('quarantined', 0):,}"),
        (_("future-dated events"), _future(proj, lang)),
        (_("dead letters"), f"{log['dead_letters']:,}"),
    ]
    click.echo(table(rows, ["", ""]))


def _future(proj: dict[str, Any], lang: str) -> str:
    from lineage.i18n import gettext

    _ = gettext(lang)
    count = proj.get("future_events", 0)
    if not count:
        return "0"
    return _("%(num)s (first %(at)s)") % {
        "num": f"{count:,}",
        "at": proj["first_future_event_at"],
    }


def _positions(positions: dict[int, int]) -> str:
    return ", ".join(f"{p}:{o}" for p, o in sorted(positions.items())) or "-"


def _register() -> None:
    from lineage.cli import (
        audit,
        catalog,
        connector,
        consent,
        demo,
        dlq,
        erasure,
        exposed,
        interop,
        logcmd,
        mapcmd,
        proof,
        rights,
        ropa,
        serve,
        whohas,
    )

    cli.add_command(whohas.who_has)
    cli.add_command(erasure.erase)
    cli.add_command(erasure.erasure)
    erasure.erasure.add_command(proof.verify)
    erasure.erasure.add_command(proof.bounces)
    cli.add_command(proof.key)
    cli.add_command(logcmd.log_group)
    cli.add_command(exposed.exposed)
    for command in (rights.access, rights.rectify, rights.restrict, rights.recipients):
        cli.add_command(command)
    cli.add_command(consent.consent)
    cli.add_command(demo.demo)
    cli.add_command(catalog.catalog)
    cli.add_command(ropa.ropa)
    cli.add_command(audit.audit)
    cli.add_command(mapcmd.map_command)
    cli.add_command(connector.connector)
    cli.add_command(dlq.dlq)
    cli.add_command(interop.export_group)
    cli.add_command(interop.import_group)
    cli.add_command(serve.serve)
    cli.add_command(serve.token)


_register()


def main() -> None:
    cli(prog_name="lineage")


if __name__ == "__main__":  # pragma: no cover
    main()
