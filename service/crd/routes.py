"""CRD routes: CDS Hooks discovery, service calls and feedback (CDS Hooks 2.0; CRD 2.1)."""
from __future__ import annotations

import logging
import time
from datetime import date

import orjson
from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from service.api.deps import StorageDep
from service.api.openapi import json_body
from service.auth.guard import access_event, write_events
from service.auth.keysources import parse_issuers
from service.crd.audit import AuditWriter
from service.crd.hook import HookSettings, answer_hook, validate_request
from service.crd.memo import AssessmentMemo
from service.crd.security import KeyStore, ReplayCache, verify_token
from service.crd.services import SERVICES_BY_ID, discovery_document
from service.crd.state import CrdState, CrdStateDep
from service.errors import ApiError, bad_request, invalid, not_found, problem, render, too_large, unauthorized
from service.storage.hooks import save_feedback

router = APIRouter(tags=["crd"])
log = logging.getLogger("service.crd")


def start_crd(app) -> CrdState:
    """Made once at start-up (app lifespan): keys, replay table, audit writer, hook settings."""
    settings = app.state.settings
    issuers = parse_issuers(settings.cds_trusted_issuers)
    if unsigned_allowed(settings):
        log.warning("UNSIGNED CDS Hooks calls are accepted (CDS_ALLOW_UNSIGNED=true or AUTH_DISABLED=true): "
                    "for EHR sandboxes only")
    elif not issuers:
        log.warning("no CDS_TRUSTED_ISSUERS: every CDS Hooks call will be refused (401) until one is listed")
    writer = AuditWriter(app.state.storage)
    app.state.shutdown_hooks.append(writer.close)
    hook_settings = HookSettings(base_url=settings.public_base_url, http=app.state.http,
                                 allowed_origins=settings.allowed_origins, assess=AssessmentMemo().assess)
    app.state.crd = CrdState(KeyStore(issuers, app.state.http), ReplayCache(app.state.storage), writer,
                             hook_settings, app.state.storage, unsigned_allowed(settings), settings.public_base_url)
    return app.state.crd


def unsigned_allowed(settings) -> bool:
    """Whether a hook call without a JWT is served (CDS_ALLOW_UNSIGNED, or authorization off)."""
    return bool(settings.cds_allow_unsigned or settings.auth_disabled)


def header(scope, name: bytes) -> str | None:
    """One request header from the ASGI scope (names arrive lower-case), as Request.headers.get reads it."""
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


def url_path(scope) -> str:
    """The request's path as Starlette's Request.url.path gives it (the JWT audience, the access trail)."""
    return Request(scope).url.path


async def authenticate(scope, state: CrdState) -> None:
    """CDS Hooks 2.0 §"Trusting CDS Clients": a JWT from a trusted issuer is required (401 otherwise),
    unless the operator allows unsigned calls; a JWT that is sent is always verified."""
    sent = header(scope, b"authorization")
    if state.unsigned and (not sent or not state.keys.issuers):
        return  # a sandbox: nothing to verify a JWT against, or none sent
    if not state.keys.issuers:
        raise unauthorized("CDS Hooks calls need a JWT from an issuer in CDS_TRUSTED_ISSUERS (CDS Hooks 2.0 "
                           "\"Trusting CDS Clients\"); an EHR sandbox may be allowed unsigned calls by the "
                           "operator (CDS_ALLOW_UNSIGNED=true)")
    audience = f"{state.base_url}{url_path(scope)}"
    claims = await verify_token(sent, audience, state.keys)
    # The shared replay table is a database write: keep it off the event loop.
    fresh = await to_thread.run_sync(state.replay.check_and_add,
                                     f"{claims['iss']}|{claims['jti']}", claims["exp"])
    if not fresh:
        raise unauthorized("the token's jti was already used")


@router.get("/cds-services")
def discover() -> dict:
    """CDS Hooks 2.0 Discovery, from the service registry."""
    return discovery_document()


async def respond_to_hook(scope, state: CrdState, body: bytes) -> tuple[int, bytes, dict[str, str]]:
    """One hook call -> (status, JSON, headers): 200 with cards and systemActions, or an
    OperationOutcome naming the problem (CDS Hooks 2.0 "Calling a CDS Service").

    It reads the ASGI scope, not a Request: the fast path calls it on every order-sign."""
    started = time.perf_counter()
    service_id = scope["path_params"]["service_id"]
    service = SERVICES_BY_ID.get(service_id)
    if service is None:
        return error_reply(not_found(f"CDS service {service_id!r}"))
    status, result, instance = 500, None, None
    try:
        await authenticate(scope, state)
        try:
            payload = validate_request(service, orjson.loads(body))
        except orjson.JSONDecodeError:
            raise bad_request("the request body is not JSON") from None
        instance = payload["hookInstance"]
        result = await answer_hook(service, payload, state.hook_settings, date.today())
        status = 200
        return 200, orjson.dumps(result.body), JSON_HEADERS
    except ApiError as exc:
        status, data, headers = error_reply(exc)
        if status in (401, 403):  # a refused call is in the access trail (the guard leaves hook calls alone)
            await write_events(state.storage, [access_event(
                None, "E", "route", None, status, url_path(scope), detail=f"refused ({status}) POST")])
        return status, data, headers
    finally:
        # Ids and codes only: the audit row never holds a patient identifier.
        state.audit.record(instance[:128] if isinstance(instance, str) else None, service, result,
                           (time.perf_counter() - started) * 1000, status)


JSON_HEADERS = {"content-type": "application/json"}


def error_reply(error: ApiError) -> tuple[int, bytes, dict[str, str]]:
    return render(error)


async def call_service(request: Request, state: CrdStateDep) -> Response:
    """POST /cds-services/{id} through the router (HookFastPath normally answers first)."""
    status, data, headers = await respond_to_hook(request.scope, state, await request.body())
    return Response(data, status_code=status, headers=headers)


router.add_api_route(
    "/cds-services/{service_id}", call_service, methods=["POST"], summary="Call a CDS service (CDS Hooks 2.0)",
    description="An order-sign (or other CRD hook) request; answered with cards and coverage-information "
                "system actions. See GET /cds-services for the service ids and prefetch templates.",
    openapi_extra=json_body("CDS Hooks request", "order-sign/aetna.json", "application/json"))


@router.post("/cds-services/{service_id}/feedback", openapi_extra=json_body("CDS Hooks feedback", media="application/json"))
async def feedback(service_id: str, request: Request, storage: StorageDep, state: CrdStateDep):
    """CDS Hooks 2.0 Feedback: stored per card."""
    if service_id not in SERVICES_BY_ID:
        raise not_found(f"CDS service {service_id!r}")
    await authenticate(request.scope, state)
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise bad_request("the feedback body is not JSON") from None
    items = body.get("feedback") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise invalid(problem("feedback", "must be a non-empty list of feedback objects"), status=400)
    if len(items) > MAX_FEEDBACK:
        raise too_large(f"at most {MAX_FEEDBACK} feedback items in one call")
    problems = [problem(f"feedback[{n}]", why) for n, item in enumerate(items) if (why := feedback_problem(item))]
    if problems:
        raise invalid(problems, status=400)
    # A database write: on a worker thread, never on the event loop the hook calls share.
    stored = await to_thread.run_sync(save_feedback, storage, service_id, items)
    return JSONResponse({"stored": stored})


MAX_FEEDBACK = 100  # one response carries a handful of cards


def feedback_problem(item: object) -> str | None:
    """CDS Hooks 2.0 feedback: `card` (a uuid) and `outcome` (accepted | overridden) as short strings."""
    if not isinstance(item, dict):
        return "must be an object"
    card, outcome = item.get("card"), item.get("outcome")
    if not isinstance(card, str) or not card or len(card) > 128 or "\x00" in card:
        return "card must name the card's uuid (a string of at most 128 characters)"
    if outcome is not None and (not isinstance(outcome, str) or len(outcome) > 32 or "\x00" in outcome):
        return "outcome must be 'accepted' or 'overridden'"
    return None
