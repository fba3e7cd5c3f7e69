"""The pages of the web UI (see the package docstring). Each page asks the service
functions the CLI and the API ask, and the templates word what they return."""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lineage import i18n
from lineage.errors import InputError, LineageError, OpenRequestError, UnknownRequestError
from lineage.i18n import N_
from lineage.serve.api import ROPA_TYPES
from lineage.serve.runtime import Busy, Runtime
from lineage.serve.tokens import Token, Verifier
from lineage.serve.web.sessions import COOKIE, MAX_AGE, Session, Sessions

log = logging.getLogger("lineage.serve")

# No script runs on these pages; pictures are inline data or our own.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
        "form-action 'self'; frame-ancestors 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


CSRF_REFUSED = N_("The form was not sent from this session (CSRF token missing or wrong).")


class WebError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Handler = Callable[[Request, Session, Token], Awaitable[Response]]


def _status_of(exc: LineageError) -> int:
    if isinstance(exc, Busy):
        return 503
    if isinstance(exc, UnknownRequestError):
        return 404
    if isinstance(exc, OpenRequestError):
        return 409
    return 422 if exc.exit_code != 2 or isinstance(exc, InputError) else 500


def _day(text: str | None) -> str:
    return (text or "")[:10]


def _parse_day(text: str | None, where: str) -> datetime:
    """A date or date-time field; empty means now."""
    from lineage.timeutil import now, parse_time

    if not text or not text.strip():
        return now()
    try:
        return parse_time(text.strip(), assume_utc=True, where=where)
    except InputError as exc:
        raise InputError(exc.problem, where) from None


def _pairs(identifier: str) -> list[tuple[str, str]]:
    from lineage.edge.identity import is_subject_ref, parse_identifier

    text = identifier.strip()
    if not text:
        raise InputError(
            "give an e-mail, a +phone, KIND=VALUE or a subject reference", "identifier"
        )
    return [("ref", text)] if is_subject_ref(text) else [parse_identifier(text)]


def create_web(runtime: Runtime, verifier: Verifier) -> Starlette:
    sessions = Sessions(verifier)

    def page(
        request: Request, session: Session, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        from lineage.services import plain

        lang = session.lang
        token = sessions.token(session)
        body = i18n.render(
            f"web/{template}",
            lang,
            session=session,
            token=token,
            can_act=bool(token and token.allows("rights")),
            active=template.removesuffix(".html"),
            plain=plain,
            day=_day,
            **context,
        )
        response = HTMLResponse(body, status, headers=HEADERS)
        _set_cookie(request, response, session)
        return response

    def _set_cookie(request: Request, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            sessions.cookie(session),
            max_age=MAX_AGE,
            path="/",
            secure=True,
            httponly=True,
            samesite="strict",
        )

    def error(request: Request, session: Session | None, status: int, message: str) -> Response:
        """A readable page with ``message`` (translated when it is one of ours)."""
        session = session or sessions.new()
        message = _t(session)(message)
        return page(request, session, "error.html", status, code=status, message=message)

    def guarded(needs: str = "read", post: bool = False) -> Callable[[Handler], Any]:
        """Signed in with a token of scope ``needs``; a POST carries the session's CSRF token.
        Errors become a readable page with their status, never a traceback."""

        def wrap(handler: Handler) -> Any:
            async def endpoint(request: Request) -> Response:
                session = sessions.find(request.cookies.get(COOKIE))
                if session is None or sessions.token(session) is None:
                    if post:
                        return error(
                            request, session, 403, N_("Your session has ended: sign in again.")
                        )
                    return RedirectResponse("/ui/login", 303)
                token = sessions.token(session)
                assert token is not None
                try:
                    if post:
                        form = await request.form()
                        if not session.csrf_ok(form.get("csrf")):  # type: ignore[arg-type]
                            return error(request, session, 403, CSRF_REFUSED)
                    if not token.allows(needs):
                        return error(
                            request,
                            session,
                            403,
                            _t(session)(
                                N_("Token {name} has scope {scope}; this needs {needs}.")
                            ).format(name=token.name, scope=token.scope, needs=needs),
                        )
                    return await handler(request, session, token)
                except WebError as exc:
                    return error(request, session, exc.status, exc.message)
                except LineageError as exc:
                    return error(request, session, _status_of(exc), str(exc))
                except Exception:
                    log.exception("internal error in the web UI")
                    return error(
                        request, session, 500, N_("Internal error (see the service's log).")
                    )

            return endpoint

        return wrap

    def _t(session: Session | None) -> Callable[[str], str]:
        return i18n.translations(session.lang if session else "en").gettext

    def app() -> Any:
        return runtime.app()

    # -- sign in ---------------------------------------------------------------------------
    async def login(request: Request) -> Response:
        session = sessions.find(request.cookies.get(COOKIE)) or sessions.new()
        if request.method == "GET":
            if sessions.token(session) is not None:
                return RedirectResponse("/ui/person", 303)
            return page(request, session, "login.html", failed=False)
        form = await request.form()
        if not session.csrf_ok(form.get("csrf")):  # type: ignore[arg-type]
            return error(request, session, 403, CSRF_REFUSED)
        signed_in = sessions.login(session, str(form.get("token") or ""))
        if signed_in is None:
            return page(request, session, "login.html", 401, failed=True)
        response = RedirectResponse("/ui/person", 303)
        _set_cookie(request, response, signed_in)
        return response

    async def logout(request: Request) -> Response:
        session = sessions.find(request.cookies.get(COOKIE))
        if session is not None:
            form = await request.form()
            if not session.csrf_ok(form.get("csrf")):  # type: ignore[arg-type]
                return error(request, session, 403, CSRF_REFUSED)
            sessions.end(session)
        response = RedirectResponse("/ui/login", 303)
        response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        return response

    async def language(request: Request) -> Response:
        session = sessions.find(request.cookies.get(COOKIE))
        form = await request.form()
        if session is None or not session.csrf_ok(form.get("csrf")):  # type: ignore[arg-type]
            return error(request, session, 403, CSRF_REFUSED)
        lang = str(form.get("lang") or "en")
        session.lang = lang if lang in i18n.LANGUAGES else "en"
        back = str(form.get("back") or "/ui/person")
        # Only our own pages: an open redirect would be a phishing aid.
        if not back.startswith("/ui/") or back.startswith("//"):
            back = "/ui/person"
        return RedirectResponse(back, 303)

    async def home(request: Request) -> Response:
        return RedirectResponse("/ui/person", 303)

    # -- a person --------------------------------------------------------------------------
    @guarded()
    async def person_form(request: Request, session: Session, token: Token) -> Response:
        return page(request, session, "person.html", found=None, identifier="", as_of="")

    @guarded(post=True)
    async def person(request: Request, session: Session, token: Token) -> Response:
        form = await request.form()
        identifier = str(form.get("identifier") or "")
        as_of = str(form.get("as_of") or "")
        found, picture = await run_in_threadpool(_person, identifier, as_of, session.lang)
        return page(
            request,
            session,
            "person.html",
            found=found,
            picture=picture,
            identifier=identifier,
            as_of=as_of,
        )

    def _person(identifier: str, as_of: str, lang: str) -> tuple[dict[str, Any], str | None]:
        from lineage.services.whohas import who_has

        a = app()
        refs = a.refs_for(_pairs(identifier))
        when = _parse_day(as_of, "as_of")
        catalog = a.catalog(check_taxonomy=False)
        with a.query_store() as store:
            found = who_has(store, refs, when, catalog)
            picture = _picture(store, refs, when, catalog, lang) if found["holders"] else None
        return found, picture

    def _picture(
        store: Any, refs: list[str] | None, when: datetime, catalog: Any, lang: str
    ) -> str | None:
        """The data map in ``lang`` as an SVG data URI (drawn in an <img>, so nothing in it
        can run), or None without Graphviz's dot."""
        import shutil

        from lineage.graph.datamap import render, to_dot
        from lineage.services.datamap import company_map, subject_map

        if shutil.which("dot") is None:
            return None
        datamap = (
            subject_map(store, refs, when, catalog) if refs else company_map(store, when, catalog)
        )
        if datamap.empty:
            return None
        svg = render(to_dot(datamap, lang), "svg")
        return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()

    @guarded(post=True)
    async def access(request: Request, session: Session, token: Token) -> Response:
        from lineage.services.access import access_report, to_html

        form = await request.form()
        identifier = str(form.get("identifier") or "")
        lang = str(form.get("lang") or session.lang)
        i18n.check(lang)

        def build() -> str:
            a = app()
            refs = a.refs_for(_pairs(identifier))
            with a.query_store() as store:
                report = access_report(
                    store,
                    refs,
                    _parse_day(str(form.get("as_of") or ""), "as_of"),
                    a.catalog(check_taxonomy=False),
                    lang,
                )
            return to_html(report)

        html = await run_in_threadpool(build)
        return HTMLResponse(
            html,
            headers={
                **HEADERS,
                "Content-Disposition": f'attachment; filename="access-report-{lang}.html"',
            },
        )

    @guarded("rights", post=True)
    async def erase(request: Request, session: Session, token: Token) -> Response:
        from lineage.cli.erasure import service_for
        from lineage.services.erasure.service import raw_identifiers

        form = await request.form()
        pairs = _pairs(str(form.get("identifier") or ""))

        def run() -> str:
            with runtime.rights:
                service = service_for(app())
                req = service.open_request(pairs, scope=(), received_at=None, dry_run=False)
                service.execute(req, raw_identifiers(pairs))
                return str(req.request_id)

        try:
            request_id = await run_in_threadpool(run)
        except OpenRequestError as exc:
            request_id = exc.request_id  # the open request is where to go on
        return RedirectResponse(f"/ui/requests/{request_id}", 303)

    # -- rights requests -------------------------------------------------------------------
    def _requests(request_id: str | None) -> tuple[list[dict[str, Any]], datetime]:
        from lineage.cli.erasure import service_for

        service = service_for(app())
        at = service.clock()
        rows = []
        for q in service.requests(request_id):
            row = q.to_json(at)
            # Whether a task is finished is the rulebook's answer (Task.done), not the page's.
            for task, done in zip(row["tasks"], q.tasks.values(), strict=True):
                task["done"] = done.done
            row["tasks_open"] = sum(not t.done for t in q.tasks.values())
            row["failed"] = any(t.status == "failed" for t in q.tasks.values())
            left = (q.deadline - at).total_seconds() / 86400
            row["days_left"] = int(left // 1)
            row["urgency"] = (
                "done"
                if q.completed
                else "late"
                if left < 0
                else "soon"
                if left <= 7
                else "near"
                if left <= 14
                else "ok"
            )
            rows.append(row)
        return rows, at

    @guarded()
    async def requests(request: Request, session: Session, token: Token) -> Response:
        rows, at = await run_in_threadpool(_requests, None)
        rows.sort(key=lambda r: (r["urgency"] == "done", r["deadline"]))
        return page(request, session, "requests.html", requests=rows, at=at)

    @guarded()
    async def one_request(request: Request, session: Session, token: Token) -> Response:
        rid = request.path_params["request_id"]
        rows, at = await run_in_threadpool(_requests, rid)
        return page(
            request,
            session,
            "request.html",
            req=rows[0],
            at=at,
            done=request.query_params.get("done"),
        )

    def _act(kind: str) -> Any:
        @guarded("rights", post=True)
        async def act(request: Request, session: Session, token: Token) -> Response:
            from lineage.cli.erasure import service_for

            rid = request.path_params["request_id"]
            form = await request.form()

            def run() -> None:
                with runtime.rights:
                    service = service_for(app())
                    if kind == "confirm":
                        action = str(form.get("action") or "") or None
                        if action not in (None, "erase", "retain", "notify"):
                            raise InputError(f"unknown action {action!r}", "action")
                        service.confirm(
                            rid,
                            str(form.get("holder") or ""),
                            str(form.get("evidence") or "") or None,
                            action,
                        )
                    elif kind == "extend":
                        months_text = str(form.get("months") or "")
                        months = int(months_text) if months_text in ("1", "2") else None
                        service.extend(rid, str(form.get("reason") or ""), months)
                    else:
                        service.run(rid, [])

            await run_in_threadpool(run)
            return RedirectResponse(f"/ui/requests/{rid}?done={kind}", 303)

        return act

    # -- the company -----------------------------------------------------------------------
    @guarded()
    async def ropa(request: Request, session: Session, token: Token) -> Response:
        lang = request.query_params.get("lang") or session.lang
        i18n.check(lang)
        return page(request, session, "ropa.html", formats=list(ROPA_TYPES), doc_lang=lang)

    @guarded()
    async def ropa_file(request: Request, session: Session, token: Token) -> Response:
        from lineage.services.ropa import build
        from lineage.services.ropa_export import render

        fmt = request.query_params.get("format", "html")
        lang = request.query_params.get("lang", session.lang)
        if fmt not in ROPA_TYPES:
            raise WebError(400, _t(session)(N_("Unknown format {fmt}.")).format(fmt=fmt))
        i18n.check(lang)

        def run() -> bytes:
            from lineage.timeutil import now

            a = app()
            catalog = a.require_catalog()
            with a.query_store() as store:
                return render(build(catalog, store, now(), lang), fmt, lang)

        data = await run_in_threadpool(run)
        suffix, media = ROPA_TYPES[fmt]
        headers = dict(HEADERS)
        if request.url.path.endswith("/download"):
            headers["Content-Disposition"] = f'attachment; filename="ropa-{lang}.{suffix}"'
        else:
            # Shown in the page's frame: the document's own stylesheet is inline.
            headers["Content-Security-Policy"] = (
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
            )
        return Response(data, media_type=media, headers=headers)

    @guarded()
    async def audit(request: Request, session: Session, token: Token) -> Response:
        from lineage.services.audit import audit as run

        when = _parse_day(request.query_params.get("as_of"), "as_of")

        def find() -> tuple[list[Any], bool]:
            a = app()
            catalog = a.catalog()
            with a.query_store() as store:
                return run(catalog, store, when), catalog is not None

        findings, has_catalog = await run_in_threadpool(find)
        severity = request.query_params.get("severity", "")
        rule = request.query_params.get("rule", "")
        holder = request.query_params.get("holder", "")
        shown = [
            f
            for f in findings
            if (not severity or f.severity == severity)
            and (not rule or f.rule == rule)
            and (not holder or f.holder == holder)
        ]
        summary = {s: sum(f.severity == s for f in findings) for s in ("error", "warning", "info")}
        return page(
            request,
            session,
            "audit.html",
            findings=shown,
            total=len(findings),
            summary=summary,
            rules=sorted({f.rule for f in findings}),
            holders=sorted({f.holder for f in findings if f.holder}),
            severity=severity,
            rule=rule,
            holder=holder,
            as_of=request.query_params.get("as_of", ""),
            has_catalog=has_catalog,
        )

    @guarded()
    async def datamap(request: Request, session: Session, token: Token) -> Response:
        as_of = request.query_params.get("as_of", "")
        when = _parse_day(as_of, "as_of")

        def draw() -> str | None:
            a = app()
            with a.query_store() as store:
                return _picture(store, None, when, a.catalog(check_taxonomy=False), session.lang)

        picture = await run_in_threadpool(draw)
        return page(request, session, "map.html", picture=picture, as_of=as_of)

    @guarded()
    async def exposed(request: Request, session: Session, token: Token) -> Response:
        from lineage.services.exposure import exposed as answer
        from lineage.services.names import known_holders, require_known

        holder = request.query_params.get("holder", "")
        at = request.query_params.get("at", "")

        def run() -> tuple[list[str], dict[str, Any] | None]:
            a = app()
            catalog = a.catalog(check_taxonomy=False)
            with a.query_store() as store:
                names = sorted(known_holders(store, catalog))
                if not holder:
                    return names, None
                require_known(holder, names, "holder", "holder")
                return names, answer(store, holder, _parse_day(at, "at"))

        holders, result = await run_in_threadpool(run)
        return page(
            request, session, "exposed.html", holders=holders, holder=holder, at=at, result=result
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        session = sessions.find(request.cookies.get(COOKIE))
        return error(request, session, 404, N_("No such page."))

    async def not_allowed(request: Request, exc: Exception) -> Response:
        session = sessions.find(request.cookies.get(COOKIE))
        return error(request, session, 405, N_("This page does not take that method."))

    static = i18n.package_dir() / "templates" / "web" / "static"
    routes = [
        Route("/", home),
        Route("/ui", home),
        Route("/ui/", home),
        Route("/ui/login", login, methods=["GET", "POST"]),
        Route("/ui/logout", logout, methods=["POST"]),
        Route("/ui/lang", language, methods=["POST"]),
        Route("/ui/person", person_form, methods=["GET"]),
        Route("/ui/person", person, methods=["POST"]),
        Route("/ui/access", access, methods=["POST"]),
        Route("/ui/erase", erase, methods=["POST"]),
        Route("/ui/requests", requests),
        Route("/ui/requests/{request_id}", one_request),
        Route("/ui/requests/{request_id}/confirm", _act("confirm"), methods=["POST"]),
        Route("/ui/requests/{request_id}/extend", _act("extend"), methods=["POST"]),
        Route("/ui/requests/{request_id}/run", _act("run"), methods=["POST"]),
        Route("/ui/ropa", ropa),
        Route("/ui/ropa/view", ropa_file),
        Route("/ui/ropa/download", ropa_file),
        Route("/ui/audit", audit),
        Route("/ui/map", datamap),
        Route("/ui/exposed", exposed),
        Mount("/ui/static", StaticFiles(directory=static), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})
