"""SMART app sessions in the database: tokens never reach the browser, only a signed random id does,
and any worker behind a load balancer serves any request (SMART App Launch 2.x; no sticky sessions)."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from service.storage.access import delete_session, load_session, save_session


class SessionStore:
    """Sessions keyed by the SHA-256 of their id (a stolen table row is no cookie), signed with a
    secret every worker shares."""

    def __init__(self, storage, secret: object, ttl_seconds: int):
        self.storage, self.ttl = storage, ttl_seconds
        self._secret = secret  # a str, or a LazySecret read from the database on first use

    @property
    def secret(self) -> bytes:
        return str(self._secret).encode()

    def sign(self, sid: str) -> str:
        return f"{sid}.{hmac.new(self.secret, sid.encode(), hashlib.sha256).hexdigest()}"

    def unsign(self, cookie: str | None) -> str | None:
        sid, _, mac = (cookie or "").partition(".")
        if not sid or not sid.isascii() or not mac.isascii():
            return None
        good = hmac.new(self.secret, sid.encode(), hashlib.sha256).hexdigest()
        return sid if hmac.compare_digest(mac, good) else None

    @staticmethod
    def key(sid: str) -> str:
        return hashlib.sha256(sid.encode()).hexdigest()

    def create(self, values: dict) -> str:
        """A new session holding `values` and a fresh CSRF token; its (unsigned) id."""
        sid = secrets.token_urlsafe(32)
        save_session(self.storage, self.key(sid), time.time() + self.ttl, {**values, "csrf": secrets.token_urlsafe(24)})
        return sid

    def get(self, cookie: str | None) -> dict | None:
        sid = self.unsign(cookie)
        return load_session(self.storage, self.key(sid)) if sid else None

    def save(self, cookie: str | None, data: dict) -> None:
        """Write back a session the request changed (its lifetime starts again)."""
        sid = self.unsign(cookie)
        if sid:
            save_session(self.storage, self.key(sid), time.time() + self.ttl, data)

    def rotate(self, cookie: str | None, data: dict) -> str:
        """A new id for the same session (at login: the id a pre-login visitor saw is worthless)."""
        sid = self.unsign(cookie)
        if sid:
            delete_session(self.storage, self.key(sid))
        new = secrets.token_urlsafe(32)
        save_session(self.storage, self.key(new), time.time() + self.ttl,
                     {**data, "csrf": secrets.token_urlsafe(24)})
        return new
