"""The CLI through ``lineage serve``: with ``LINEAGE_URL`` (and ``LINEAGE_TOKEN``) set, the
read and rights commands ask the service and print its answer the way they print their own
(the service answers with the same JSON), instead of opening the home's files."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from lineage.sdk.client import Client


def service(ctx: click.Context) -> Client | None:
    """The service's client, or None when ``LINEAGE_URL`` is not set (work on the home)."""
    url = os.environ.get("LINEAGE_URL")
    if not url:
        return None
    from lineage.sdk.client import Client

    client = Client(url, os.environ.get("LINEAGE_TOKEN"), source="cli")
    ctx.call_on_close(client.close)
    return client
