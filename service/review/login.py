"""Signing in and out of the desk (OWASP Authentication and Session Management cheat sheets)."""
from __future__ import annotations

import secrets
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import DeskSessionsDep, StorageDep
from service.auth import policy
from service.auth.guard import access_event, write_events
from service.errors import ApiError
from service.review import accounts
from service.review.auth import COOKIE, CSRF_FIELD, LOGIN_COOKIE, cookie_options, desk_principal, now_utc
from service.review.web import page, parse_form, problem_page, read_form, secure
from service.storage.db import Storage
from service.web.sessions import check_csrf

router = APIRouter(tags=["reviewer desk"])
REFUSED = ("Sign-in refused: the username or password is wrong, or the account is locked "
           f"for {accounts.LOCKOUT.seconds // 60} minutes after {accounts.MAX_FAILURES} failed attempts.")
STALE = "The sign-in form was stale or not ours: please try again."


def safe_next(target: str) -> str:
    """Only a path on this site (no scheme, host or protocol-relative //): no open redirect."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else ""


def login_form(request: Request, status: int = 200, error: str = "", target: str = "") -> Response:
    token = secrets.token_urlsafe(32)
    response = page(request, "review/login.html", status, csrf=token, error=error, next=safe_next(target))
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, **cookie_options(request))
    return response


@router.get("/review/login", include_in_schema=False)
async def show_login(request: Request, next: str = ""):
    """The sign-in form with a fresh double-submit CSRF token."""
    return login_form(request, target=next)


@router.post("/review/login", include_in_schema=False)
async def sign_in(request: Request, storage: StorageDep, sessions: DeskSessionsDep):
    """Check the form's CSRF token and the password; on success a new session (never a reused id)."""
    try:
        fields = {k: v[0] for k, v in (await parse_form(request, 20)).items()}
        check_csrf(request.cookies.get(LOGIN_COOKIE, ""), fields.get(CSRF_FIELD, ""))  # double-submit
    except ApiError as exc:
        return login_form(request, exc.status, STALE if exc.status == 403 else "The form could not be read.")
    now = now_utc()
    account = await run_in_threadpool(accounts.authenticate, storage, fields.get("username", ""),
                                      fields.get("password", ""), now)
    claimed = fields.get("username", "").strip().lower()[:64] or "anonymous"
    if account is None:
        await record_sign_in(storage, claimed, 401, "desk sign-in refused")
        return login_form(request, 401, REFUSED, fields.get("next", ""))
    await record_sign_in(storage, account.username, 200, f"desk sign-in ({account.role})")
    # a new id at sign-in, the one the browser had before ended in the same write (session fixation)
    cookie = await run_in_threadpool(partial(sessions.open, reviewer_id=account.id,
                                             replacing=request.cookies.get(COOKIE), now=now))
    target = safe_next(fields.get("next", "")) or policy.HOME[account.role]
    response = secure(RedirectResponse(target, status_code=303))
    response.set_cookie(COOKIE, cookie, max_age=int(sessions.rules.lifetime.total_seconds()), **cookie_options(request))
    response.delete_cookie(LOGIN_COOKIE, **cookie_options(request))
    return response


async def record_sign_in(storage: Storage, username: str, status: int, detail: str) -> None:
    """A sign-in, allowed or refused, in the access trail (issue 20); the name as typed, never the password."""
    event = access_event(None, "E", "session", None, status, "/review/login", detail=detail)
    await write_events(storage, [event | {"agent": username}])


@router.post("/review/logout", include_in_schema=False)
async def sign_out(request: Request, sessions: DeskSessionsDep):
    """End the session on the server (CSRF-checked), then forget the cookie."""
    try:
        reviewer = await run_in_threadpool(desk_principal, request)
        await read_form(request, reviewer)
    except ApiError as exc:
        if exc.status == 401:
            return secure(RedirectResponse("/review/login", status_code=303))
        return problem_page(request, exc.status, "Not signed out", exc.message)
    await run_in_threadpool(sessions.end, request.cookies.get(COOKIE))
    response = secure(RedirectResponse("/review/login", status_code=303))
    response.delete_cookie(COOKIE, **cookie_options(request))
    return response


@router.get("/review/session")
def read_session(request: Request):
    """Who is signed in and the CSRF token a system sends as X-CSRF-Token on POST (401 otherwise)."""
    reviewer = desk_principal(request)
    return JSONResponse({"username": reviewer.username, "role": reviewer.role, "csrfToken": reviewer.csrf},
                        headers={"Cache-Control": "no-store"})

