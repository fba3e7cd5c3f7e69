"""Send run events to an OpenLineage HTTP endpoint (Marquez's ``/api/v1/lineage``) with the
OpenLineage client's own transport, so the endpoint, headers and retries are the client's."""

from __future__ import annotations

from typing import Any

from lineage.errors import ExportError

# Retried on what a busy server answers; a refusal (4xx) is final.
_RETRY = {
    "total": 3,
    "read": 3,
    "connect": 3,
    "backoff_factor": 0.3,
    "status_forcelist": [429, 500, 502, 503, 504],
    "allowed_methods": ["POST"],
}


def post(events: list[Any], url: str, timeout: float) -> None:
    """POST each event in order. Run ids are stable for one export window, so after a failure
    sending the same export again updates the runs already sent instead of doubling them."""
    import requests
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    if not url.startswith(("http://", "https://")):
        raise ExportError(f"--url must be an http(s) URL, not {url!r}", exit_code=2)
    transport = HttpTransport(HttpConfig(url=url, timeout=timeout, retry=dict(_RETRY)))
    try:
        for sent, event in enumerate(events):
            try:
                transport.emit(event)
            except requests.RequestException as exc:
                raise ExportError(
                    f"{url}: {_reason(exc)} after {sent} of {len(events)} events were accepted "
                    "(sending again is safe: run ids are stable)"
                ) from None
    finally:
        transport.close()


def _reason(exc: Any) -> str:
    import re

    response = getattr(exc, "response", None)
    if response is not None:
        return f"HTTP {response.status_code} {response.reason}".strip()
    status = re.search(r"too many (\d+) error responses", str(exc))
    if status:
        return f"HTTP {status.group(1)} ({_RETRY['total']} retries)"
    return f"cannot connect ({type(exc).__name__})"
