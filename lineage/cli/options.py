"""Options and argument handling shared by commands: who the subject is, which catalog."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def identifier_pairs(identifier: str | None, ids: tuple[str, ...]) -> list[tuple[str, str]]:
    """(kind, value) pairs from a bare IDENTIFIER and --id options; ("ref", r) for a subject
    reference given as such."""
    from lineage.edge.identity import is_subject_ref, parse_identifier
    from lineage.errors import InputError

    pairs: list[tuple[str, str]] = []
    if identifier:
        pairs.append(
            ("ref", identifier) if is_subject_ref(identifier) else parse_identifier(identifier)
        )
    for text in ids:
        kind, sep, value = text.partition("=")
        if not sep:
            raise InputError(f"{text!r} must be KIND=VALUE", "--id")
        pairs.append((kind, value))
    if not pairs:
        raise InputError("give an IDENTIFIER or --id KIND=VALUE")
    return pairs


def id_option(f: F) -> F:
    return click.option(
        "--id",
        "ids",
        multiple=True,
        metavar="KIND=VALUE",
        help="Identifier of a given kind, e.g. customer_number=1042 (repeatable).",
    )(f)


def _language(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """The language, checked as documents check it; the error names where it came from."""
    from lineage.errors import InputError
    from lineage.i18n import check

    try:
        return check(value)
    except InputError as exc:
        env = ctx.get_parameter_source("lang") is click.core.ParameterSource.ENVIRONMENT
        raise InputError(exc.problem, "LINEAGE_LANG" if env else "--lang") from None


def lang_option(f: F) -> F:
    """``--lang en|da`` (default ``LINEAGE_LANG``, then en): the language of everything a
    person reads: tables, documents, and the rules' texts in them. JSON keeps its keys and
    codes in every language."""
    return click.option(
        "--lang",
        metavar="en|da",
        envvar="LINEAGE_LANG",
        default="en",
        show_default=True,
        callback=_language,
        help="Language of the output for people: en or da (env LINEAGE_LANG).",
    )(f)
