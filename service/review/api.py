"""The reviewer API for systems (PAS 2.2 pended determinations), behind the desk's accounts and roles."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from service.api.body import read_json
from service.api.openapi import json_body
from service.engine.evaluate import PEND
from service.fhir.outcome import fhir_response
from service.pas.review import read_action
from service.review import accounts
from service.review.auth import CSRF_HEADER, Reviewer, check_csrf, current_reviewer, require
from service.review.decide import apply_action
from service.storage import claims as repo

router = APIRouter(tags=["pas review"])
SignedIn = Annotated[Reviewer, Depends(current_reviewer)]


@router.get("/pas/review/pended")
def list_pended(request: Request, reviewer: SignedIn):
    """Current ClaimResponses awaiting a clinician (A4), newest first, as a searchset Bundle."""
    require(reviewer, accounts.REVIEW)
    found = repo.search(request.app.state.storage, decision=PEND)
    base = request.app.state.settings.public_base_url
    return fhir_response({"resourceType": "Bundle", "type": "searchset", "total": len(found),
                          "entry": [{"fullUrl": f"{base}/fhir/ClaimResponse/{s.response.response_id}",
                                     "resource": s.response.resource} for s in found]})


@router.post("/pas/review/{response_id}", openapi_extra=json_body(
    '{"decision": "approve" | "deny" | "request-info", "note": "...", "months"?: n, "reasons"?: [concept codes]}',
    media="application/json"))
async def decide_pended(response_id: str, request: Request, reviewer: SignedIn):
    """{"decision": "approve"|"deny"|"request-info", "note", "months"?, "concepts"?, "reviewerNpi"?} -> new version.

    A session's POST carries its CSRF token as X-CSRF-Token (GET /review/session tells it).
    """
    require(reviewer, accounts.REVIEW)
    check_csrf(reviewer, request.headers.get(CSRF_HEADER))
    action = read_action(await read_json(request))
    stored = await run_in_threadpool(apply_action, request.app.state.storage, request.app.state.settings,
                                     response_id, reviewer, action)
    return fhir_response(stored.response.resource)
