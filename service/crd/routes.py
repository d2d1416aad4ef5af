"""CRD routes: CDS Hooks discovery, service calls and feedback (CDS Hooks 2.0; CRD 2.1)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date

import orjson
from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from service.crd.audit import AuditWriter
from service.crd.chart import HookError
from service.crd.memo import AssessmentMemo
from service.crd.hook import HookSettings, answer_hook, validate_request
from service.crd.security import AuthError, KeyStore, ReplayCache, parse_issuers, verify_token
from service.crd.services import SERVICES_BY_ID, discovery_document
from service.fhir.outcome import FHIR_JSON, build_outcome, outcome_response
from service.storage.hooks import save_feedback

router = APIRouter(tags=["crd"])
log = logging.getLogger("service.crd")


@dataclass
class CrdState:
    """Per-app CRD state, made once and closed at shutdown (never per request)."""

    keys: KeyStore
    replay: ReplayCache
    audit: AuditWriter
    hook_settings: HookSettings


def crd_state(app) -> CrdState:
    state = getattr(app.state, "crd", None)
    if state is None:
        settings = app.state.settings
        issuers = parse_issuers(settings.cds_trusted_issuers)
        if not issuers:
            log.warning("CDS Hooks JWT verification is OFF: set CDS_TRUSTED_ISSUERS in production")
        writer = AuditWriter(app.state.storage)
        app.state.shutdown_hooks.append(writer.close)
        hook_settings = HookSettings(base_url=settings.public_base_url, timeout=settings.fhir_timeout_seconds,
                                     assess=AssessmentMemo().assess)
        state = app.state.crd = CrdState(KeyStore(issuers, settings.fhir_timeout_seconds),
                                         ReplayCache(app.state.storage), writer, hook_settings)
    return state


async def authenticate(request: Request, state: CrdState) -> None:
    """CDS Hooks 2.0 §"Trusting CDS Clients"; on whenever issuers are configured."""
    if state.keys.issuers:
        audience = f"{request.app.state.settings.public_base_url}{request.url.path}"
        claims = await verify_token(request.headers.get("authorization"), audience, state.keys)
        # The shared replay table is a database write: keep it off the event loop.
        fresh = await to_thread.run_sync(state.replay.check_and_add,
                                         f"{claims['iss']}|{claims['jti']}", claims["exp"])
        if not fresh:
            raise AuthError("the token's jti was already used")


@router.get("/cds-services")
def discover() -> dict:
    """CDS Hooks 2.0 Discovery, from the service registry."""
    return discovery_document()


async def respond_to_hook(request: Request, body: bytes) -> tuple[int, bytes, str]:
    """One hook call -> (status, JSON, media type): 200 with cards and systemActions, or an
    OperationOutcome naming the problem (CDS Hooks 2.0 "Calling a CDS Service")."""
    started = time.perf_counter()
    service_id = request.path_params["service_id"]
    service = SERVICES_BY_ID.get(service_id)
    if service is None:
        return 404, outcome_json(f"no CDS service {service_id!r}", code="not-found"), FHIR_JSON
    state = crd_state(request.app)
    status, result, instance = 500, None, None
    try:
        await authenticate(request, state)
        try:
            payload = validate_request(service, orjson.loads(body))
        except orjson.JSONDecodeError:
            raise HookError(400, "the request body is not JSON") from None
        instance = payload["hookInstance"]
        result = await answer_hook(service, payload, state.hook_settings, date.today())
        status = 200
        return 200, orjson.dumps(result.body), "application/json"
    except AuthError as exc:
        status = 401
        return 401, outcome_json(str(exc), code="security"), FHIR_JSON
    except HookError as exc:
        status = exc.status
        return status, outcome_json(exc.message, code="processing" if status >= 500 else "invalid"), FHIR_JSON
    finally:
        # Ids and codes only: the audit row never holds a patient identifier.
        state.audit.record(instance[:128] if isinstance(instance, str) else None, service, result,
                           (time.perf_counter() - started) * 1000, status)


def outcome_json(message: str, *, code: str) -> bytes:
    return orjson.dumps(build_outcome(message, code=code))


async def call_service(request: Request) -> Response:
    """POST /cds-services/{id} through the router (HookFastPath normally answers first)."""
    status, data, media_type = await respond_to_hook(request, await request.body())
    return Response(data, status_code=status, media_type=media_type)


router.add_route("/cds-services/{service_id}", call_service, methods=["POST"], include_in_schema=False)


@router.post("/cds-services/{service_id}/feedback")
async def feedback(service_id: str, request: Request):
    """CDS Hooks 2.0 Feedback: stored per card."""
    if service_id not in SERVICES_BY_ID:
        return outcome_response(404, f"no CDS service {service_id!r}", code="not-found")
    try:
        await authenticate(request, crd_state(request.app))
        body = orjson.loads(await request.body())
    except AuthError as exc:
        return outcome_response(401, str(exc), code="security")
    except orjson.JSONDecodeError:
        return outcome_response(400, "the feedback body is not JSON")
    items = body.get("feedback") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("card") for i in items):
        return outcome_response(400, "feedback must be a list of objects each naming its card")
    stored = save_feedback(request.app.state.storage, service_id, items)
    return JSONResponse({"stored": stored})
