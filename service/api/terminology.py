"""The pa-criteria CodeSystem and the policy texts the citations quote."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from service.errors import not_found
from service.fhir.codesystem import build_codesystem
from service.fhir.outcome import fhir_response
from service.policies.registry import all_policies, read_policy_text

router = APIRouter(tags=["terminology"])


@router.get("/fhir/CodeSystem/pa-criteria")
def read_codesystem() -> object:
    """FHIR read of the criterion vocabulary (CONTRACT: Criterion concepts)."""
    return fhir_response(build_codesystem())


@router.get("/policies/{payer_id}")
def read_policy(payer_id: str, request: Request):
    """The payer's policy text, linked from CRD cards and cited by every determination."""
    policy = all_policies().get(payer_id)
    if policy is None:
        raise not_found(f"policy for payer {payer_id!r}")
    return PlainTextResponse(read_policy_text(policy))
