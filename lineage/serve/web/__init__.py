"""The web UI of ``lineage serve`` for DPOs, under ``/ui``: server-rendered pages (Jinja2
templates under ``lineage/templates/web/``) over the same service functions the CLI and the
JSON API call. Signed in with an API token exchanged for a server-side session
(``sessions``); every form carries the session's CSRF token.

Identifiers never go into a URL: a person is looked up by POST, and pages that act on them
carry the identifier in the form body.
"""

from __future__ import annotations

from typing import Any

from lineage.serve.web.pages import create_web

__all__ = ["Dispatch", "create_web"]

PREFIX = "/ui"


class Dispatch:
    """``/`` and ``/ui/...`` to the web UI (its own session sign-in), everything else to the
    API (bearer tokens)."""

    def __init__(self, api: Any, web: Any) -> None:
        self.api = api
        self.web = web

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == "/" or path == PREFIX or path.startswith(PREFIX + "/"):
            await self.web(scope, receive, send)
        else:
            await self.api(scope, receive, send)
