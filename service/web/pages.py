"""Pages: one template set, security headers on every page (CSP Level 3, no framing), problem pages.

Two content policies, both 'self' only (nothing from a CDN): the desk's, with no inline style at all,
and the DTR form's, which allows inline style attributes because LHC-Forms writes them at run time.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
STRICT = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
          "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
FORM = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Referrer-Policy": "no-referrer"}


def when(value: datetime | None) -> str:
    """A stored time as people read it, in UTC."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


TEMPLATES.env.filters["when"] = when


def secure(response: Response, csp: str = STRICT) -> Response:
    """The security headers every page and redirect carries."""
    response.headers.update({"Content-Security-Policy": csp, **HEADERS})
    return response


def page(request: Request, name: str, status: int = 200, *, csp: str = STRICT, **context) -> HTMLResponse:
    """A template rendered with the security headers."""
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status)
    secure(response, csp)
    return response


def problem_page(request: Request, status: int, title: str, message: str, *, template: str = "problem.html",
                 csp: str = STRICT, **context) -> HTMLResponse:
    """A page saying what went wrong and what to do, with the status it stands for."""
    return page(request, template, status, csp=csp, title=title, message=message, **context)


def redirect(url: str) -> Response:
    """303 See Other to a path on this site, with the security headers."""
    return secure(RedirectResponse(url, status_code=303))


class SignInFirst(Exception):
    """Raised by a page whose visitor has no session: answered as a redirect to `sign_in` (see html_errors)."""

    def __init__(self, sign_in: str):
        super().__init__(sign_in)
        self.sign_in = sign_in


class PageRefused(Exception):
    """Raised by a page that may not be shown to this visitor: answered as a problem page (see install)."""

    def __init__(self, status: int, title: str, message: str, template: str = "problem.html", **context):
        super().__init__(message)
        self.status, self.title, self.message, self.template, self.context = status, title, message, template, context


def install(app) -> None:
    """Register the HTML error handlers: SignInFirst becomes its redirect, PageRefused its problem page."""

    async def to_sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInFirst)
        return redirect(exc.sign_in)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        return problem_page(request, exc.status, exc.title, exc.message, template=exc.template, **exc.context)

    app.add_exception_handler(SignInFirst, to_sign_in)
    app.add_exception_handler(PageRefused, refused)
