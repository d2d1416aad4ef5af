"""Liveness and readiness probes: both answer within PROBE_SECONDS whatever the database does."""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from service.api.deps import SettingsDep, StorageDep
from service.services import ServicesDep
from service.storage.schema import describe_failure

router = APIRouter(tags=["operations"])
PROBE_SECONDS = 1.0  # how long /readyz waits for the database before saying it is not answering


class ReadinessProbe:
    """Pings storage on its own thread (never the request threadpool, which stuck calls may fill), one
    ping at a time, so /readyz never blocks on a silent database and never piles up stuck pings."""

    def __init__(self, storage) -> None:
        self.storage = storage
        self.lock = threading.Lock()
        self.running: threading.Event | None = None
        self.error: str | None = "not checked yet"

    def ping(self, done: threading.Event) -> None:
        error = None
        if not self.storage.ping():
            failure = getattr(self.storage, "ping_error", None)
            error = f"database not answering ({describe_failure(failure)}); check DATABASE_URL" if failure \
                else "storage unreachable"
        with self.lock:
            self.error, self.running = error, None
        done.set()

    async def check(self) -> str | None:
        """None when storage answers now, else why not (a ping still running past the deadline: no answer)."""
        with self.lock:
            done = self.running
            if done is None:
                done = self.running = threading.Event()
                threading.Thread(target=self.ping, args=(done,), name="readyz-ping", daemon=True).start()
        breaker = getattr(self.storage, "breaker", None)
        if breaker is not None and breaker.is_open() and not done.is_set():  # a deadline just passed: say so now
            return "database not answering (a request's deadline passed just now); check DATABASE_URL and the network"
        deadline = time.monotonic() + PROBE_SECONDS
        while not done.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if not done.is_set():
            return f"database not answering within {PROBE_SECONDS:g} s; check DATABASE_URL and the network"
        return self.error


def probe_of(services: ServicesDep, storage: StorageDep) -> ReadinessProbe:
    """This app's one probe (AppServices.readiness), made again when a restart opened new storage."""
    probe = services.readiness
    if not isinstance(probe, ReadinessProbe) or probe.storage is not storage:
        probe = services.readiness = ReadinessProbe(storage)
    return probe


ProbeDep = Annotated[ReadinessProbe, Depends(probe_of)]


# HEAD answers too (load balancers probe with it) but stays out of the OpenAPI document: one
# operation per path there, since operationIds must be unique (OpenAPI 3.1 "Operation Object").
# Both are async: they run on the event loop, never waiting for a threadpool slot.
@router.get("/healthz")
@router.head("/healthz", include_in_schema=False)
async def healthz() -> dict:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz")
@router.head("/readyz", include_in_schema=False)
async def readyz(services: ServicesDep, settings: SettingsDep, probe: ProbeDep) -> JSONResponse:
    """Ready when the schema is current and storage answers; 503 otherwise, saying why."""
    schema = services.schema
    assert schema is not None  # AppServices.start made it before the first request
    why = (schema.error or "not migrated yet") if not schema.ready.is_set() else await probe.check()
    body = {"status": "ready" if why is None else why}
    if settings.auth_disabled:
        body["authorization"] = "OFF (AUTH_DISABLED=true): not for patient data"
    if settings.cds_allow_unsigned or settings.auth_disabled:
        body["cdsHooks"] = "unsigned calls accepted (CDS_ALLOW_UNSIGNED=true): for EHR sandboxes only"
    return JSONResponse(body, status_code=200 if why is None else 503)
