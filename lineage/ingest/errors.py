"""Connector errors, all under lineage's root so the CLI prints them as one line.

LineageError
└── ConnectorError          carries ``connector``; ``transient`` says whether to retry later
    ├── TransientError      429 past its patience, 5xx after retries, network: retry later
    ├── AuthError           credentials rejected (401/403): names the setting to fix
    ├── RequestError        any other 4xx: the request itself is wrong
    ├── PayloadError        a response or record that is not what the vendor documents;
    │                       names the resource and the record
    └── SignatureError      a webhook whose signature is missing, forged or stale
"""

from __future__ import annotations

from lineage.edge.scrub import scrub
from lineage.errors import LineageError


class ConnectorError(LineageError):
    """Its message quotes vendors' answers and records: scrubbed, since it is printed,
    logged and may become an erasure task's reason."""

    transient = False

    def __init__(self, connector: str, message: str) -> None:
        super().__init__(f"{connector}: {scrub(message)}")
        self.connector = connector


class TransientError(ConnectorError):
    transient = True
    exit_code = 3

    def __init__(self, connector: str, message: str, status: int | None = None) -> None:
        super().__init__(connector, message)
        self.status = status


class AuthError(ConnectorError):
    exit_code = 2

    def __init__(self, connector: str, status: int, setting: str, where: str) -> None:
        what = "rejected the credentials" if status == 401 else "refused access"
        super().__init__(
            connector,
            f"the API {what} (HTTP {status}): check the setting {setting!r} ({where})",
        )
        self.status = status
        self.setting = setting


class RequestError(ConnectorError):
    def __init__(self, connector: str, message: str, status: int) -> None:
        super().__init__(connector, message)
        self.status = status


class PayloadError(ConnectorError):
    def __init__(self, connector: str, problem: str, record: str | None = None) -> None:
        where = f"{record}: " if record else ""
        super().__init__(connector, f"{where}{problem}")
        self.record = record
        self.problem = scrub(problem)


class SignatureError(ConnectorError):
    def __init__(self, connector: str, reason: str) -> None:
        super().__init__(connector, f"webhook rejected: {reason}")
        self.reason = reason
