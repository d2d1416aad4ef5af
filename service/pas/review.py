"""Reviewer API for pended determinations: a clinician approves or denies (new ClaimResponse version)."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from service.api.body import read_json
from service.engine.evaluate import APPROVE, DENY, PEND, score_response
from service.errors import conflict, forbidden, invalid, problem, unauthorized, unavailable
from service.fhir.outcome import fhir_response
from service.pas.claimresponse import Adjudication, build_claim_response
from service.pas.request import SubmitRequest, read_submit
from service.pas.submit import claim_reference, resource_action_code
from service.policies.model import Policy
from service.policies.registry import get_policy
from service.storage import claims as repo


def require_reviewer(request: Request) -> None:
    """Bearer REVIEWER_TOKEN; the API is off (503) until that setting exists."""
    expected = request.app.state.settings.reviewer_token
    if not expected:
        raise unavailable("the review API is disabled: set REVIEWER_TOKEN to enable it")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("reviewer bearer token required (Authorization: Bearer ...)")
    if not secrets.compare_digest(token.encode(), expected.encode()):
        raise forbidden("reviewer token not accepted")


router = APIRouter(tags=["pas review"], dependencies=[Depends(require_reviewer)])


@router.get("/pas/review/pended")
async def list_pended(request: Request):
    """Current ClaimResponses awaiting a clinician (A4), newest first, as a searchset Bundle."""
    found = await run_in_threadpool(repo.search, request.app.state.storage, decision=PEND)
    base = request.app.state.settings.public_base_url
    return fhir_response({"resourceType": "Bundle", "type": "searchset", "total": len(found),
                          "entry": [{"fullUrl": f"{base}/fhir/ClaimResponse/{s.response.response_id}",
                                     "resource": s.response.resource} for s in found]})


def review_outcome(current: repo.Stored, decision: str, note: str, npi: str | None,
                   default_months: int) -> tuple[SubmitRequest, Policy, Adjudication]:
    """Rebuild the scored request from storage and express the reviewer's decision."""
    req = read_submit(current.claim.request)  # stored only after it was read once: it reads again
    policy = get_policy(current.claim.payer_id)
    assert policy is not None  # stored determinations name served payers
    det = score_response(policy, req.answers, default_period_months=default_months)
    reviewer = {"human": True, "npi": npi}
    if decision == APPROVE:
        period = policy.periods.get(det.request_type) or policy.periods["initial"]
        months = period.months if period.months is not None else default_months
        return req, policy, Adjudication(APPROVE, (), months, note=note, reviewer=reviewer)
    return req, policy, Adjudication(DENY, det.reasons, note=note,
                                reviewer=reviewer)


@router.post("/pas/review/{response_id}")
async def decide_pended(response_id: str, request: Request):
    """Body {"decision": "approve"|"deny", "note": "...", "reviewerNpi": "..."} -> new version."""
    body = await read_json(request)
    problems = []
    if not isinstance(body, dict) or body.get("decision") not in (APPROVE, DENY):
        problems.append(problem("decision", "must be 'approve' or 'deny'"))
        body = body if isinstance(body, dict) else {}
    if not isinstance(body.get("note"), str) or not body["note"].strip() or len(body["note"]) > 4000:
        problems.append(problem("note", "the reviewer's reason, in words (at most 4000 characters), is required"))
    npi = body.get("reviewerNpi")
    if npi is not None and not (isinstance(npi, str) and npi.isascii() and npi.isdigit() and len(npi) == 10):
        problems.append(problem("reviewerNpi", "must be a 10-digit NPI"))
    if problems:
        raise invalid(problems)
    settings, storage = request.app.state.settings, request.app.state.storage

    def build(current: repo.Stored) -> dict:
        if current.claim.decision != PEND:
            raise conflict(f"ClaimResponse/{response_id} is already final "
                           f"({current.claim.decision}); only pended ones are reviewed")
        req, policy, outcome = review_outcome(current, body["decision"], body["note"].strip(), npi,
                                              settings.default_auth_months)
        number = current.response.auth_number or ""  # every stored determination has its number
        resource = build_claim_response(
            {**req.claim, "insurer": req.insurer}, claim_reference(req), policy, outcome,
            response_id=response_id, version=current.claim.current_version + 1, number=number,
            created=datetime.now(UTC).replace(microsecond=0))
        return {"resource": resource, "decision": outcome.decision,
                "review_code": resource_action_code(resource), "auth_number": number}

    stored = await run_in_threadpool(repo.add_review, storage, response_id, "reviewer", build)
    return fhir_response(stored.response.resource)
