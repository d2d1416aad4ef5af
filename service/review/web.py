"""The desk's HTML: templates, security headers (CSP Level 3, no inline script), forms with CSRF."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from service.errors import ApiError, bad_request, too_large
from service.review.auth import CSRF_FIELD, Reviewer, check_csrf, current_reviewer, require

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
# Everything from this origin, nothing inline but SVG markup; no framing (clickjacking).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
           "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
FORM_LIMIT = 64 * 1024


def when(value: datetime | None) -> str:
    """A stored time as people read it, in UTC."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


templates.env.filters["when"] = when


def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(HEADERS)
    return response


def problem_page(request: Request, status: int, title: str, message: str,
                 reviewer: Reviewer | None = None) -> HTMLResponse:
    return page(request, "review/problem.html", status, title=title, message=message, reviewer=reviewer)


def secure(response: Response) -> Response:
    response.headers.update(HEADERS)
    return response


def to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return secure(RedirectResponse(f"/review/login?next={quote(target, safe='')}", status_code=303))


async def signed_in(request: Request, permission: str) -> Reviewer | Response:
    """The reviewer allowed `permission`, or the page to show instead (sign-in, or 403)."""
    try:
        reviewer = await run_in_threadpool(current_reviewer, request)
    except ApiError:
        return to_login(request)
    try:
        return require(reviewer, permission)
    except ApiError as refused:
        return problem_page(request, 403, "Not allowed", refused.message, reviewer)


async def parse_form(request: Request, max_fields: int = 200) -> dict[str, list[str]]:
    """A posted form's text fields (64 KiB at most, no files); 400/413 as ApiError."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > FORM_LIMIT:
        raise too_large("the form is larger than 64 KiB")
    try:
        form = await request.form(max_files=0, max_fields=max_fields)
    except HTTPException as exc:  # a malformed body: Starlette's 400, shown as a page
        raise bad_request(str(exc.detail)) from None
    fields: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(key, []).append(value)
    return fields


async def read_form(request: Request, reviewer: Reviewer) -> dict[str, list[str]]:
    """A posted form's fields, after its CSRF token is checked (403 otherwise)."""
    fields = await parse_form(request)
    check_csrf(reviewer, first(fields, CSRF_FIELD))
    return fields


def first(fields: dict[str, list[str]], name: str) -> str:
    return (fields.get(name) or [""])[0]
