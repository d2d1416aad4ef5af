"""The ASGI application: settings and declarations validated at start-up, routers from one table."""
from __future__ import annotations

import gc
import importlib
import inspect
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from pydantic import ValidationError

from service.config import Settings, get_settings
from service.fhir.outcome import outcome_response
from service.crd.fastpath import HookFastPath
from service.logs import RequestIdMiddleware, configure_logging
from service.policies.registry import all_policies
from service.storage import open_storage

# The route registry: each module exposes `router`. Discovery documents are built from the
# same registries the routes use (crd.services, policies.registry), never from a second list.
# CRD comes first: routes are matched in order and order-sign is the latency-critical path.
ROUTERS = (
    "service.crd.routes",
    "service.api.health",
    "service.api.terminology",
    "service.fhir.capability",
    "service.fhir.valuesets",
    "service.dtr.routes",
    "service.pas.routes",
    "service.smart.routes",
)

log = logging.getLogger("service")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; raises at once on bad settings or an unservable policy declaration."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    all_policies()  # validate every declaration now, not on the first request

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.storage = open_storage(settings)
        init = getattr(app.state.storage, "migrate", None)
        if init:
            init()
        # Everything loaded so far (models, declarations, FHIR classes) lives as long as the
        # process: keep it out of the collector's full passes, which took ~36 ms and showed up
        # as order-sign's p99.
        gc.collect()
        gc.freeze()
        log.info("started", extra={"fields": {"payers": sorted(all_policies()),
                                              "storage": app.state.storage.engine.dialect.name}})
        yield
        for close in app.state.shutdown_hooks:  # e.g. flush the CRD audit writer
            close()
        app.state.storage.close()

    app = FastAPI(title="Besponsa prior authorization (Da Vinci CRD, DTR, PAS)",
                  version="0.1.0", lifespan=lifespan, **telemetry_options(settings))
    app.state.settings = settings
    app.state.shutdown_hooks = []
    for name in ROUTERS:
        app.include_router(importlib.import_module(name).router)
    # The SMART app's own scripts and the vendored LHC-Forms: served by us, never from a CDN.
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    install_error_handlers(app)
    app.add_middleware(HookFastPath)  # inside the request-id middleware: hook calls get ids too
    app.add_middleware(RequestIdMiddleware)
    return app


def telemetry_options(settings: Settings) -> dict:
    """FastAPI's native OpenTelemetry off unless OTEL_ENABLED (FastAPI before 0.164 has none)."""
    if settings.otel_enabled or "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


class SettingsError(SystemExit):
    """Start-up refused: the message names each bad environment variable."""


def load_settings() -> Settings:
    """Settings from the environment, or a start-up error naming each bad variable."""
    try:
        return get_settings()
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()]
        raise SettingsError("invalid settings:\n" + "\n".join(lines)) from None


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as an OperationOutcome; nothing becomes a clinical determination."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return outcome_response(422, problems)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        code = "not-found" if exc.status_code == 404 else "processing"
        return outcome_response(exc.status_code, str(exc.detail), code=code)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        log.exception("unhandled error")
        return outcome_response(500, "internal error; the request was not processed",
                                code="exception")


def __getattr__(name: str):
    # `service.app:app` is built on first access so importing this module has no side effects.
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
