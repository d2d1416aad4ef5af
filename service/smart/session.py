"""Server-side SMART sessions: tokens never reach the browser, only a signed random id does."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time


class SessionStore:
    """In-process store (one worker per app instance, or sticky sessions; see README)."""

    def __init__(self, secret: str, ttl_seconds: int):
        self.secret, self.ttl = secret.encode(), ttl_seconds
        self.data: dict[str, tuple[float, dict]] = {}
        self.lock = threading.Lock()

    def sign(self, sid: str) -> str:
        return f"{sid}.{hmac.new(self.secret, sid.encode(), hashlib.sha256).hexdigest()}"

    def unsign(self, cookie: str | None) -> str | None:
        sid, _, mac = (cookie or "").partition(".")
        good = hmac.new(self.secret, sid.encode(), hashlib.sha256).hexdigest()
        return sid if sid and hmac.compare_digest(mac, good) else None

    def create(self, values: dict) -> str:
        sid = secrets.token_urlsafe(32)
        with self.lock:
            now = time.time()
            self.data = {k: v for k, v in self.data.items() if v[0] > now}  # drop expired ones
            self.data[sid] = (now + self.ttl, {**values, "csrf": secrets.token_urlsafe(24)})
        return sid

    def get(self, cookie: str | None) -> dict | None:
        sid = self.unsign(cookie)
        with self.lock:
            entry = self.data.get(sid) if sid else None
            if not entry or entry[0] < time.time():
                return None
            return entry[1]
