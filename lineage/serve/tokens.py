"""API tokens: ``lineage token create|list|revoke`` and the service's bearer check.

A token is 32 random bytes (URL-safe text), shown once when created. The home keeps only
its SHA-256 in ``tokens.json`` (mode 0600), so reading the file does not give access. A
presented token is hashed and compared with every stored hash in constant time.

Scopes: ``read`` (answers), ``ingest`` (``POST /v1/events``), ``rights`` (erase, confirm,
extend, rectify, restrict), ``admin`` (everything).

The file is rewritten whole (temporary file, fsync, rename) under a file lock, by the CLI
and by the service (which records when a token was last used, at most once a minute), so
neither loses the other's change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from filelock import FileLock

from lineage.errors import ConfigError, InputError
from lineage.timeutil import now

SCOPES = ("read", "ingest", "rights", "admin")
TOKENS_FILE = "tokens.json"
PREFIX = "lin_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# How often the service writes last-used times (a write per request would cost an fsync).
LAST_USED_EVERY = 60.0


@dataclass(frozen=True)
class Token:
    name: str
    scope: str
    sha256: str
    created: str
    last_used: str | None = None

    def allows(self, scope: str) -> bool:
        return self.scope in (scope, "admin")

    def public(self) -> dict[str, Any]:
        """Everything but the hash."""
        return {k: v for k, v in asdict(self).items() if k != "sha256"}


def _stamp() -> str:
    return now().strftime("%Y-%m-%dT%H:%M:%SZ")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenFile:
    def __init__(self, home: Path) -> None:
        self.path = home / TOKENS_FILE
        self._lock = FileLock(str(home / (TOKENS_FILE + ".lock")))

    def load(self) -> list[Token]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        try:
            return [Token(**t) for t in json.loads(text)["tokens"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{self.path} is not a token file ({exc})") from None

    def _save(self, tokens: list[Token]) -> None:
        data = json.dumps({"tokens": [asdict(t) for t in tokens]}, indent=2).encode()
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{TOKENS_FILE}.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def create(self, scope: str, name: str | None = None) -> tuple[Token, str]:
        """A new token: (its record, the secret text to hand out once)."""
        if scope not in SCOPES:
            raise InputError(f"unknown scope {scope!r}: one of {', '.join(SCOPES)}", "--scope")
        secret = PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            tokens = self.load()
            names = {t.name for t in tokens}
            if name is None:
                name = next(
                    f"{scope}-{i}" for i in range(1, len(tokens) + 2) if f"{scope}-{i}" not in names
                )
            if not _NAME.match(name):
                raise InputError(
                    f"token name {name!r}: letters, digits, '.', '_' or '-', at most 64", "--name"
                )
            if name in names:
                raise InputError(f"a token named {name!r} exists: revoke it first", "--name")
            token = Token(name, scope, digest(secret), _stamp())
            self._save([*tokens, token])
        return token, secret

    def revoke(self, name: str) -> None:
        with self._lock:
            tokens = self.load()
            kept = [t for t in tokens if t.name != name]
            if len(kept) == len(tokens):
                from lineage.services.names import require_known

                require_known(name, [t.name for t in tokens], "token", "NAME")
            self._save(kept)

    def touch(self, used: dict[str, str]) -> None:
        """Record last-used times (by name) of tokens that still exist."""
        with self._lock:
            tokens = self.load()
            self._save([replace(t, last_used=used.get(t.name, t.last_used)) for t in tokens])


class Verifier:
    """The service's view of the token file: re-read when it changes (a revoked token stops
    working at its next request), last-used times written at most once a minute."""

    def __init__(self, home: Path) -> None:
        self.file = TokenFile(home)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._tokens: list[Token] = []
        self._used: dict[str, str] = {}
        self._flushed = time.monotonic()

    def _current(self) -> list[Token]:
        try:
            st = self.file.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = (0, 0)
        with self._lock:
            if stamp != self._stamp:
                self._tokens = self.file.load()
                self._stamp = stamp
            return self._tokens

    def check(self, presented: str) -> Token | None:
        """The token ``presented`` is, or None."""
        wanted = digest(presented)
        found = None
        for token in self._current():
            if hmac.compare_digest(token.sha256, wanted):
                found = token
        if found is not None:
            self._used[found.name] = _stamp()
            if time.monotonic() - self._flushed > LAST_USED_EVERY:
                self.flush()
        return found

    def known(self, sha256: str) -> Token | None:
        """The token whose hash is ``sha256``, while it exists (web sessions keep the hash,
        never the token)."""
        for token in self._current():
            if hmac.compare_digest(token.sha256, sha256):
                return token
        return None

    def flush(self) -> None:
        with self._lock:
            used, self._used = self._used, {}
            self._flushed = time.monotonic()
        if used:
            self.file.touch(used)
