"""The signed-in reviewer: a database session behind an HttpOnly, SameSite=Strict cookie, plus CSRF.

`current_reviewer` is the one dependency every desk route and the reviewer API call; it raises
401 (no session) or lets a caller through as a Reviewer. OWASP Session Management and CSRF
Prevention cheat sheets: random tokens, server-side state, a per-session synchronizer token.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request

from service.auth.scopes import permits
from service.auth.tokens import read_token
from service.errors import forbidden, unauthorized
from service.review import accounts

COOKIE = "pa_review"
LOGIN_COOKIE = "pa_review_login"  # the sign-in form's double-submit CSRF token
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Reviewer:
    """A person signed in to the desk: who, in which role, and the CSRF token of their session."""

    username: str
    role: str
    npi: str | None
    csrf: str

    def can(self, permission: str) -> bool:
        return accounts.allows(self.role, permission)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# A backend system with this scope reviews through the JSON API as a nurse reviewer would: it may
# approve or ask for information; a denial needs a physician signed in to the desk.
SYSTEM_SCOPE = ("ClaimResponse", "u")
SYSTEM_ROLE = "nurse-reviewer"
NO_CSRF = ""  # bearer-token callers send no cookies, so there is nothing to forge


def current_reviewer(request: Request) -> Reviewer:
    """The reviewer whose session cookie this request carries, or a backend system whose SMART
    access token grants system/ClaimResponse.u (issue 14: no shared secret); 401 otherwise."""
    bearer = request.headers.get("authorization", "")
    if bearer.lower().startswith("bearer ") and not request.cookies.get(COOKIE):
        caller = read_token(bearer[7:].strip(), str(request.app.state.token_secret),
                            request.app.state.settings.public_base_url)
        if caller is None:
            raise unauthorized("the access token is not valid here (unknown, tampered or expired)")
        if not permits(list(caller.scopes), *SYSTEM_SCOPE):
            raise forbidden("the token's scopes do not allow this: it needs system/ClaimResponse.u")
        return Reviewer(f"system:{caller.client_id}", SYSTEM_ROLE, None, NO_CSRF)
    token = request.cookies.get(COOKIE)
    found = accounts.resume_session(request.app.state.storage, token, now_utc()) if token else None
    if found is None:
        raise unauthorized("sign in to the reviewer desk first (POST /review/login); the session may have expired")
    return Reviewer(found.username, found.role, found.npi, found.csrf)


def require(reviewer: Reviewer, permission: str) -> Reviewer:
    """403 unless the reviewer's role allows the permission."""
    if not reviewer.can(permission):
        raise forbidden(f"the {reviewer.role} role may not {permission.replace('-', ' ')}")
    return reviewer


def check_csrf(reviewer: Reviewer, token: str | None) -> None:
    """403 unless a POST carries this session's CSRF token (form field or X-CSRF-Token header)."""
    if reviewer.csrf == NO_CSRF and reviewer.username.startswith("system:"):
        return  # a bearer-token call carries no ambient credentials for a forged request to ride on
    if not token or not secrets.compare_digest(token.encode(), reviewer.csrf.encode()):
        raise forbidden("the CSRF token is missing or wrong: reload the page and try again")


def cookie_options(request: Request) -> dict:
    """HttpOnly, SameSite=Strict, Secure when the service is served over https."""
    secure = request.app.state.settings.public_base_url.startswith("https://")
    return {"httponly": True, "samesite": "strict", "secure": secure, "path": "/"}
