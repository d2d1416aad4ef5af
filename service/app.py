"""The ASGI application: settings and declarations validated at start-up, routers from one table."""
from __future__ import annotations

import gc
import importlib
import inspect
import logging
import os
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from service.api.headers import HttpPolicy
from service.auth.guard import AccessGuard
from service.auth.routes import start_auth
from service.config import Settings, get_settings
from service.crd.fastpath import HookFastPath
from service.crd.routes import start_crd
from service.errors import ApiError, Issue, invalid, render, unavailable
from service.fhir.client import HttpClient
from service.logs import RequestIdMiddleware, configure_logging
from service.pas.submit import response_bundle
from service.policies.registry import all_policies
from service.services import AppServices
from service.smart.routes import start_smart
from service.storage.claims import get_response
from service.storage.db import check_database_url
from service.subscriptions.worker import DeliveryPolicy, start_subscriptions
from service.web.pages import install as install_page_handlers

# The route registry: each module exposes `router`. Discovery documents are built from the
# same registries the routes use (crd.services, policies.registry), never from a second list.
# CRD comes first: routes are matched in order and order-sign is the latency-critical path.
ROUTERS = (
    "service.crd.routes",
    "service.api.health",
    "service.api.terminology",
    "service.api.capability",
    "service.api.valuesets",
    "service.dtr.routes",
    "service.pas.routes",
    "service.smart.routes",
    "service.review.routes",
    "service.subscriptions.routes",
    "service.web.docs",
    "service.auth.routes",
)

log = logging.getLogger("service")


def create_app(settings: Settings | None = None, *, transport: httpx.AsyncBaseTransport | None = None,
               delivery: DeliveryPolicy | None = None) -> FastAPI:
    """Build the app; raises at once on bad settings or an unservable policy declaration.

    `transport` replaces the network for every outbound call (tests pass an httpx MockTransport);
    `delivery` replaces the Subscription worker's polling and retry policy (tests pass short intervals).
    """
    settings = settings or load_settings()
    check_data_dir(settings)
    configure_logging(settings.log_level)
    all_policies()  # validate every declaration now, not on the first request

    services = AppServices(settings, HttpClient(timeout=settings.fhir_timeout_seconds, transport=transport),
                           delivery or DeliveryPolicy())

    def render_response(response_id: str) -> dict | None:
        """The PAS response Bundle a full-resource notification carries (None: no such response)."""
        assert services.storage is not None  # started before the worker that calls this
        stored = get_response(services.storage, response_id)
        return response_bundle(settings.public_base_url, stored) if stored else None

    def start_delivery(app) -> None:
        start_subscriptions(app, render_response, services.delivery)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services.start(app, [start_crd, start_auth, start_smart, start_delivery])
        # Everything loaded so far (models, declarations, FHIR classes) lives as long as the
        # process: keep it out of the collector's full passes, which took ~36 ms and showed up
        # as order-sign's p99.
        gc.collect()
        gc.freeze()
        log.info("started", extra={"fields": {"payers": sorted(all_policies()),
                                              "storage": app.state.storage.engine.dialect.name}})
        yield
        services.close(app)

    app = FastAPI(title="Besponsa prior authorization (Da Vinci CRD, DTR, PAS)", redirect_slashes=False,
                  version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  **telemetry_options(settings))
    app.state.settings = settings
    app.state.shutdown_hooks = []
    app.state.services, app.state.http = services, services.http
    for name in ROUTERS:
        app.include_router(importlib.import_module(name).router)
    # The SMART app's own scripts and the vendored LHC-Forms: served by us, never from a CDN.
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    install_error_handlers(app)
    install_page_handlers(app)  # pages: "sign in first" redirects and refusals as problem pages (service/web/)
    app.add_middleware(HookFastPath)  # inside the request-id middleware: hook calls get ids too
    app.add_middleware(AccessGuard)  # patient-data routes: token, scope, access trail
    app.add_middleware(HttpPolicy)  # JSON only for FHIR; security headers on every response
    app.add_middleware(RequestIdMiddleware)
    return app


def telemetry_options(settings: Settings) -> dict:
    """FastAPI's native OpenTelemetry off unless OTEL_ENABLED (FastAPI before 0.164 has none)."""
    if settings.otel_enabled or "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


class SettingsError(SystemExit):
    """Start-up refused: the message names each bad environment variable."""


def check_data_dir(settings: Settings) -> None:
    """The embedded database's folder must be creatable and writable, and DATABASE_URL usable: one line each."""
    if settings.database_url is None:
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(f"invalid settings:\n  DATA_DIR: {str(settings.data_dir)!r} cannot be created "
                                f"({exc.strerror})") from None
        try:  # it may exist and still refuse files (/proc/sys, a read-only mount): try one, as SQLite will
            with tempfile.TemporaryFile(dir=settings.data_dir):
                pass
        except OSError as exc:
            raise SettingsError(f"invalid settings:\n  DATA_DIR: {str(settings.data_dir)!r} is not writable "
                                f"by this user (uid {os.getuid()}: {exc.strerror})") from None
    check_database_url(settings)  # one line saying why a DATABASE_URL cannot be used


def load_settings() -> Settings:
    """Settings from the environment, or a start-up error naming each bad variable."""
    try:
        return get_settings()
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()]
        raise SettingsError("invalid settings:\n" + "\n".join(lines)) from None


def error_response(error: ApiError) -> Response:
    status, data, headers = render(error)
    return Response(data, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as an OperationOutcome rendered by errors.render; defects are caught in
    RequestIdMiddleware (a logged 500 with the request id), so none becomes a determination."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        issues = []
        for e in exc.errors():
            path = ".".join(str(p) for p in e["loc"])
            issues.append(Issue("invalid", f"{path}: {e['msg']}", (path,)))
        return error_response(ApiError(422, tuple(issues)))

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> Response:
        # Never the statement or its parameters (patient data): the type says enough to an operator.
        log.error("database error", extra={"fields": {"error": f"{type(exc).__name__} ({type(exc.orig).__name__})"}})
        if isinstance(exc, DataError):  # a value the database will not store (too long, NUL): checked
            return error_response(invalid("a value in the request cannot be stored (too long or not text)"))
        return error_response(unavailable("the database is not answering; try again shortly"))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        code = {404: "not-found", 405: "not-supported"}.get(exc.status_code, "processing")
        return error_response(ApiError(exc.status_code, (Issue(code, str(exc.detail)),), dict(exc.headers or {})))


def __getattr__(name: str):
    # `service.app:app` is built on first access so importing this module has no side effects.
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
