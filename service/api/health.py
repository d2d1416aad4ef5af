"""Liveness and readiness probes."""
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["operations"])


# HEAD answers too (load balancers probe with it) but stays out of the OpenAPI document: one
# operation per path there, since operationIds must be unique (OpenAPI 3.1 "Operation Object").
@router.get("/healthz")
@router.head("/healthz", include_in_schema=False)
def healthz() -> dict:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz")
@router.head("/readyz", include_in_schema=False)
def readyz(request: Request) -> JSONResponse:
    """Ready when storage answers; 503 otherwise so a load balancer stops sending traffic."""
    schema = request.app.state.schema
    ok = schema.ready.is_set() and request.app.state.storage.ping()
    body = {"status": "ready" if ok else (schema.error or "storage unreachable")}
    if request.app.state.settings.auth_disabled:
        body["authorization"] = "OFF (AUTH_DISABLED=true): not for patient data"
    return JSONResponse(body, status_code=200 if ok else 503)
