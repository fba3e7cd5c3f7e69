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


def warn(message: str) -> None:
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
