"""Liveness and readiness probes."""
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["operations"])


@router.api_route("/healthz", methods=["GET", "HEAD"])
def healthz() -> dict:
    """The process is up and serving."""
    return {"status": "ok"}


@router.api_route("/readyz", methods=["GET", "HEAD"])
def readyz(request: Request) -> JSONResponse:
    """Ready when storage answers; 503 otherwise so a load balancer stops sending traffic."""
    schema = request.app.state.schema
    ok = schema.ready.is_set() and request.app.state.storage.ping()
    body = {"status": "ready" if ok else (schema.error or "storage unreachable")}
    if request.app.state.settings.auth_disabled:
        body["authorization"] = "OFF (AUTH_DISABLED=true): not for patient data"
    return JSONResponse(body, status_code=200 if ok else 503)
