"""``Client``: an application (or the CLI with ``LINEAGE_URL``) talks to ``lineage serve``.

The event methods buffer JSON objects and ``flush`` posts them to ``/v1/events`` in one
batch (the service pseudonymises and checks them; one bad event and nothing is recorded).
The read and rights calls answer with the JSON of the CLI's ``--format json``.

Retries: 429 and 503 (the service is busy) and connections that could not be made are
retried, waiting what ``Retry-After`` says (else exponential backoff), ``retries`` times.
Re-posting a batch is safe: event ids are given or derived from the content, and the
projection keeps one of each. Other errors raise ``ServiceError`` at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx
import tenacity

from lineage.errors import LineageError
from lineage.sdk.events import EventMethods

RETRY_STATUS = frozenset({429, 503})
# Further identifiers of the subject: {kind: value}, or (kind, value) pairs when a kind
# comes more than once.
Ids = Mapping[str, str] | Sequence[tuple[str, str]]


class ServiceError(LineageError):
    """The service refused a request: ``status``, its ``error`` sentence and ``where``."""

    def __init__(
        self, status: int, error: str, where: str | None = None, exit_code: int | None = None
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.where = where
        # The CLI's exit code for this refusal, as the service says; else by status: bad
        # input or token 2, busy 3, anything else 1.
        self.exit_code = (
            exit_code
            if exit_code is not None
            else 2
            if status in (400, 401, 403, 404, 413, 415, 422)
            else 3
            if status in RETRY_STATUS
            else 1
        )


class Unreachable(LineageError):
    """The service could not be reached (after the retries)."""

    exit_code = 3


class _Busy(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the exponential wait instead


class Client(EventMethods):
    """``Client(url, token)``; without arguments, ``LINEAGE_URL`` and ``LINEAGE_TOKEN``.
    ``transport`` is httpx's seam (a test's ``MockTransport``)."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        max_wait: float = 30.0,
        batch_size: int = 1000,
        source: str = "sdk",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = url or os.environ.get("LINEAGE_URL")
        if not url:
            raise LineageError("no service URL: give Client(url, token) or set LINEAGE_URL")
        token = token if token is not None else os.environ.get("LINEAGE_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self.source = source
        self.batch_size = batch_size
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._retries = retries
        self._max_wait = max_wait
        self._backoff = tenacity.wait_exponential(multiplier=0.1, max=max_wait)

    # -- transport ------------------------------------------------------------------------
    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Busy):
            after = _retry_after(exc.response)
            if after is not None:
                return min(after, self._max_wait)
        return float(self._backoff(state))

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One call, retried while the service is busy; a refusal raises ``ServiceError``."""

        def attempt() -> httpx.Response:
            response = self._http.request(method, path, **kw)
            if response.status_code in RETRY_STATUS:
                raise _Busy(response)
            return response

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((_Busy, httpx.ConnectError)),
            wait=self._wait,
            stop=tenacity.stop_after_attempt(self._retries + 1),
            reraise=True,
        )
        try:
            response = retrying(attempt)
        except _Busy as exc:
            response = exc.response
        except httpx.TransportError as exc:
            raise Unreachable(f"lineage service at {self.url}: {exc}") from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            if not isinstance(body, dict):
                body = {}
            code = body.get("exit_code")
            raise ServiceError(
                response.status_code,
                body.get("error") or response.reason_phrase,
                body.get("where"),
                code if isinstance(code, int) and not isinstance(code, bool) else None,
            )
        return response

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        return self.request(method, path, **kw).json()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- events ---------------------------------------------------------------------------
    def _add(self, obj: dict[str, Any]) -> None:
        with self._lock:
            self._buffer.append(obj)
            if len(self._buffer) >= self.batch_size:
                self.flush()

    def flush(self) -> dict[str, Any] | None:
        """Post the buffered events in one batch; the service's answer (``appended``, ...),
        or None when there was nothing. On an error the buffer is kept."""
        with self._lock:
            if not self._buffer:
                return None
            answer: dict[str, Any] = self._json(
                "POST", "/v1/events", json=self._buffer, params={"source": self.source}
            )
            self._buffer = []
            return answer

    @property
    def pending(self) -> int:
        return len(self._buffer)

    # -- answers --------------------------------------------------------------------------
    @staticmethod
    def _who(identifier: str | None, ids: Ids | None) -> dict[str, Any]:
        return {"identifier": identifier, "ids": _ids(ids)}

    def who_has(
        self,
        identifier: str | None = None,
        *,
        ids: Ids | None = None,
        as_of: str | None = None,
    ) -> dict[str, Any]:
        return self._json(
            "POST", "/v1/who-has", json={**self._who(identifier, ids), "as_of": as_of}
        )

    def recipients(
        self, identifier: str | None = None, *, ids: Ids | None = None
    ) -> dict[str, Any]:
        return self._json("POST", "/v1/recipients", json=self._who(identifier, ids))

    def access(
        self,
        identifier: str | None = None,
        *,
        ids: Ids | None = None,
        as_of: str | None = None,
        lang: str = "en",
        format: str = "json",
    ) -> Any:
        """The Art. 15 report: a dict for ``json``, the document's text for ``md``/``html``."""
        body = {**self._who(identifier, ids), "as_of": as_of, "lang": lang, "format": format}
        response = self.request("POST", "/v1/access", json=body)
        return response.json() if format == "json" else response.text

    def exposed(self, holder: str, at: str, *, references: bool = False) -> dict[str, Any]:
        params = {"holder": holder, "at": at, "references": references}
        return self._json("GET", "/v1/exposed", params=params)

    def audit(self, *, as_of: str | None = None) -> dict[str, Any]:
        return self._json("GET", "/v1/audit", params=_given(as_of=as_of))

    def ropa(
        self, *, format: str = "markdown", lang: str = "en", as_of: str | None = None
    ) -> bytes:
        params = _given(format=format, lang=lang, as_of=as_of)
        return self.request("GET", "/v1/ropa", params=params).content

    def map(
        self,
        identifier: str | None = None,
        *,
        ids: Ids | None = None,
        format: str = "svg",
        as_of: str | None = None,
        lang: str = "en",
    ) -> bytes:
        """The data map (one person's with an identifier or ids, else the company's), its
        texts in ``lang``."""
        if identifier or ids:
            body = {**self._who(identifier, ids), "format": format, "as_of": as_of, "lang": lang}
            return self.request("POST", "/v1/map", json=body).content
        params = _given(format=format, as_of=as_of, lang=lang)
        return self.request("GET", "/v1/map", params=params).content

    def status(self) -> dict[str, Any]:
        return self._json("GET", "/v1/status")

    def dead_letters(self) -> list[dict[str, Any]]:
        return self._json("GET", "/v1/dead-letters")

    def erasure_status(
        self, request_id: str | None = None, *, overdue: bool = False, as_of: str | None = None
    ) -> dict[str, Any]:
        if request_id:
            params = _given(overdue=overdue or None, as_of=as_of)
            return self._json("GET", f"/v1/erasure/requests/{request_id}", params=params)
        params = _given(overdue=overdue or None, as_of=as_of)
        return self._json("GET", "/v1/erasure/requests", params=params)

    def erasure_due(self) -> dict[str, Any]:
        return self._json("GET", "/v1/erasure/due")

    # -- rights ---------------------------------------------------------------------------
    def erase(
        self,
        identifier: str | None = None,
        *,
        ids: Ids | None = None,
        scope: Sequence[str] = (),
        dry_run: bool = False,
        no_run: bool = False,
        received_at: str | None = None,
    ) -> dict[str, Any]:
        body = {
            **self._who(identifier, ids),
            "scope": list(scope),
            "dry_run": dry_run,
            "no_run": no_run,
            "received_at": received_at,
        }
        return self._json("POST", "/v1/erase", json=body)

    def rectify(
        self,
        identifier: str | None = None,
        *,
        categories: Sequence[str],
        ids: Ids | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        body = {**self._who(identifier, ids), "categories": list(categories), "dry_run": dry_run}
        return self._json("POST", "/v1/rectify", json=body)

    def restrict(
        self,
        identifier: str | None = None,
        *,
        ids: Ids | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        return self._json(
            "POST", "/v1/restrict", json={**self._who(identifier, ids), "dry_run": dry_run}
        )

    def withdraw(
        self,
        identifier: str | None = None,
        *,
        use: str,
        ids: Ids | None = None,
        channel: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Record a consent withdrawal and tell every recipient of data under ``use``."""
        body = {**self._who(identifier, ids), "use": use, "channel": channel, "dry_run": dry_run}
        return self._json("POST", "/v1/consent/withdraw", json=body)

    def consent_notices(self) -> dict[str, Any]:
        """Open notices for recorded withdrawals that have none yet."""
        return self._json("POST", "/v1/consent/notices", json={})

    def confirm(
        self,
        request_id: str,
        holder: str,
        *,
        evidence: str | None = None,
        action: str | None = None,
    ) -> dict[str, Any]:
        body = {"holder": holder, "evidence": evidence, "action": action}
        return self._json("POST", f"/v1/erasure/requests/{request_id}/confirm", json=body)

    def extend(
        self, request_id: str, reason: str = "", *, months: int | None = None
    ) -> dict[str, Any]:
        body = {"reason": reason, "months": months}
        return self._json("POST", f"/v1/erasure/requests/{request_id}/extend", json=body)

    def run(self, request_id: str, *, ids: Ids | None = None) -> dict[str, Any]:
        body = {"ids": _ids(ids)}
        return self._json("POST", f"/v1/erasure/requests/{request_id}/run", json=body)


def _ids(ids: Ids | None) -> dict[str, str] | list[list[str]]:
    """A mapping as it is; pairs as a list (two identifiers of one kind stay two)."""
    if ids is None:
        return {}
    if isinstance(ids, Mapping):
        return dict(ids)
    return [[kind, value] for kind, value in ids]


def _given(**params: Any) -> dict[str, Any]:
    """Query parameters that were given (the service's defaults for the others)."""
    return {k: v for k, v in params.items() if v is not None}
