"""Shared output: the --format option, tables, JSON, progress bars, one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def format_option(*choices: str) -> Callable[[F], F]:
    """``--format`` with the given choices; the first is the default."""
    options = choices or ("table", "json")
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(options),
        default=options[0],
        show_default=True,
        help="Output format: tables for people, json for machines.",
    )


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    from tabulate import tabulate

    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def warn(message: str, *, quoting: bool = False) -> None:
    """One warning line on stderr. ``quoting``: the message quotes what others wrote (log
    records, decoders' complaints), so it is scrubbed first."""
    if quoting:
        from lineage.edge.scrub import scrub

        message = scrub(message, limit=1000)
    click.secho(f"warning: {message}", fg="yellow", err=True)


class Progress:
    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self._done = 0

    def to(self, done: int) -> None:
        if self._bar is not None and done > self._done:
            self._bar.update(done - self._done)
            self._done = done


@contextmanager
def progress(total: int, label: str) -> Iterator[Progress]:
    """A progress bar on stderr when it is a terminal; silent otherwise."""
    if total <= 0 or not sys.stderr.isatty():
        yield Progress(None)
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield Progress(bar)


def write_atomic(output: str, data: bytes) -> None:
    """Write ``data`` to ``output`` through a temporary file beside it and a rename: a failed
    write leaves no half-written file, and an existing file stays as it was."""
    import os
    import tempfile
    from pathlib import Path

    from lineage.errors import InputError

    target = Path(output)
    if target.is_dir():
        raise InputError(f"{output} is a directory", "--output")
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}", "--output") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"cannot write {output}: {exc.strerror or exc}", "--output") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def output_option(what: str) -> Callable[[F], F]:
    """``--output/-o FILE`` for a command that writes one document."""
    return click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False),
        help=f"Write {what} here (default: standard output).",
    )


def deliver(text: str, data: dict[str, Any], output: str | None, fmt: str, note: str) -> None:
    """A document for people (``text``, YAML with its review notes) and for machines
    (``data``): ``--output`` gets the text, written atomically; ``--format json`` prints the
    data (naming the file written); otherwise the text goes to standard output."""
    if output:
        write_atomic(output, text.encode())
        click.echo(f"wrote {output} ({note})", err=True)
    if fmt == "json":
        emit_json({**data, "output": output})
    elif not output:
        click.echo(text, nl=False)
