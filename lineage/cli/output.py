"""Shared output: the --format option, tables, JSON, progress bars, one-line errors."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


# One vocabulary of format names across commands: ``table`` is the human format everywhere,
# ``markdown`` the Markdown one; the names commands used before stay accepted.
FORMAT_ALIASES = {"text": "table", "md": "markdown"}


class FormatChoice(click.Choice):
    """A format name, or an alias of one (given back as the name)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            value = FORMAT_ALIASES.get(value.lower(), value)
        return super().convert(value, param, ctx)


def format_option(*choices: str, help: str | None = None) -> Callable[[F], F]:
    """``--format`` with the given choices; the first is the default."""
    options = choices or ("table", "json")
    aliases = [a for a, name in FORMAT_ALIASES.items() if name in options]
    note = f" (also: {', '.join(aliases)})" if aliases else ""
    return click.option(
        "--format",
        "fmt",
        type=FormatChoice(options, case_sensitive=False),
        default=options[0],
        show_default=True,
        help=(help or "Output format: table for people, json for machines.") + note,
    )


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


class Marked(str):
    """A table cell to highlight (past retention, an invalid transfer, an error), in colour
    where colour is shown and as written elsewhere."""

    style = "bold red"


class Warned(Marked):
    style = "yellow"


def colour() -> bool:
    """Colour only on a terminal, and never with ``NO_COLOR`` (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _widths(longest: list[int], width: int | None) -> list[int]:
    """Column widths within ``width``: the widest columns give way first (all are capped at
    the largest width that fits), so names, dates and statuses keep theirs."""
    room = None if width is None else width - 2 * (len(longest) - 1)
    if room is None or sum(longest) <= room:
        return longest
    # Dates and short words stay whole while the others can give way.
    keep = [n for n in longest if n <= 10]
    others = [n for n in longest if n > 10]
    cap = max(longest)
    floor = 10 if sum(keep) + 10 * len(others) <= room else 4
    while cap > floor and sum(min(n, cap) for n in longest) > room:
        cap -= 1
    return [min(n, cap) for n in longest]


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """Rows as a table that fits the terminal: columns wrap (long keys fold) to its width.
    Piped, the table takes its natural width: a program reading it gets whole lines (an
    inherited ``COLUMNS`` is a terminal's, not the pipe's)."""
    # rich lays out, wraps and colours terminal tables; imported here so the CLI starts fast.
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    longest = [
        max(
            [len(w) for w in str(h).split()] + [len(x) for r in rows for x in str(r[i]).split("\n")]
        )
        for i, h in enumerate(headers)
    ]
    widths = _widths(longest, width)
    grid = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        header_style="bold",
        show_header=any(headers),
        collapse_padding=True,  # two spaces between columns, as before
    )
    for h, w in zip(headers, widths, strict=True):
        grid.add_column(h, overflow="fold", width=w)
    for row in rows:
        grid.add_row(*(Text(str(c), style=c.style if isinstance(c, Marked) else "") for c in row))
    console = Console(
        width=width or 100_000,
        file=io.StringIO(),
        force_terminal=colour(),
        no_color=not colour(),
        highlight=False,
        emoji=False,
        markup=False,
    )
    console.print(grid)
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in lines)


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
