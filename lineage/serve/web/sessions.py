"""Sessions of the web UI: a token exchanged once for a server-side session.

The cookie holds only a random session id, signed (itsdangerous) with a key that lives as
long as the process, so a forged or altered cookie is refused before any lookup. The token
itself is never stored: the session keeps the token's name and the SHA-256 the token file
keeps, and every request checks that the token still exists (a revoked token ends its
sessions at once). Each session has its own CSRF token, checked on every POST; logging in
replaces the session (a session id planted before login is worth nothing after it).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeTimedSerializer

from lineage.serve.tokens import Token, Verifier

COOKIE = "lineage_session"
# A DPO's working day; an idle session ends sooner.
MAX_AGE = 8 * 3600
IDLE = 3600
MAX_SESSIONS = 10_000


@dataclass
class Session:
    sid: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    lang: str = "en"
    token_name: str | None = None
    token_sha256: str | None = None
    created: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf, str(presented))


class Sessions:
    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier
        self._signer = URLSafeTimedSerializer(secrets.token_bytes(32), salt="lineage-web")
        self._lock = threading.Lock()
        self._by_id: dict[str, Session] = {}

    def new(self, lang: str = "en") -> Session:
        session = Session(secrets.token_urlsafe(32), lang=lang)
        with self._lock:
            self._expire()
            if len(self._by_id) >= MAX_SESSIONS:  # the oldest anonymous ones go first
                oldest = sorted(self._by_id.values(), key=lambda s: (bool(s.token_name), s.seen))
                for s in oldest[: len(oldest) // 10 + 1]:
                    del self._by_id[s.sid]
            self._by_id[session.sid] = session
        return session

    def cookie(self, session: Session) -> str:
        return self._signer.dumps(session.sid)

    def find(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            sid = self._signer.loads(cookie, max_age=MAX_AGE)
        except BadSignature:
            return None
        with self._lock:
            session = self._by_id.get(sid)
            now = time.monotonic()
            if session is None or now - session.seen > IDLE or now - session.created > MAX_AGE:
                self._by_id.pop(sid, None)
                return None
            session.seen = now
            return session

    def login(self, old: Session, presented: str) -> Session | None:
        """A new signed-in session for a valid token (the old one ends), or None."""
        token = self.verifier.check(presented.strip())
        if token is None:
            return None
        self.end(old)
        session = self.new(old.lang)
        session.token_name, session.token_sha256 = token.name, token.sha256
        return session

    def token(self, session: Session) -> Token | None:
        """The session's token if it is still valid."""
        if session.token_sha256 is None:
            return None
        return self.verifier.known(session.token_sha256)

    def end(self, session: Session) -> None:
        with self._lock:
            self._by_id.pop(session.sid, None)

    def _expire(self) -> None:
        now = time.monotonic()
        for sid, s in list(self._by_id.items()):
            if now - s.seen > IDLE or now - s.created > MAX_AGE:
                del self._by_id[sid]
