"""Reviewer API for pended determinations: a clinician approves or denies (new ClaimResponse version)."""
from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from service.engine.evaluate import APPROVE, DENY, PEND, score_response
from service.fhir.outcome import fhir_response, outcome_response
from service.pas.claimresponse import Outcome, build_claim_response
from service.pas.request import read_submit
from service.pas.service import claim_reference, resource_action_code
from service.policies.registry import get_policy
from service.storage import claims as repo

router = APIRouter()


def check_token(request: Request):
    """Bearer REVIEWER_TOKEN; the API is off (503) until that setting exists."""
    expected = request.app.state.settings.reviewer_token
    if not expected:
        return outcome_response(503, "the review API is disabled: set REVIEWER_TOKEN to enable it",
                                code="security")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return outcome_response(401, "reviewer bearer token required (Authorization: Bearer ...)",
                                code="login")
    if not secrets.compare_digest(token.encode(), expected.encode()):
        return outcome_response(403, "reviewer token not accepted", code="forbidden")
    return None


@router.get("/pas/review/pended")
async def list_pended(request: Request):
    """Current ClaimResponses awaiting a clinician (A4), newest first, as a searchset Bundle."""
    if (denied := check_token(request)) is not None:
        return denied
    found = await run_in_threadpool(repo.search, request.app.state.storage, decision=PEND)
    base = request.app.state.settings.public_base_url
    return fhir_response({"resourceType": "Bundle", "type": "searchset", "total": len(found),
                          "entry": [{"fullUrl": f"{base}/fhir/ClaimResponse/{s.response.response_id}",
                                     "resource": s.response.resource} for s in found]})


def review_outcome(current: repo.Stored, decision: str, note: str, npi: str | None,
                   default_months: int) -> tuple[dict, object, Outcome]:
    """Rebuild the scored request from storage and express the reviewer's decision."""
    req, problems = read_submit(current.claim.request)
    if req is None:
        raise ValueError("; ".join(problems))
    policy = get_policy(current.claim.payer_id)
    det = score_response(policy, req.answers, default_period_months=default_months)
    reviewer = {"human": True, "npi": npi}
    if decision == APPROVE:
        period = policy.periods.get(det.request_type) or policy.periods["initial"]
        months = period.months if period.months is not None else default_months
        return req, policy, Outcome(APPROVE, (), months, note=note, reviewer=reviewer)
    return req, policy, Outcome(DENY, det.reasons, note=note,
                                reviewer=reviewer)


@router.post("/pas/review/{response_id}")
async def decide_pended(response_id: str, request: Request):
    """Body {"decision": "approve"|"deny", "note": "...", "reviewerNpi": "..."} -> new version."""
    if (denied := check_token(request)) is not None:
        return denied
    try:
        body = json.loads(await request.body())
    except ValueError:
        return outcome_response(400, "the request body is not JSON")
    problems = []
    if not isinstance(body, dict) or body.get("decision") not in (APPROVE, DENY):
        problems.append("decision: must be 'approve' or 'deny'")
        body = body if isinstance(body, dict) else {}
    if not isinstance(body.get("note"), str) or not body["note"].strip():
        problems.append("note: the reviewer's reason, in words, is required")
    npi = body.get("reviewerNpi")
    if npi is not None and not (isinstance(npi, str) and npi.isdigit() and len(npi) == 10):
        problems.append("reviewerNpi: must be a 10-digit NPI")
    if problems:
        return outcome_response(422, problems)
    settings, storage = request.app.state.settings, request.app.state.storage

    def build(current: repo.Stored) -> dict:
        if current.claim.decision != PEND:
            raise repo.ReviewConflict(f"ClaimResponse/{response_id} is already final "
                                      f"({current.claim.decision}); only pended ones are reviewed")
        req, policy, outcome = review_outcome(current, body["decision"], body["note"].strip(), npi,
                                              settings.default_auth_months)
        number = current.response.auth_number
        resource = build_claim_response(
            {**req.claim, "insurer": req.insurer}, claim_reference(req), policy, outcome,
            response_id=response_id, version=current.claim.current_version + 1, number=number,
            created=datetime.now(timezone.utc).replace(microsecond=0))
        return {"resource": resource, "decision": outcome.decision,
                "review_code": resource_action_code(resource), "auth_number": number}

    try:
        stored = await run_in_threadpool(repo.add_review, storage, response_id, "reviewer", build)
    except KeyError:
        return outcome_response(404, f"ClaimResponse/{response_id} is not known", code="not-found")
    except repo.ReviewConflict as exc:
        return outcome_response(409, str(exc), code="conflict")
    return fhir_response(stored.response.resource)
