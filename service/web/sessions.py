"""One session store for the server-rendered apps (issue 27): the SMART app and the reviewer desk.

The browser holds only a signed random id; the database holds its SHA-256, the CSRF token and the
session's data, so any worker serves any request and signing out, or locking an account, ends a session
at once (OWASP Session Management and CSRF Prevention cheat sheets; SMART App Launch 2.x, no sticky sessions).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from service.errors import forbidden
from service.storage import sessions as repo
from service.storage.access import LazySecret
from service.storage.db import Storage

TOUCH_EVERY = timedelta(minutes=1)  # an idle clock is written at most once a minute per session
STALE = "the CSRF token is missing or wrong: reload the page and try again"


@dataclass(frozen=True)
class Rules:
    """When an app's sessions end: `lifetime` after sign-in (or after the last save, with renew_on_save),
    or after `idle` without a request."""

    app: str  # "smart" | "desk"
    lifetime: timedelta
    idle: timedelta | None = None
    renew_on_save: bool = False


DESK = Rules("desk", lifetime=timedelta(hours=10), idle=timedelta(minutes=30))  # a shift; idle half an hour


def smart_rules(minutes: int) -> Rules:
    """The SMART app's: SMART_SESSION_MINUTES after the last change (every page the clinician uses saves)."""
    return Rules("smart", lifetime=timedelta(minutes=minutes), renew_on_save=True)


@dataclass(frozen=True)
class Visit:
    """A live session as a request sees it; `data` is the store's to write back with save()."""

    csrf: str
    data: dict = field(default_factory=dict)
    account: repo.Account | None = None
    last_seen: datetime | None = None


def now_utc() -> datetime:
    return datetime.now(UTC)


def tokens_match(expected: str | None, given: str | None) -> bool:
    """A CSRF synchronizer or double-submit check (OWASP CSRF cheat sheet), in constant time."""
    return bool(expected) and bool(given) and secrets.compare_digest(str(given).encode(), str(expected).encode())


def check_csrf(expected: str | None, given: str | None, message: str = STALE) -> None:
    """403 unless a POST carries the token its session (or its sign-in form) was given: the one CSRF check
    of both apps, whether the token came as a form field or an X-CSRF-Token header."""
    if not tokens_match(expected, given):
        raise forbidden(message)


class SessionStore:
    """One app's sessions (its Rules), signed with a secret every worker shares."""

    def __init__(self, storage: Storage, secret: object, rules: Rules):
        self.storage, self.rules = storage, rules
        self._secret = secret  # a str, or a LazySecret read from the database on first use

    def sign(self, sid: str) -> str:
        return f"{sid}.{self._mac(sid)}"

    def unsign(self, cookie: str | None) -> str | None:
        sid, _, mac = (cookie or "").partition(".")
        if not sid or not sid.isascii() or not mac.isascii():
            return None
        return sid if hmac.compare_digest(mac, self._mac(sid)) else None

    def _mac(self, sid: str) -> str:
        return hmac.new(str(self._secret).encode(), sid.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def key(sid: str) -> str:
        """What the database keeps of an id: its SHA-256 (a stolen table row is no cookie)."""
        return hashlib.sha256(sid.encode()).hexdigest()

    def open(self, data: dict | None = None, *, reviewer_id: int | None = None, replacing: str | None = None,
             now: datetime | None = None) -> str:
        """A new session with a fresh id and CSRF token; the cookie value. `replacing` (the old cookie) ends
        in the same write: at sign-in the id a visitor had before is worthless (session fixation)."""
        now = now or now_utc()
        sid, old = secrets.token_urlsafe(32), self.unsign(replacing)
        repo.open_session(self.storage, self.key(sid), app=self.rules.app, csrf=secrets.token_urlsafe(32),
                          data=data or {}, now=now, expires_at=now + self.rules.lifetime, reviewer_id=reviewer_id,
                          replacing=self.key(old) if old else None)
        return self.sign(sid)

    def get(self, cookie: str | None, now: datetime | None = None) -> Visit | None:
        """The live session behind a cookie, or None: forged, another app's, expired, idle too long, or its
        account disabled or locked."""
        sid = self.unsign(cookie)
        found = repo.load_session(self.storage, self.key(sid)) if sid else None
        if sid is None or found is None or found.app != self.rules.app:
            return None
        now = now or now_utc()
        idle = now - found.last_seen
        if found.expires_at <= now or (self.rules.idle is not None and idle > self.rules.idle):
            return None
        account = found.account
        if account is not None and (not account.active or (account.locked_until or now) > now):
            return None
        if self.rules.idle is not None and idle > TOUCH_EVERY:
            repo.touch_session(self.storage, self.key(sid), now)
        return Visit(found.csrf, dict(found.data), account, found.last_seen)

    def save(self, cookie: str | None, data: dict, now: datetime | None = None) -> None:
        """Write back a session the request changed (with renew_on_save its lifetime starts again)."""
        sid = self.unsign(cookie)
        if sid:
            now = now or now_utc()
            repo.save_data(self.storage, self.key(sid), data, now,
                           now + self.rules.lifetime if self.rules.renew_on_save else None)

    def end(self, cookie: str | None) -> None:
        """Sign out: the session is gone on the server, whatever the browser keeps."""
        sid = self.unsign(cookie)
        if sid:
            repo.close_session(self.storage, self.key(sid))


@dataclass(frozen=True)
class WebSessions:
    smart: SessionStore
    desk: SessionStore


def start_sessions(app) -> WebSessions:
    """Both apps' stores, signed with SESSION_SECRET or the shared `smart-session` secret (app.state.web_sessions)."""
    settings, storage = app.state.settings, app.state.storage
    secret = settings.session_secret or LazySecret(storage, "smart-session")
    app.state.web_sessions = WebSessions(SessionStore(storage, secret, smart_rules(settings.smart_session_minutes)),
                                         SessionStore(storage, secret, DESK))
    return app.state.web_sessions
