"""The reviewer API for payer systems and desk sessions (PAS 2.2 pended determinations), behind the permission table."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from service.api.body import read_json
from service.api.deps import SettingsDep, StorageDep
from service.api.openapi import json_body
from service.auth import policy
from service.engine.evaluate import PEND
from service.fhir.bundle import searchset
from service.fhir.outcome import fhir_response
from service.pas.review import read_action
from service.review.auth import CSRF_HEADER, Reviewer, api_principal, check_csrf, require
from service.review.decide import apply_action
from service.storage import claims as repo

router = APIRouter(tags=["pas review"])
SignedIn = Annotated[Reviewer, Depends(api_principal)]


@router.get("/pas/review/pended")
def list_pended(reviewer: SignedIn, storage: StorageDep, settings: SettingsDep):
    """Current ClaimResponses awaiting a clinician (A4), newest first, as a searchset Bundle: payer staff and
    payer clients only (a provider's token is 403 whatever its scopes: service/auth/policy.py)."""
    require(reviewer, policy.REVIEW)
    found = repo.search(storage, decision=PEND)
    return fhir_response(searchset(settings.public_base_url, "ClaimResponse", [s.response.resource for s in found]))


@router.post("/pas/review/{response_id}", openapi_extra=json_body(
    '{"decision": "approve" | "deny" | "request-info" | "route-to-physician", "note": "...", "months"?: n, '
    '"concepts"?: [concept codes]}',
    media="application/json"))
async def decide_pended(response_id: str, request: Request, reviewer: SignedIn, storage: StorageDep,
                        settings: SettingsDep):
    """{"decision": "approve"|"deny"|"request-info"|"route-to-physician", "note", "months"?, "concepts"?} -> the
    new version (a route returns the unchanged current one). The UM rule table decides who may do which.

    A session's POST carries its CSRF token as X-CSRF-Token (GET /review/session tells it).
    """
    require(reviewer, policy.REVIEW)
    check_csrf(reviewer, request.headers.get(CSRF_HEADER))
    action = read_action(await read_json(request))
    stored = await run_in_threadpool(apply_action, storage, settings, response_id, reviewer, action)
    return fhir_response(stored.response.resource)
