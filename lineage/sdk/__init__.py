"""The Python SDK for applications: record personal-data events, ask the answers.

- ``Recorder(home=...)``: embedded; writes to the home's log (file or Kafka) through the same
  edge as ``lineage emit`` (pseudonymise, validate, scrub), in batches.
- ``Client(url, token)``: remote; the same methods over ``lineage serve`` (``POST
  /v1/events``), plus the read and rights calls.

Both are imported on first use: ``Client`` pulls in httpx, ``Recorder`` the codec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lineage.sdk.client import Client, ServiceError
    from lineage.sdk.recorder import Recorder

__all__ = ["Client", "Recorder", "ServiceError"]


def __getattr__(name: str) -> Any:
    if name == "Recorder":
        from lineage.sdk.recorder import Recorder

        return Recorder
    if name in ("Client", "ServiceError"):
        from lineage.sdk import client

        return getattr(client, name)
    raise AttributeError(f"module 'lineage.sdk' has no attribute {name!r}")
