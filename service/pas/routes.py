"""PAS 2.2 endpoints: Claim/$submit, Claim/$inquire, ClaimResponse read and search."""
from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from service.fhir.outcome import fhir_response, outcome_response
from service.pas import inquiry, review, service
from service.pas.bundle import unwrap_resource
from service.pas.request import read_submit
from service.storage import claims as repo

router = APIRouter()
router.include_router(review.router)
log = logging.getLogger("service.pas")


async def read_json(request: Request) -> tuple[object, str | None]:
    try:
        return json.loads(await request.body()), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"the request body is not JSON: {exc}"


@router.post("/fhir/Claim/$submit")
async def claim_submit(request: Request):
    """PAS 2.2 Claim/$submit: a request Bundle in, a response Bundle with the ClaimResponse out."""
    body, error = await read_json(request)
    if error:
        return outcome_response(400, error)
    bundle, problems = unwrap_resource(body)
    req = None
    if bundle is not None:
        try:
            req, problems = read_submit(bundle)
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            # a shape no check anticipated: still the client's input, never a 500
            log.warning("pas submit: unanticipated shape", extra={"fields": {"error": type(exc).__name__}})
            req, problems = None, [f"the Bundle is not well-formed FHIR JSON ({type(exc).__name__})"]
    if problems:
        log.info("pas submit refused", extra={"fields": {"problems": len(problems)}})
        return outcome_response(422, problems)
    storage, settings = request.app.state.storage, request.app.state.settings
    try:
        stored = await run_in_threadpool(service.submit, storage, settings, req)
    except service.IdempotencyConflict as exc:
        return outcome_response(409, str(exc), code="duplicate")
    log.info("pas determination", extra={"fields": {
        "payer": stored.claim.payer_id, "decision": stored.claim.decision,
        "replayed": not stored.created}})
    return fhir_response(service.response_bundle(settings.public_base_url, stored))


@router.post("/fhir/Claim/$inquire")
async def claim_inquire(request: Request):
    """PAS 2.2 Claim/$inquire: Parameters with one inquiry response Bundle per matching request."""
    body, error = await read_json(request)
    if error:
        return outcome_response(400, error)
    bundle, problems = unwrap_resource(body)
    keys = None
    if bundle is not None:
        try:
            keys, problems = inquiry.inquiry_keys(bundle)
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            keys, problems = None, [f"the Bundle is not well-formed FHIR JSON ({type(exc).__name__})"]
    if problems:
        return outcome_response(422, problems)
    found = await run_in_threadpool(inquiry.find_matches, request.app.state.storage, keys)
    base = request.app.state.settings.public_base_url
    return fhir_response({"resourceType": "Parameters", "parameter": [
        {"name": "return", "resource": service.response_bundle(base, s, inquiry=True)}
        for s in found]})


@router.get("/fhir/ClaimResponse/{response_id}")
async def read_claim_response(response_id: str, request: Request):
    """Current version of a ClaimResponse (FHIR read)."""
    stored = await run_in_threadpool(repo.get_response, request.app.state.storage, response_id)
    if stored is None:
        return outcome_response(404, f"ClaimResponse/{response_id} is not known", code="not-found")
    return fhir_response(stored.response.resource,
                         headers={"ETag": f'W/"{stored.response.version}"'})


@router.get("/fhir/ClaimResponse/{response_id}/_history/{version}")
async def vread_claim_response(response_id: str, version: int, request: Request):
    """One version of a ClaimResponse (FHIR vread): every determination stays readable."""
    stored = await run_in_threadpool(repo.get_response, request.app.state.storage, response_id,
                                     version)
    if stored is None:
        return outcome_response(404, f"ClaimResponse/{response_id}/_history/{version} is not known",
                                code="not-found")
    return fhir_response(stored.response.resource)


@router.get("/fhir/ClaimResponse")
async def search_claim_responses(request: Request):
    """Search by `patient` (reference) and/or `request` (Claim reference): a searchset Bundle."""
    params = request.query_params
    unknown = sorted(set(params) - {"patient", "request", "_count"})
    if unknown:
        return outcome_response(400, f"unsupported search parameter(s): {', '.join(unknown)}",
                                code="not-supported")
    patient, req_ref = params.get("patient"), params.get("request")
    count = params.get("_count", "100")
    if not count.isdigit() or not 1 <= int(count) <= 500:
        return outcome_response(400, "_count must be an integer from 1 to 500", code="value")
    if not patient and not req_ref:
        return outcome_response(400, "search by patient and/or request", code="required")
    found = await run_in_threadpool(
        repo.search, request.app.state.storage,
        patient_ref=service.reference_key(patient) if patient else None,
        request_ref=service.reference_key(req_ref) if req_ref else None, limit=int(count))
    base = request.app.state.settings.public_base_url
    return fhir_response({"resourceType": "Bundle", "type": "searchset", "total": len(found),
                          "entry": [{"fullUrl": f"{base}/fhir/ClaimResponse/{s.response.response_id}",
                                     "resource": s.response.resource,
                                     "search": {"mode": "match"}} for s in found]})
