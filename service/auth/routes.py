"""SMART Backend Services for the payer API: discovery, the token endpoint, and the access trail.

SMART App Launch 2.x "Backend Services" and RFC 6749 section 5 (token responses and errors).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from service.api.body import read_bytes
from service.api.deps import PrincipalDep, SettingsDep, StorageDep
from service.auth.clients import RegisteredClient, parse_clients
from service.auth.guard import access_event, write_events
from service.auth.jwks import JwksCache, ReplayCache
from service.auth.policy import sees_every_owner
from service.auth.tokens import (
    ASSERTION_ALGORITHMS,
    ASSERTION_TYPE,
    claimed_client,
    granted_scopes,
    issue_token,
    verify_assertion,
)
from service.errors import OAuthError, bad_request
from service.fhir.bundle import searchset
from service.fhir.outcome import fhir_response
from service.storage.access import LazySecret, list_access

router = APIRouter(tags=["auth"])
log = logging.getLogger("service.auth")
TOKEN_PATH = "/auth/token"
SCOPES_SUPPORTED = ["system/Claim.c", "system/ClaimResponse.rs", "system/QuestionnaireResponse.cu",
                    "system/Subscription.cruds", "system/AuditEvent.rs", "system/*.cruds", "system/*.read",
                    "system/*.write"]


@dataclass(frozen=True)
class TokenEndpoint:
    """What the token endpoint needs, made once at start-up: the registered clients, their JWK Sets'
    cache, the assertion replay table and the key tokens are signed with."""

    clients: dict[str, RegisteredClient]
    jwks: JwksCache
    replay: ReplayCache
    secret: LazySecret


def start_auth(app) -> None:
    """At start-up: the shared token secret, the JWK Set cache and the assertion replay table."""
    services = app.state.services
    settings, storage = services.settings, services.storage
    # app.state.token_secret stays: the guard and the reviewer API verify tokens with it (api/deps.py).
    secret = app.state.token_secret = LazySecret(storage, "access-token")
    app.state.token_endpoint = TokenEndpoint(
        parse_clients(settings.smart_clients),
        JwksCache(services.http, "the client's JWK Set", allowed=settings.allowed_origins),
        ReplayCache(storage), secret)
    if settings.auth_disabled:
        log.warning("AUTHORIZATION IS OFF (AUTH_DISABLED=true): anyone who reaches this service can submit "
                    "requests and read every determination; never run a payer's data like this")
    elif not app.state.token_endpoint.clients:
        log.warning("no SMART_CLIENTS are registered: every protected route will answer 401")


def get_token_endpoint(request: Request) -> TokenEndpoint:
    """Local to this module (only the token endpoint needs it), as crd/routes.py keeps its CrdState."""
    return request.app.state.token_endpoint


TokenEndpointDep = Annotated[TokenEndpoint, Depends(get_token_endpoint)]


def token_url(base_url: str) -> str:
    return f"{base_url}{TOKEN_PATH}"


def smart_configuration(base_url: str) -> dict:
    """SMART App Launch 2.x section "Conformance": what a backend client needs to get a token."""
    return {"issuer": base_url, "token_endpoint": token_url(base_url),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
            "grant_types_supported": ["client_credentials"], "scopes_supported": SCOPES_SUPPORTED,
            "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"]}


@router.get("/.well-known/smart-configuration")
@router.get("/fhir/.well-known/smart-configuration")
def read_smart_configuration(settings: SettingsDep) -> JSONResponse:
    """Discovery at the server root and at the FHIR base (SMART 2.x: {fhir-base}/.well-known)."""
    return JSONResponse(smart_configuration(settings.public_base_url))


@router.post(TOKEN_PATH, openapi_extra={"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {"type": "object", "required": [
        "grant_type", "client_assertion_type", "client_assertion"], "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]}, "scope": {"type": "string"},
        "client_assertion_type": {"type": "string", "enum": [ASSERTION_TYPE]},
        "client_assertion": {"type": "string", "description": "RS384/ES384 JWT: iss = sub = client id, aud = this URL"}}}}}}})
async def token(request: Request, endpoint: TokenEndpointDep, settings: SettingsDep,
                storage: StorageDep) -> JSONResponse:
    """client_credentials with a signed JWT client assertion (SMART Backend Services). Refusals are
    OAuthErrors: errors.render answers them as RFC 6749 section 5.2 JSON."""
    raw = await read_bytes(request, 64 * 1024)
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise OAuthError("invalid_request", "send application/x-www-form-urlencoded")
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "the form is not UTF-8") from None
    form = {k: v[0] for k, v in fields.items() if len(v) == 1}
    try:
        if any(len(v) > 1 for v in fields.values()):
            raise OAuthError("invalid_request", "each parameter may be given once")
        if form.get("grant_type") != "client_credentials":
            raise OAuthError("unsupported_grant_type", "grant_type must be client_credentials")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            raise OAuthError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE} with a client_assertion")
        base = settings.public_base_url
        client = await verify_assertion(form["client_assertion"], form.get("client_id"), endpoint.clients,
                                        token_url(base), endpoint.jwks, endpoint.replay)
        scopes = granted_scopes(client, form.get("scope", ""))
    except OAuthError as exc:
        # Who asked and why not: what an operator needs to fix a client's set-up (no assertion, no key).
        claimed = claimed_client(form.get("client_assertion"), form.get("client_id"))
        log.warning("token refused", extra={"fields": {
            "client": claimed, "error": exc.error, "reason": exc.description[:300]}})
        registered = endpoint.clients.get(claimed) if claimed else None
        await write_events(storage, [access_event(
            None, "E", "token", None, exc.status, TOKEN_PATH, detail=f"token refused: {exc.error}",
            owner=registered.owner if registered else None) | {"agent": claimed or "anonymous"}])
        raise
    await write_events(storage, [access_event(
        None, "E", "token", None, 200, TOKEN_PATH, detail=f"token issued ({client.kind}): {' '.join(scopes)}",
        owner=client.owner) | {"agent": client.id}])
    return JSONResponse(issue_token(str(endpoint.secret), base, client, scopes),
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


ACTIONS = {"C": "create", "R": "read", "U": "update", "D": "delete", "E": "execute"}
OUTCOMES = {"0": "success", "4": "refused (minor failure)", "8": "failed (serious failure)"}


# Events that are not about a FHIR resource: a sign-in or a token (DICOM 110114 User Authentication),
# and a call refused on a route outside the FHIR table (the route, in entity.what.display).
NOT_RESOURCES = {"session", "token", "route"}
REST = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest",
        "display": "RESTful Operation"}
AUTHENTICATION = {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110114",
                  "display": "User Authentication"}


def audit_event(row) -> dict:
    """One access as a FHIR R4 AuditEvent (who: the client or account, what: resource or route, how it ended)."""
    if row.resource_type in NOT_RESOURCES:
        entity = {"what": {"display": f"{row.resource_type} {row.route}"[:256]}}
    else:
        entity = {"what": {"type": row.resource_type,
                           **({"reference": f"{row.resource_type}/{row.resource_id}"} if row.resource_id else {})}}
    described = f"{ACTIONS.get(row.action, row.action)} {OUTCOMES[row.outcome]}"
    return {"resourceType": "AuditEvent", "id": str(row.id),
            "type": AUTHENTICATION if row.resource_type in ("session", "token") else REST,
            "action": row.action, "recorded": row.recorded_at.astimezone(UTC).isoformat(),
            "outcome": row.outcome, "outcomeDesc": f"{described}: {row.detail}" if row.detail else described,
            "agent": [{"who": {"identifier": {"system": "urn:besponsa-pa:client-id", "value": row.agent}},
                       "requestor": True}],
            "source": {"observer": {"display": "Besponsa prior authorization service"},
                       **({"site": row.request_id} if row.request_id else {})},
            "entity": [entity]}


@router.get("/fhir/AuditEvent")
async def search_audit_events(caller: PrincipalDep, storage: StorageDep, settings: SettingsDep,
                              since: str | None = None, agent: str | None = None, _count: int = 100) -> JSONResponse:
    """The access trail, newest first: a provider client's own organization's events; every event for a
    payer client (issue 20: tenant-scoped)."""
    if not 1 <= _count <= 1000:
        raise bad_request("must be from 1 to 1000", "_count", code="value")
    when = None
    if since:
        try:
            when = datetime.fromisoformat(since)
        except ValueError:
            raise bad_request("must be an ISO date or date-time", "since", code="value") from None
    rows = await run_in_threadpool(partial(list_access, storage, since=when, agent=agent, owner=caller.owner,
                                           every_owner=sees_every_owner(caller), limit=_count))
    return fhir_response(searchset(settings.public_base_url, "AuditEvent",
                                   [audit_event(r) for r in rows]))
