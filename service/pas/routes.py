"""PAS 2.2 endpoints: Claim/$submit, Claim/$inquire, ClaimResponse read, vread and search."""
from __future__ import annotations

import logging
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from service.api.body import read_json
from service.api.deps import SettingsDep, StorageDep
from service.api.openapi import json_body
from service.auth.guard import caller_of
from service.errors import bad_request, not_found
from service.fhir.bundle import searchset
from service.fhir.outcome import fhir_response
from service.fhir.shape import is_fhir_id
from service.pas import inquiry
from service.pas.bundle import unwrap_resource
from service.pas.request import read_submit
from service.pas.submit import reference_key, response_bundle, submit
from service.storage import claims as repo

router = APIRouter(tags=["pas"])
log = logging.getLogger("service.pas")


def owner_of(request: Request) -> str | None:
    """Whose determinations the caller may see (its own or its organization's); None: every one."""
    caller = caller_of(request)
    return caller.owner if caller is not None else None


OwnerDep = Annotated[str | None, Depends(owner_of)]


@router.post("/fhir/Claim/$submit", openapi_extra=json_body("PAS request Bundle (or Parameters resource)",
                                                             "pas/submit-aetna.json"))
async def claim_submit(request: Request, storage: StorageDep, settings: SettingsDep, owner: OwnerDep):
    """PAS 2.2 Claim/$submit: a request Bundle in, a response Bundle with the ClaimResponse out."""
    req = read_submit(unwrap_resource(await read_json(request)))
    stored = await run_in_threadpool(submit, storage, settings, req, owner)
    request.state.audit_ref = ("ClaimResponse", stored.response.response_id)
    log.info("pas determination", extra={"fields": {
        "payer": stored.claim.payer_id, "decision": stored.claim.decision, "replayed": not stored.created}})
    return fhir_response(response_bundle(settings.public_base_url, stored))


@router.post("/fhir/Claim/$inquire", openapi_extra=json_body("PAS inquiry request Bundle"))
async def claim_inquire(request: Request, storage: StorageDep, settings: SettingsDep, owner: OwnerDep):
    """PAS 2.2 Claim/$inquire: Parameters with one inquiry response Bundle per matching request."""
    keys = inquiry.inquiry_keys(unwrap_resource(await read_json(request)))
    found = await run_in_threadpool(inquiry.find_matches, storage, keys, owner)
    base = settings.public_base_url
    return fhir_response({"resourceType": "Parameters", "parameter": [
        {"name": "return", "resource": response_bundle(base, s, inquiry=True)} for s in found]})


@router.get("/fhir/ClaimResponse/{response_id}")
async def read_claim_response(response_id: str, storage: StorageDep, owner: OwnerDep):
    """Current version of a ClaimResponse (FHIR read)."""
    if not is_fhir_id(response_id):
        raise not_found(f"ClaimResponse/{response_id[:64]!r}")
    stored = await run_in_threadpool(partial(repo.get_response, owner=owner), storage, response_id)
    if stored is None:
        raise not_found(f"ClaimResponse/{response_id}")
    return fhir_response(stored.response.resource, headers={"ETag": f'W/"{stored.response.version}"'})


@router.get("/fhir/ClaimResponse/{response_id}/_history/{version}")
async def vread_claim_response(response_id: str, version: int, storage: StorageDep, owner: OwnerDep):
    """One version of a ClaimResponse (FHIR vread): every determination stays readable."""
    if not is_fhir_id(response_id) or not 1 <= version < 2**31:
        raise not_found(f"ClaimResponse/{response_id[:64]!r}/_history/{version}")
    stored = await run_in_threadpool(partial(repo.get_response, owner=owner), storage, response_id, version)
    if stored is None:
        raise not_found(f"ClaimResponse/{response_id}/_history/{version}")
    return fhir_response(stored.response.resource)


def search_key(value: str, resource_type: str) -> str:
    """A reference search value as the store keys it: a bare id means `Type/id` (R4 search.html#reference)."""
    if "/" not in value and not value.startswith("urn:"):
        return f"{resource_type}/{value}"
    return reference_key(value)


@router.get("/fhir/ClaimResponse")
async def search_claim_responses(request: Request, storage: StorageDep, settings: SettingsDep, owner: OwnerDep):
    """Search by `patient` (reference) and/or `request` (Claim reference): a searchset Bundle."""
    params = request.query_params
    unknown = sorted(set(params) - {"patient", "request", "_count"})
    if unknown:
        raise bad_request(f"unsupported search parameter(s): {', '.join(unknown)}", code="not-supported")
    patient, req_ref = params.get("patient"), params.get("request")
    count = params.get("_count", "100")
    if not (count.isascii() and count.isdigit()) or not 1 <= int(count) <= 500:
        raise bad_request("must be an integer from 1 to 500", "_count", code="value")
    if not patient and not req_ref:
        raise bad_request("search by patient and/or request", code="required")
    for name, value in (("patient", patient), ("request", req_ref)):
        if value is not None and (len(value) > 256 or not value.isprintable()):
            raise bad_request("must be a reference of at most 256 printable characters", name, code="value")
    found = await run_in_threadpool(
        partial(repo.search, storage, patient_ref=search_key(patient, "Patient") if patient else None,
                request_ref=search_key(req_ref, "Claim") if req_ref else None, owner=owner, limit=int(count)))
    return fhir_response(searchset(settings.public_base_url, "ClaimResponse", [s.response.resource for s in found]))
