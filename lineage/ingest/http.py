"""Calls to a vendor's API through an injected ``httpx.Client``, with one retry policy.

- 429: wait what ``Retry-After`` says (seconds or an HTTP date), up to ``max_wait``.
- 5xx and network errors: retry with exponential backoff, then ``TransientError``.
- 401/403: ``AuthError`` naming the setting to fix. Other 4xx: ``RequestError``.
- A body that is not JSON: ``PayloadError``.
Nothing here knows a vendor; connectors pass the setting that holds their credentials.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lineage.ingest.errors import AuthError, PayloadError, RequestError, TransientError

if TYPE_CHECKING:
    import httpx

RETRY_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    backoff: float = 0.5  # first wait after a 5xx; doubles each time
    max_backoff: float = 30.0
    max_wait: float = 120.0  # the longest Retry-After we are willing to sleep


class Api:
    """A vendor API as seen by one connector: the client, its name and retry policy."""

    def __init__(
        self,
        client: httpx.Client,
        connector: str,
        *,
        auth_setting: str,
        auth_where: str = "",
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.connector = connector
        self.auth_setting = auth_setting
        self.auth_where = auth_where or f"the [{connector}] settings"
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.seconds = 0.0  # time spent waiting on the network, for the benchmark

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self.request("GET", path, params=params)
        started = time.perf_counter()
        try:
            return self.json(response, path)
        finally:
            self.seconds += time.perf_counter() - started  # decoding is part of reading

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        import httpx

        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                response = self.client.request(
                    method, path, params=params, json=json_body, headers=headers
                )
            except httpx.TransportError as exc:
                self.seconds += time.perf_counter() - started
                if attempt >= self.retry.attempts:
                    raise TransientError(
                        self.connector,
                        f"{method} {path} failed after {attempt} attempts: {type(exc).__name__}",
                    ) from None
                self.sleep(self._backoff(attempt))
                continue
            self.seconds += time.perf_counter() - started
            status = response.status_code
            if status < 400:
                return response
            if status == 429:
                wait = retry_after(response.headers.get("retry-after"), default=self.retry.backoff)
                if attempt >= self.retry.attempts or wait > self.retry.max_wait:
                    raise TransientError(
                        self.connector,
                        f"rate limited on {method} {path} (HTTP 429, retry after {wait:g}s)",
                        status,
                    )
                self.sleep(wait)
                continue
            if status in RETRY_STATUSES or status >= 500:
                if attempt >= self.retry.attempts:
                    raise TransientError(
                        self.connector,
                        f"{method} {path} answered HTTP {status} {attempt} times; "
                        "nothing was recorded past the last durable page, run again later",
                        status,
                    )
                self.sleep(self._backoff(attempt))
                continue
            if status in (401, 403):
                raise AuthError(self.connector, status, self.auth_setting, self.auth_where)
            raise RequestError(
                self.connector,
                f"{method} {path} answered HTTP {status}: {_excerpt(response.text)}",
                status,
            )

    def json(self, response: httpx.Response, what: str) -> Any:
        try:
            return json.loads(response.content)
        except ValueError:
            raise PayloadError(
                self.connector, f"response is not JSON: {_excerpt(response.text)}", what
            ) from None

    def _backoff(self, attempt: int) -> float:
        return float(min(self.retry.max_backoff, self.retry.backoff * 2 ** (attempt - 1)))


def retry_after(value: str | None, default: float) -> float:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return default
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
