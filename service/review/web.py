"""The desk's use of the web kit (service/web/): its pages, the sign-in redirect, CSRF-checked forms."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from service.errors import ApiError
from service.review.auth import CSRF_FIELD, Reviewer, check_csrf, desk_principal, require
from service.web import pages
from service.web.forms import first, parse_form
from service.web.pages import secure

# The headers the report's JSON and CSV answers carry too (no caching of patient-derived numbers).
HEADERS = {"Content-Security-Policy": pages.STRICT, **pages.HEADERS}
__all__ = ["HEADERS", "first", "login_url", "page", "parse_form", "problem_page", "read_form", "secure", "signed_in"]


def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    """A desk page: the strict content policy (no script, no inline style)."""
    return pages.page(request, name, status, **context)


def problem_page(request: Request, status: int, title: str, message: str,
                 reviewer: Reviewer | None = None) -> HTMLResponse:
    return pages.problem_page(request, status, title, message, template="review/problem.html", reviewer=reviewer)


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/review/login?next={quote(target, safe='')}"


async def signed_in(request: Request, permission: str) -> Reviewer:
    """The reviewer allowed `permission`; else SignInFirst (to the sign-in page) or PageRefused (403),
    which the web kit's handlers answer (service/web/pages.py install)."""
    try:
        reviewer = await run_in_threadpool(desk_principal, request)
    except ApiError:
        raise pages.SignInFirst(login_url(request)) from None
    try:
        return require(reviewer, permission)
    except ApiError as refused:
        raise pages.PageRefused(403, "Not allowed", refused.message, template="review/problem.html",
                                reviewer=reviewer) from None


async def read_form(request: Request, reviewer: Reviewer) -> dict[str, list[str]]:
    """A posted form's fields, after its CSRF token is checked (403 otherwise)."""
    fields = await parse_form(request)
    check_csrf(reviewer, first(fields, CSRF_FIELD))
    return fields
