"""The signed-in reviewer: a web-kit session (service/web/sessions.py) behind an HttpOnly, SameSite=Strict
cookie, plus CSRF.

`desk_principal` is what every desk page and form calls (a session only); `api_principal` is the
reviewer API's (a session, or a payer client's token). Both raise 401 or return a Principal. OWASP Session Management and CSRF
Prevention cheat sheets: random tokens, server-side state, a per-session synchronizer token.
"""
from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request

from service.api.deps import get_desk_sessions, get_settings, get_token_secret
from service.auth import policy
from service.auth.policy import Principal
from service.auth.tokens import read_token
from service.errors import unauthorized
from service.web import sessions

COOKIE = "pa_review"
LOGIN_COOKIE = "pa_review_login"  # the sign-in form's double-submit CSRF token
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


Reviewer = Principal  # a person signed in to the desk, or (reviewer API only) a payer's system


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def desk_principal(request: Request) -> Principal:
    """The person whose desk session cookie this request carries; 401 otherwise. The desk's pages and
    forms take a session only, never a bearer token (issue 20): no ambient credential but the cookie."""
    found = get_desk_sessions(request).get(request.cookies.get(COOKIE))
    if found is None or found.account is None:
        raise unauthorized("sign in to the reviewer desk first (POST /review/login); the session may have expired")
    person = found.account
    principal = policy.with_rules(Principal(person.role, person.username, None, (), person.npi, found.csrf),
                                  get_settings(request).um_rules)
    request.scope.setdefault("state", {})["principal"] = principal  # the access trail names who was refused
    return principal


def api_principal(request: Request) -> Principal:
    """The reviewer API's caller: a desk session, or a SMART access token of a payer client (a provider's
    token is refused by the permission table, whatever its scopes)."""
    bearer = request.headers.get("authorization", "")
    if bearer.lower().startswith("bearer ") and not request.cookies.get(COOKIE):
        settings = get_settings(request)
        caller = read_token(bearer[7:].strip(), str(get_token_secret(request)), settings.public_base_url)
        if caller is None:
            raise unauthorized("the access token is not valid here (unknown, tampered or expired)")
        caller = policy.with_rules(caller, settings.um_rules)
        request.scope.setdefault("state", {})["principal"] = caller
        return caller
    return desk_principal(request)


def require(principal: Principal, permission: str) -> Principal:
    """403 unless the permission table lets the principal do this (service/auth/policy.py)."""
    return policy.require(principal, permission)


def check_csrf(principal: Principal, token: str | None) -> None:
    """403 unless a person's POST carries their session's CSRF token (form field or X-CSRF-Token header).
    A client's bearer token is no ambient credential, so there is nothing for a forged request to ride on."""
    if principal.is_person:
        sessions.check_csrf(principal.csrf, token)


def cookie_options(request: Request) -> dict:
    """HttpOnly, SameSite=Strict, Secure when the service is served over https."""
    secure = get_settings(request).public_base_url.startswith("https://")
    return {"httponly": True, "samesite": "strict", "secure": secure, "path": "/"}
