"""The HTTP API of ``lineage serve`` (FastAPI; the OpenAPI document at ``/openapi.json``,
browsable at ``/docs``).

Every endpoint calls the service function its CLI command calls and answers with the same
JSON as the command's ``--format json``. Identifiers never go into a URL or query string
(proxies and access logs keep those): who they are about goes in a POST body, as an
``identifier`` (e-mail, +phone, KIND=VALUE or a subject reference) and/or ``ids``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from lineage import __version__
from lineage.errors import (
    InputError,
    LineageError,
    LogError,
    NothingToDraw,
    OpenRequestError,
    RequestError,
    UnknownRequestError,
)
from lineage.serve.ingest import WorkerLost
from lineage.serve.runtime import Busy, Runtime, ServeApp
from lineage.serve.tokens import Token, Verifier

if TYPE_CHECKING:
    from lineage.ingest.record import Prepared

log = logging.getLogger("lineage.serve")

JSON_TYPES = ("application/json",)
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")
ROPA_TYPES = {
    "csv": ("csv", "text/csv; charset=utf-8"),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "json": ("json", "application/json"),
    "markdown": ("md", "text/markdown; charset=utf-8"),
    "html": ("html", "text/html; charset=utf-8"),
}
# A report returns the message it is about (ours are a few kilobytes) or only its header.
MAX_REPORT_BYTES = 10 * 1024 * 1024
MAP_TYPES = {"svg": "image/svg+xml", "png": "image/png", "dot": "text/vnd.graphviz"}


# Module level: FastAPI resolves the endpoints' annotations in this module's namespace.
bearer = HTTPBearer(auto_error=False, description="A token from `lineage token create`.")


class ApiError(HTTPException):
    def __init__(
        self,
        status: int,
        error: str,
        headers: dict[str, str] | None = None,
        where: str | None = None,
    ) -> None:
        super().__init__(status, error, headers)
        self.where = where


def as_json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """The CLI's JSON (``emit_json``: same encoder, same fallbacks), compact."""
    body = json.dumps(data, ensure_ascii=False, default=str)
    return Response(body, status, headers, media_type="application/json")


# -- request bodies ---------------------------------------------------------------------
class Subject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identifier: str | None = Field(
        None,
        description="An e-mail, +phone, KIND=VALUE or a subject reference (64 hex digits).",
        examples=["jane@example.com"],
    )
    ids: dict[str, str] | list[tuple[str, str]] = Field(
        default_factory=dict,
        description="Further identifiers of the same person: by kind, or as [kind, value] "
        "pairs when a kind comes more than once.",
        examples=[{"customer_number": "1042"}, [["email", "jane@example.com"]]],
    )


class SubjectAsOf(Subject):
    as_of: str | None = Field(None, description="Answer from events up to then (default now).")


class AccessBody(SubjectAsOf):
    lang: Literal["en", "da"] = "en"
    # ``markdown`` is the CLI's name for the format everywhere; ``md`` stays an alias.
    format: Literal["json", "markdown", "md", "html"] = "json"


class EraseBody(Subject):
    scope: list[str] = Field(default_factory=list, description="Categories (default all).")
    dry_run: bool = False
    no_run: bool = Field(False, description="Record and plan, call no eraser yet.")
    received_at: str | None = None


class RectifyBody(Subject):
    categories: list[str] = Field(min_length=1)
    dry_run: bool = False


class RestrictBody(Subject):
    dry_run: bool = False


class WithdrawBody(Subject):
    use: str = Field(description="The fideslang data use withdrawn (covers narrower uses).")
    channel: str | None = Field(None, description="How the subject withdrew (evidence).")
    dry_run: bool = False


class NoticesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MapBody(SubjectAsOf):
    format: Literal["svg", "png", "dot"] = "svg"
    lang: Literal["en", "da"] = "en"


class ConfirmBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    holder: str
    evidence: str | None = None
    action: Literal["erase", "retain", "notify"] | None = None


class ExtendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = ""
    months: int | None = Field(None, ge=1, le=2)


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: dict[str, str] | list[tuple[str, str]] = Field(default_factory=dict)


def _id_pairs(ids: dict[str, str] | list[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(ids.items()) if isinstance(ids, dict) else [(k, v) for k, v in ids]


def _pairs(body: Subject) -> list[tuple[str, str]]:
    from lineage.edge.identity import is_subject_ref, parse_identifier

    pairs: list[tuple[str, str]] = []
    if body.identifier:
        text = body.identifier
        pairs.append(("ref", text) if is_subject_ref(text) else parse_identifier(text))
    pairs += _id_pairs(body.ids)
    if not pairs:
        raise InputError("give identifier or ids", "identifier")
    return pairs


def _time(text: str | None, where: str) -> datetime:
    from lineage.timeutil import now, parse_time

    if not text:
        return now()
    try:
        return parse_time(text, assume_utc=True)
    except InputError as exc:
        raise InputError(exc.problem, where) from None


# -- errors -------------------------------------------------------------------------------
def _status_of(exc: LineageError) -> int:
    if isinstance(exc, Busy | LogError | WorkerLost):
        return 503
    if isinstance(exc, UnknownRequestError | NothingToDraw):
        return 404
    if isinstance(exc, OpenRequestError):
        return 409
    if isinstance(exc, InputError | RequestError):
        return 422
    if exc.exit_code == 2:  # configuration the service's operator must fix
        return 500
    return 422


def _install_errors(api: FastAPI) -> None:
    async def lineage_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LineageError)
        status = _status_of(exc)
        # What the CLI exits with for this refusal: the CLI through the service exits so too.
        body: dict[str, Any] = {"error": str(exc), "exit_code": exc.exit_code}
        if isinstance(exc, InputError):
            body["where"] = exc.where
        if isinstance(exc, OpenRequestError):
            body["request_id"] = exc.request_id
        headers = {"Retry-After": "1"} if status == 503 else None
        return as_json(body, status, headers)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        status = 400 if first.get("type") == "json_invalid" else 422
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg")}
            for e in errors
        ]
        return as_json(
            {"error": f"{where}: {first['msg']}", "where": where, "problems": problems}, status
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        body: dict[str, Any] = {"error": exc.detail}
        if getattr(exc, "where", None):
            body["where"] = exc.where  # type: ignore[attr-defined]
        return as_json(body, exc.status_code, exc.headers)

    async def unexpected(request: Request, exc: Exception) -> Response:
        # The traceback stays in the server's log; the client learns nothing of the inside.
        log.error("internal error on %s", request.scope.get("route"), exc_info=exc)
        return as_json({"error": "internal error (see the service's log)"}, 500)

    api.add_exception_handler(LineageError, lineage_error)
    api.add_exception_handler(RequestValidationError, invalid)
    api.add_exception_handler(HTTPException, http_error)
    api.add_exception_handler(Exception, unexpected)


# -- the application ----------------------------------------------------------------------
def _no_telemetry() -> dict[str, Any]:
    """FastAPI's own OpenTelemetry off, where it has it (0.165 and later): the service
    configures no providers, and asking whether any is configured read the environment on
    every request (a twentieth of an answer's time on the event loop)."""
    import inspect

    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def create_api(
    runtime: Runtime,
    verifier: Verifier,
    *,
    max_ingests: int = 8,
    extra_routes: list[Any] | None = None,
) -> FastAPI:
    api = FastAPI(
        **_no_telemetry(),
        title="lineage",
        version=__version__,
        summary="Who holds whose personal data, for which purpose, on which legal basis.",
        description=(
            "Every endpoint needs `Authorization: Bearer <token>` (`lineage token create`) "
            "with its scope (`admin` covers all). Identifiers go in POST bodies, never in URLs."
        ),
    )
    _install_errors(api)

    def scope(needed: str) -> Any:
        async def check(
            request: Request,
            # Declared for the OpenAPI document; the token was checked by ``Authenticate``.
            cred: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        ) -> Token:
            token: Token = request.state.token_record
            if not token.allows(needed):
                raise ApiError(
                    403, f"token {token.name!r} has scope {token.scope}; this needs {needed}"
                )
            return token

        return Depends(check)

    def app() -> ServeApp:
        return runtime.app()

    read = APIRouter(prefix="/v1", dependencies=[scope("read")], tags=["answers"])
    rights = APIRouter(prefix="/v1", dependencies=[scope("rights")], tags=["rights"])
    ingest = APIRouter(prefix="/v1", dependencies=[scope("ingest")], tags=["ingest"])

    @api.get("/v1/health", tags=["service"])
    def health() -> Response:
        """Liveness (no token): is the follower projecting?"""
        error = runtime.follower.error
        return as_json({"status": "degraded" if error else "ok", "error": error})

    # -- answers --------------------------------------------------------------------------
    @read.post("/who-has")
    def who_has(body: SubjectAsOf) -> Response:
        """`lineage who-has`: every holder of one person's data."""
        from lineage.services.whohas import who_has as answer

        a = app()
        refs = a.refs_for(_pairs(body))
        when = _time(body.as_of, "as_of")
        catalog = a.catalog(check_taxonomy=False)
        with a.subject_store(refs) as store:
            links = a.identity_links(store, refs) if a.links is None else a.links
            return as_json(answer(store, refs, when, catalog, links))

    @read.post("/recipients")
    def recipients(body: Subject) -> Response:
        """`lineage recipients`: everyone the data was disclosed to (Art. 19)."""
        from lineage.services.access import recipients as answer
        from lineage.timeutil import now

        a = app()
        refs = a.refs_for(_pairs(body))
        with a.query_store() as store:
            return as_json(answer(store, refs, now()))

    @read.post("/access")
    def access(body: AccessBody) -> Response:
        """`lineage access`: the Art. 15 report as json, md or html."""
        from lineage.services.access import access_report, to_html, to_markdown

        a = app()
        refs = a.refs_for(_pairs(body))
        when = _time(body.as_of, "as_of")
        with a.query_store() as store:
            report = access_report(store, refs, when, a.catalog(check_taxonomy=False), body.lang)
        if body.format in ("markdown", "md"):
            return Response(to_markdown(report), media_type="text/markdown; charset=utf-8")
        if body.format == "html":
            return Response(to_html(report), media_type="text/html; charset=utf-8")
        return as_json(report)

    @read.get("/exposed")
    def exposed(holder: str, at: str, references: bool = False) -> Response:
        """`lineage exposed`: breach impact at a holder at a moment (Art. 33/34)."""
        from lineage.services.exposure import exposed as answer
        from lineage.services.names import known_holders, require_known

        a = app()
        when = _time(at, "at")
        with a.query_store() as store:
            require_known(
                holder, known_holders(store, a.catalog(check_taxonomy=False)), "holder", "holder"
            )
            return as_json(answer(store, holder, when, references=references))

    @read.get("/ropa")
    def ropa(
        format: Literal["csv", "xlsx", "json", "markdown", "html"] = "markdown",
        lang: Literal["en", "da"] = "en",
        as_of: str | None = None,
    ) -> Response:
        """`lineage ropa`: the Article 30 records, as a download."""
        from lineage.services.ropa import build
        from lineage.services.ropa_export import render

        a = app()
        when = _time(as_of, "as_of")
        catalog = a.require_catalog()
        with a.query_store() as store:
            records = build(catalog, store, when, lang)
        suffix, media = ROPA_TYPES[format]
        return Response(
            render(records, format, lang),
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="ropa.{suffix}"'},
        )

    @read.get("/audit")
    def audit(as_of: str | None = None) -> Response:
        """`lineage audit --format json`: findings of the catalog against the events."""
        from lineage.services.audit import report

        a = app()
        when = _time(as_of, "as_of")
        catalog = a.catalog()
        with a.query_store() as store:
            return as_json(report(catalog, store, when))

    def _draw(a: ServeApp, refs: list[str] | None, when: datetime, fmt: str, lang: str) -> Response:
        from lineage.graph.datamap import render, to_dot
        from lineage.services.datamap import data_map

        catalog = a.catalog(check_taxonomy=False)
        with a.query_store() as store:
            datamap = data_map(store, refs, when, catalog)
        return Response(render(to_dot(datamap, lang), fmt), media_type=MAP_TYPES[fmt])

    @read.get("/map")
    def company_map(
        format: Literal["svg", "png", "dot"] = "svg",
        as_of: str | None = None,
        lang: Literal["en", "da"] = "en",
    ) -> Response:
        """`lineage map`: the whole company's data map."""
        return _draw(app(), None, _time(as_of, "as_of"), format, lang)

    @read.post("/map")
    def subject_map(body: MapBody) -> Response:
        """`lineage map --subject`: one person's data map."""
        a = app()
        refs = a.refs_for(_pairs(body))
        return _draw(a, refs, _time(body.as_of, "as_of"), body.format, body.lang)

    @read.get("/status")
    def status() -> Response:
        """`lineage status`: log, projection, counts."""
        a = app()
        with a.query_store() as store:
            return as_json(a.status(store))

    @read.get("/dead-letters")
    def dead_letters() -> Response:
        """`lineage dlq list`: records set aside."""
        return as_json(app().dead_letters())

    @read.get("/erasure/requests")
    def erasure_status(overdue: bool = False, as_of: str | None = None) -> Response:
        """`lineage erasure status`: every request with its tasks, deadline and status."""
        return as_json(_requests(None, overdue, as_of))

    @read.get("/erasure/requests/{request_id}")
    def erasure_request(
        request_id: str, overdue: bool = False, as_of: str | None = None
    ) -> Response:
        """`lineage erasure status REQUEST`: with `overdue`, an empty list unless it is."""
        return as_json(_requests(request_id, overdue, as_of))

    def _requests(request_id: str | None, overdue: bool, as_of: str | None) -> dict[str, Any]:
        from lineage.cli.erasure import service_for
        from lineage.services.rights_answers import requests

        at = _time(as_of, "as_of") if as_of else None
        return requests(service_for(app()), request_id, overdue=overdue, as_of=at)

    @read.get("/erasure/due")
    def erasure_due() -> Response:
        """`lineage erasure due`: deferred erasures whose retention has ended."""
        from lineage.cli.erasure import service_for
        from lineage.services.rights_answers import due

        return as_json(due(service_for(app())))

    # -- rights -------------------------------------------------------------------------
    @rights.post("/erase")
    def erase(body: EraseBody) -> Response:
        """`lineage erase`: record, plan and execute an erasure request (Art. 17)."""
        from lineage.cli.erasure import categories_of, plan_json, service_for
        from lineage.services.erasure.service import raw_identifiers

        pairs = _pairs(body)
        received = _time(body.received_at, "received_at") if body.received_at else None
        with runtime.rights:
            service = service_for(app())
            cats = categories_of(tuple(body.scope), "scope", service)
            req = service.open_request(
                pairs, scope=cats, received_at=received, dry_run=body.dry_run
            )
            if not body.dry_run and not body.no_run:
                service.execute(req, raw_identifiers(pairs))
        return as_json(plan_json(req))

    def _notify(kind: str, body: Subject, categories: list[str], dry_run: bool) -> Response:
        from lineage.cli.erasure import categories_of, plan_json, service_for
        from lineage.services.erasure.notices import send_notice

        pairs = _pairs(body)
        with runtime.rights:
            service = service_for(app())
            cats = categories_of(tuple(categories), "categories", service)
            # Sent now, as the CLI does; the identifiers in the body are used, not recorded.
            req = send_notice(service, pairs, kind, cats, dry_run=dry_run)
        return as_json(plan_json(req))

    @rights.post("/rectify")
    def rectify(body: RectifyBody) -> Response:
        """`lineage rectify`: record a rectification, notify recipients (Art. 16, 19)."""
        return _notify("rectification", body, body.categories, body.dry_run)

    @rights.post("/restrict")
    def restrict(body: RestrictBody) -> Response:
        """`lineage restrict`: record a restriction, notify recipients (Art. 18, 19)."""
        return _notify("restriction", body, [], body.dry_run)

    @rights.post("/consent/withdraw")
    def consent_withdraw(body: WithdrawBody) -> Response:
        """`lineage consent withdraw`: record a withdrawal, tell recipients to stop."""
        from lineage.cli.erasure import plan_json, service_for
        from lineage.services.erasure.notices import withdraw

        pairs = _pairs(body)
        with runtime.rights:
            service = service_for(app())
            req = withdraw(
                service, pairs, body.use, channel=body.channel, dry_run=body.dry_run, where="use"
            )
        return as_json(plan_json(req))

    @rights.post("/consent/notices")
    def consent_notices(body: NoticesBody) -> Response:
        """`lineage consent notices`: notices for withdrawals recorded without them."""
        from lineage.cli.erasure import service_for
        from lineage.services.erasure.notices import open_withdrawals

        with runtime.rights:
            service = service_for(app())
            opened = open_withdrawals(service)
            return as_json({"opened": [r.to_json(service.clock()) for r in opened]})

    @rights.post("/erasure/requests/{request_id}/confirm")
    def confirm(request_id: str, body: ConfirmBody) -> Response:
        """`lineage erasure confirm`: a manual confirmation by a holder."""
        from lineage.cli.erasure import service_for

        with runtime.rights:
            service = service_for(app())
            req = service.confirm(request_id, body.holder, body.evidence, body.action)
            return as_json(req.to_json(service.clock()))

    @rights.post("/erasure/requests/{request_id}/extend")
    def extend(request_id: str, body: ExtendBody) -> Response:
        """`lineage erasure extend`: up to two further months (Art. 12(3))."""
        from lineage.cli.erasure import service_for

        with runtime.rights:
            service = service_for(app())
            req = service.extend(request_id, body.reason, body.months)
            return as_json(req.to_json(service.clock()))

    @rights.post("/erasure/requests/{request_id}/run")
    def run(request_id: str, body: RunBody) -> Response:
        """`lineage erasure run`: execute or resume a request's tasks."""
        from lineage.cli.erasure import service_for

        with runtime.rights:
            service = service_for(app())
            req = service.run(request_id, _id_pairs(body.ids))
            return as_json(req.to_json(service.clock()))

    @rights.post(
        "/erasure/bounces",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )
    async def bounces(request: Request) -> Response:
        """`lineage erasure bounces -`: one delivery report (RFC 3464) as `message/rfc822`,
        e.g. piped by the mail server that receives the sender address's bounces. Recorded
        once however often it is sent; other messages are counted, not refused (200). A
        damaged report is 422."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "message/rfc822":
            raise ApiError(415, "send one message as message/rfc822")
        data = await request.body()
        if len(data) > MAX_REPORT_BYTES:
            raise ApiError(413, f"a delivery report is at most {MAX_REPORT_BYTES} bytes")
        if not data.strip():
            raise InputError("no message", "body")
        return as_json(await run_in_threadpool(_bounces, data))

    def _bounces(data: bytes) -> dict[str, Any]:
        from lineage.cli.erasure import service_for
        from lineage.services.erasure.bounces import record_bounces

        with runtime.rights:
            return record_bounces(service_for(app()), [("body", data)], strict=True).to_json()

    # -- ingest -------------------------------------------------------------------------
    slots = {"free": max_ingests}

    @ingest.post(
        "/events",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def events(
        request: Request,
        source: str = Query("api", description="Emitting tool, for events that name none."),
    ) -> Response:
        """`lineage emit --file`: a batch of events as a JSON array or JSON Lines
        (`application/x-ndjson`). All are checked first; one bad event and nothing is
        recorded (422, naming `body[index]` or `body:line`). 200 once durable in the log."""
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
        if kind not in JSON_TYPES + JSONL_TYPES:
            raise ApiError(415, f"send {JSON_TYPES[0]} (an array) or {JSONL_TYPES[0]} (lines)")
        if slots["free"] <= 0:
            raise ApiError(429, "too many ingests in flight", {"Retry-After": "1"})
        slots["free"] -= 1
        try:
            chunks = []
            try:
                async for chunk in request.stream():
                    chunks.append(chunk)
            except ClientDisconnect:
                return Response(status_code=400)  # nobody is listening; nothing was recorded
            # Decoded where it is parsed (a worker, or a thread): not on the event loop.
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            del chunks
            result = await _record(runtime, app(), body, kind in JSONL_TYPES, source)
            return as_json(result)
        finally:
            slots["free"] += 1

    for router in (read, rights, ingest):
        api.include_router(router)
    for route in extra_routes or []:
        api.router.routes.append(route)
    api.add_middleware(Authenticate, verifier=verifier)
    return api


# Open without a token: liveness, the API's description, and the webhooks (vendors sign
# their deliveries instead; the receiver checks the signatures).
OPEN_PATHS = frozenset({"/v1/health", "/docs", "/docs/oauth2-redirect", "/openapi.json"})


class Authenticate:
    """Every other request needs a valid bearer token, checked before anything else (the
    body is not even read); the routes check the token's scope."""

    def __init__(self, app: Any, verifier: Verifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS or path.startswith("/hooks/"):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        kind, _, presented = header.partition(" ")
        if kind.lower() != "bearer" or not presented.strip():
            error = "a bearer token is required"
            token = None
        else:
            token = self.verifier.check(presented.strip())
            error = "unknown or revoked token"
        if token is None:
            response = as_json({"error": error}, 401, {"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["token"] = token.name  # for the access log
        state["token_record"] = token
        await self.app(scope, receive, send)


async def _record(
    runtime: Runtime, app: ServeApp, body: bytes, lines: bool, source: str
) -> dict[str, Any]:
    """Parse and check the whole batch (in a worker process when it is large), then append
    it in one go, in the thread that took the prepared batch."""
    from lineage.errors import LogDeliveryError
    from lineage.serve.ingest import prepare_body

    def append(prepared: Prepared) -> dict[str, Any]:
        try:
            result = runtime.writer.append(prepared.records, prepared.refs)
        except LogDeliveryError as exc:
            raise exc.naming(prepared.places.__getitem__) from None
        return prepared.recorded(result).to_json()

    try:
        if runtime.ingest is None:
            return await run_in_threadpool(lambda: append(prepare_body(app, body, lines, source)))
        return await runtime.ingest.prepare(app, body, lines, source, append)
    except InputError as exc:
        if exc.problem.startswith("malformed JSON"):
            raise ApiError(400, str(exc), where=exc.where) from None
        raise
