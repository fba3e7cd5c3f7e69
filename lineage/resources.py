"""Locate the bundled ``schemas/`` and ``queries/`` directories.

In a source checkout (or editable install) they are top-level folders of the repository; a
built wheel carries them under ``lineage/_resources/``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def resource_dir(name: str) -> Path:
    for candidate in (_PACKAGE / "_resources" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"lineage resource folder {name!r} is missing from the installation")


def data_file(name: str) -> Path:
    return _PACKAGE / "data" / name


def package_dir() -> Path:
    """The installed ``lineage`` package (templates, translations and data live in it)."""
    return _PACKAGE
