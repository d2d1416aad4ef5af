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
from service.crd.hook import AssessmentMemo, HookSettings, answer_hook, validate_request
from service.crd.security import AuthError, KeyStore, ReplayCache, parse_issuers, verify_token
from service.crd.services import SERVICES_BY_ID, discovery_document
from service.fhir.outcome import outcome_response
from service.storage.hooks import save_feedback

router = APIRouter(tags=["crd"])
log = logging.getLogger("service.crd")


@dataclass
class CrdState:
    """Per-app CRD state, made once and closed at shutdown (never per request)."""

    keys: KeyStore
    replay: ReplayCache
    audit: AuditWriter
    memo: AssessmentMemo


def crd_state(app) -> CrdState:
    state = getattr(app.state, "crd", None)
    if state is None:
        settings = app.state.settings
        issuers = parse_issuers(settings.cds_trusted_issuers)
        if not issuers:
            log.warning("CDS Hooks JWT verification is OFF: set CDS_TRUSTED_ISSUERS in production")
        writer = AuditWriter(app.state.storage)
        app.state.shutdown_hooks.append(writer.close)
        state = app.state.crd = CrdState(KeyStore(issuers, settings.fhir_timeout_seconds),
                                         ReplayCache(app.state.storage), writer, AssessmentMemo())
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


async def call_service(request: Request) -> Response:
    """One hook call: 200 with cards and systemActions, or 4xx naming the problem (CDS Hooks 2.0 §5)."""
    # A plain Starlette endpoint: the order-sign hot path skips FastAPI's dependency solving.
    started = time.perf_counter()
    service = SERVICES_BY_ID.get(request.path_params["service_id"])
    if service is None:
        return outcome_response(404, f"no CDS service {request.path_params['service_id']!r}",
                                code="not-found")
    state = crd_state(request.app)
    settings = request.app.state.settings
    status, result, instance = 500, None, None
    try:
        await authenticate(request, state)
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise HookError(400, "the request body is not JSON") from None
        payload = validate_request(service, body)
        instance = payload["hookInstance"]
        result = await answer_hook(service, payload, HookSettings(
            today=date.today(), base_url=settings.public_base_url,
            timeout=settings.fhir_timeout_seconds, default_months=settings.default_auth_months,
            assess=state.memo.assess))
        status = 200
        return Response(orjson.dumps(result.body), media_type="application/json")
    except AuthError as exc:
        status = 401
        return outcome_response(401, str(exc), code="security")
    except HookError as exc:
        status = exc.status
        return outcome_response(exc.status, exc.message, code="processing" if exc.status >= 500 else "invalid")
    finally:
        # Ids and codes only: the audit row never holds a patient identifier.
        state.audit.record(instance[:128] if isinstance(instance, str) else None, service, result,
                           (time.perf_counter() - started) * 1000, status)


router.add_route("/cds-services/{service_id}", call_service, methods=["POST"], include_in_schema=False)


class HookFastPath:
    """ASGI middleware sending POST /cds-services/{id} straight to call_service.

    Why: order-sign sits inside the clinician's signing click. Routing, dependency injection
    and exception middleware cost as much as the decision itself, and call_service needs none
    of them: it renders every error itself. The route above stays in the table (same handler).
    """

    PREFIX = "/cds-services/"

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"][len(scope.get("root_path", "")):] if scope.get("root_path") else scope["path"]
            service_id = path[len(self.PREFIX):] if path.startswith(self.PREFIX) else ""
            if service_id and "/" not in service_id:
                scope["path_params"] = {"service_id": service_id}
                try:
                    response = await call_service(Request(scope, receive))
                except Exception:  # noqa: BLE001 - as the framework would: logged, 500 outcome
                    log.exception("unhandled error in a CDS Hooks call")
                    response = outcome_response(500, "internal error; the request was not processed",
                                                code="exception")
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


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
