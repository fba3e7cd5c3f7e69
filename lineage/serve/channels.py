"""Where recipients answer rights requests: the signed links of e-mails and the callbacks
of webhooks (``lineage.services.erasure.channels``). No login: the signed token in the URL
is the credential, and it accepts one answer.

- ``GET  /hooks/channels/answer/{token}``: the answer page (records ``opened`` once).
- ``POST /hooks/channels/answer/{token}``: the form: ``answer`` = confirmed | nothing_held |
  refused, ``reason`` (required to refuse), ``sub_processors`` (one name a line).
- ``POST /hooks/channels/callback/{token}``: a webhook recipient's status event, signed
  with its secret (``lineage.channels.webhook``).

A forged token is 403, a used or superseded one 409, a bad signature or an old callback
401, a malformed answer 400 or 422: each one line, and nothing is recorded. Pages are not
cached and send no Referer (the token must not leak to other sites).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from lineage.channels.links import BadLink, Link, link_key, verify
from lineage.errors import InputError, LineageError, LinkUsedError, UnknownRequestError
from lineage.serve.runtime import Runtime

ANSWERS = ("confirmed", "nothing_held", "refused")
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


def routes(runtime: Runtime) -> list[Any]:
    router = APIRouter(prefix="/hooks/channels", include_in_schema=False)
    key = link_key(runtime.settings.pseudonym_key())

    def service() -> Any:
        from lineage.cli.erasure import service_for

        return service_for(runtime.app())

    def page(name: str, status: int, lang: str = "en", **context: Any) -> HTMLResponse:
        from lineage.i18n import render

        return HTMLResponse(render(f"channels/{name}.html", lang, **context), status, HEADERS)

    def failure(exc: Exception, lang: str = "en") -> HTMLResponse:
        status = _status(exc)
        return page("message", status, lang, title=str(status), text=str(exc))

    def lang_of(link: Link) -> str:
        catalog = runtime.app().catalog(check_taxonomy=False)
        h = catalog.holders.get(link.holder) if catalog is not None else None
        return h.channel.lang if h is not None and h.channel is not None else "en"

    @router.get("/answer/{token}")
    def show(token: str) -> Response:
        try:
            link = verify(key, token, "answer")
        except BadLink as exc:
            return failure(exc)
        lang = lang_of(link)
        try:
            with runtime.rights:
                req = service().answer(link, None, opened=True)
        except LineageError as exc:
            return failure(exc, lang)
        task = req.tasks[(link.holder, link.action)]
        return page("answer", 200, lang, req=req, task=task, error=None)

    @router.post("/answer/{token}")
    async def answer(token: str, request: Request) -> Response:
        try:
            link = verify(key, token, "answer")
        except BadLink as exc:
            return failure(exc)
        lang = lang_of(link)
        form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=8)
        step = (form.get("answer") or [""])[0]
        reason = (form.get("reason") or [""])[0].strip() or None
        subs = tuple(
            n
            for text in form.get("sub_processors", [])
            for n in text.replace(",", "\n").split("\n")
            if n.strip()
        )
        if step not in ANSWERS:
            return failure(InputError("choose an answer: confirmed, nothing held or refused"), lang)
        if step == "refused" and not reason:
            return failure(InputError("a refusal needs its reason"), lang)

        def record() -> Any:
            with runtime.rights:
                return service().answer(link, step, reason=reason, sub_processors=subs)

        try:
            await run_in_threadpool(record)
        except LineageError as exc:
            return failure(exc, lang)
        return page("message", 200, lang, title="Thank you", text=None)

    @router.post("/callback/{token}")
    async def callback(token: str, request: Request) -> Response:
        body = await request.body()

        def record() -> Any:
            from lineage.channels import webhook

            link = verify(key, token, "callback")
            catalog = runtime.app().catalog(check_taxonomy=False)
            h = catalog.holders.get(link.holder) if catalog is not None else None
            if h is None or h.channel is None or h.channel.kind != "webhook":
                raise BadLink()
            secret = webhook.secret(h.channel, runtime.settings.home)
            try:
                webhook.check_signature(secret, body, dict(request.headers))
            except InputError as exc:
                raise Unsigned(exc.problem) from None
            said = webhook.parse_answer(body, "event")
            if said.step is None:
                return {"recorded": False, "status": "awaiting the final answer"}
            with runtime.rights:
                service().answer(
                    link,
                    said.step,
                    reason=said.reason,
                    sub_processors=said.sub_processors,
                    via="webhook callback",
                )
            return {"recorded": True, "status": said.step}

        try:
            result = await run_in_threadpool(record)
        except LineageError as exc:
            return JSONResponse({"error": str(exc)}, _status(exc), headers=HEADERS)
        return JSONResponse(result, headers=HEADERS)

    return list(router.routes)


class Unsigned(InputError):
    """A callback without a valid signature of the recipient's secret, or too old."""


def _status(exc: Exception) -> int:
    if isinstance(exc, BadLink):
        return 403
    if isinstance(exc, Unsigned):
        return 401
    if isinstance(exc, LinkUsedError):
        return 409
    if isinstance(exc, UnknownRequestError):
        return 404
    if isinstance(exc, InputError):
        return 422
    return 503 if getattr(exc, "exit_code", 1) == 3 else 400
