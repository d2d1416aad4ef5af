"""CRD routes: CDS Hooks discovery, service calls and feedback (CDS Hooks 2.0; CRD 2.1)."""
from __future__ import annotations

import json
import logging
import time
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.crd.audit import AuditWriter
from service.crd.chart import HookError
from service.crd.hook import answer_hook, validate_request
from service.crd.security import AuthError, ReplayCache, parse_issuers, verify_token
from service.crd.services import SERVICES_BY_ID, discovery_document
from service.fhir.outcome import outcome_response
from service.storage.hooks import save_feedback

router = APIRouter(tags=["crd"])
log = logging.getLogger("service.crd")


def crd_state(app) -> dict:
    """Per-app CRD state (issuers, replay cache, audit writer), made once and closed at shutdown."""
    state = getattr(app.state, "crd", None)
    if state is None:
        settings = app.state.settings
        issuers = parse_issuers(settings.cds_trusted_issuers)
        if not issuers:
            log.warning("CDS Hooks JWT verification is OFF: set CDS_TRUSTED_ISSUERS in production")
        writer = AuditWriter(app.state.storage)
        app.state.shutdown_hooks.append(writer.close)
        state = app.state.crd = {"issuers": issuers, "replay": ReplayCache(), "audit": writer}
    return state


def authenticate(request: Request, state: dict) -> None:
    if state["issuers"]:
        audience = f"{request.app.state.settings.public_base_url}{request.url.path}"
        verify_token(request.headers.get("authorization"), audience, state["issuers"], state["replay"])


@router.get("/cds-services")
def discover() -> dict:
    """CDS Hooks 2.0 Discovery, from the service registry."""
    return discovery_document()


@router.post("/cds-services/{service_id}")
async def call_service(service_id: str, request: Request):
    """One hook call: 200 with cards and systemActions, or 4xx naming the problem."""
    started = time.perf_counter()
    service = SERVICES_BY_ID.get(service_id)
    if service is None:
        return outcome_response(404, f"no CDS service {service_id!r}", code="not-found")
    state = crd_state(request.app)
    settings = request.app.state.settings
    status, payer, orders, summary, instance = 500, None, 0, [], None
    try:
        authenticate(request, state)
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise HookError(400, "the request body is not JSON") from None
        payload = validate_request(service, body)
        instance = payload.get("hookInstance")
        result = await answer_hook(service, payload, today=date.today(), base_url=settings.public_base_url,
                                   timeout=settings.fhir_timeout_seconds,
                                   default_months=settings.default_auth_months)
        status, payer, orders, summary = 200, result.payer_id, result.orders, result.summary
        return JSONResponse(result.body)
    except AuthError as exc:
        status = 401
        return outcome_response(401, str(exc), code="security")
    except HookError as exc:
        status = exc.status
        return outcome_response(exc.status, exc.message, code="processing" if exc.status >= 500 else "invalid")
    finally:
        state["audit"].record({"hook_instance": instance if isinstance(instance, str) else None,
                               "service_id": service.id, "hook": service.hook, "payer_id": payer,
                               "orders_matched": orders, "answer": {"orders": summary},
                               "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                               "status_code": status})


@router.post("/cds-services/{service_id}/feedback")
async def feedback(service_id: str, request: Request):
    """CDS Hooks 2.0 Feedback: stored per card."""
    if service_id not in SERVICES_BY_ID:
        return outcome_response(404, f"no CDS service {service_id!r}", code="not-found")
    try:
        authenticate(request, crd_state(request.app))
        body = json.loads(await request.body())
    except AuthError as exc:
        return outcome_response(401, str(exc), code="security")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return outcome_response(400, "the feedback body is not JSON")
    items = body.get("feedback") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("card") for i in items):
        return outcome_response(400, "feedback must be a list of objects each naming its card")
    stored = save_feedback(request.app.state.storage, service_id, items)
    return JSONResponse({"stored": stored})
