"""``lineage log ...``: maintenance of the embedded event log."""

from __future__ import annotations

import click

from lineage.cli.output import emit_json, format_option


@click.group("log")
def log_group() -> None:
    """Maintain the embedded event log.

    \b
      lineage log compact
      lineage log repair
    """


@log_group.command("compact")
@format_option("table", "json")
@click.pass_context
def compact(ctx: click.Context, fmt: str) -> None:
    """Rewrite the embedded log without the lineage events of forgotten subjects (whose
    erasure is complete), keeping their erasure events and identity links.

    Atomic: the new log is written beside the old one and swapped in whole; an
    interrupted compaction is finished or undone on the next open. The new log has a new
    id, so the projection is rebuilt from it here; rebuild other copies with
    `lineage rebuild`. Stop connectors first: appends wait for the writer lock.
    """
    from lineage.cli.main import make_app
    from lineage.services.compact import compact as run

    result = run(make_app(ctx))
    if fmt == "json":
        emit_json(
            {
                "kept": result.kept,
                "dropped": result.dropped,
                "forgotten_references": result.subjects,
                "old_log_id": result.old_log_id,
                "log_id": result.new_log_id,
            }
        )
    else:
        click.echo(
            f"kept {result.kept} records, dropped {result.dropped} "
            f"({result.subjects} forgotten subject references); new log id {result.new_log_id}"
        )


@log_group.command("repair")
@format_option("table", "json")
@click.pass_context
def repair(ctx: click.Context, fmt: str) -> None:
    """Rebuild a damaged META or HEAD of the embedded log from its segments.

    Every record that passes its checksum is kept; a tail that fails is cut. A META that
    lost its log id gets the id the projection was built from (or a new one: then run
    `lineage rebuild`). Safe to run on a healthy log: it changes nothing.
    """
    from lineage.cli.main import make_app
    from lineage.services.repair import repair as run

    done = run(make_app(ctx))
    if fmt == "json":
        emit_json({"repaired": done})
    else:
        click.echo("\n".join(done) if done else "the event log needs no repair")
