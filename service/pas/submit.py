"""Claim/$submit: score a PAS request, store the determination durably, answer a PAS response Bundle."""
from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from service.engine.evaluate import PEND, score_response
from service.errors import conflict
from service.fhir.bundle import BundleIndex
from service.fhir.json import obj, objs, text_of
from service.pas.bundle import identifier_key
from service.pas.claimresponse import DETERMINATION_ID_SYSTEM, Adjudication, build_claim_response
from service.pas.request import SubmitRequest
from service.storage import claims as repo

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition"
RESPONSE_BUNDLE = f"{PAS}/profile-pas-response-bundle"
INQUIRY_RESPONSE_BUNDLE = f"{PAS}/profile-pas-inquiry-response-bundle"
INQUIRY_CLAIM_RESPONSE = f"{PAS}/profile-claiminquiryresponse"


def new_review_number(now: datetime) -> str:
    """Authorization / review number (PAS reviewAction.number, preAuthRef): date + random part."""
    return f"PA{now:%Y%m%d}-{secrets.token_hex(5).upper()}"


def claim_reference(req: SubmitRequest) -> dict:
    """ClaimResponse.request: the Claim as the request named it (fullUrl) plus its identifier."""
    ref: dict[str, Any] = {"reference": text_of(req.claim_entry.get("fullUrl")) or f"Claim/{text_of(req.claim.get('id'))}"}
    idents = [i for i in req.claim.get("identifier") or () if isinstance(i, dict)]
    if idents:
        ref["identifier"] = idents[0]
    return ref


def reference_key(value: str) -> str:
    """A reference as search keys store it: Type/id (an absolute URL's tail), or a urn as is."""
    if value.startswith("urn:"):
        return value
    return "/".join(value.rstrip("/").split("/")[-2:])


def search_reference(req: SubmitRequest) -> str:
    """The `request` search key: Claim/<id> when the Claim has an id, else its fullUrl."""
    if text_of(req.claim.get("id")):
        return f"Claim/{req.claim['id']}"
    return reference_key(text_of(req.claim_entry.get("fullUrl")))


def adjudicate(req: SubmitRequest, settings) -> Adjudication:
    """The engine's determination for a request, as the ClaimResponse states it."""
    det = score_response(req.policy, req.answers, deny_requires_review=settings.deny_requires_review,
                         default_period_months=settings.default_auth_months)
    return Adjudication(det.decision, det.reasons, det.period_months, det.path,
                   det.would_deny, reviewer={"human": False})


# CMS-0057-F decision timeframes from receipt: 72 hours expedited, 7 calendar days standard.
DUE_WITHIN = {"expedited": timedelta(hours=72), "standard": timedelta(days=7)}


def request_priority(claim: dict) -> str:
    """expedited when Claim.priority is `stat` (FHIR processpriority; X12 278 UM06 urgent), else standard."""
    codes = {text_of(c.get("code")) for c in objs(obj(claim.get("priority")).get("coding"))}
    return "expedited" if "stat" in codes else "standard"


def submit(storage, settings, req: SubmitRequest, owner: str | None = None) -> repo.Stored:
    """Replay a stored determination for a known key, else decide, store and return it.

    `owner` (the calling client or its organization) scopes the idempotency key too: re-sending
    another client's Bundle makes a new request of your own, never a read of theirs.
    """
    key = f"{owner}|{req.idempotency_key}" if owner else req.idempotency_key
    known = repo.find_by_key(storage, key)
    if known is None:
        now = datetime.now(UTC).replace(microsecond=0)
        outcome = adjudicate(req, settings)
        claim_view = {**req.claim, "insurer": req.insurer}
        response_id, number = str(uuid.uuid4()), new_review_number(now)
        resource = build_claim_response(claim_view, claim_reference(req), req.policy, outcome,
                                        response_id=response_id, version=1, number=number,
                                        created=now)
        claim_ident = next((identifier_key(i) for i in req.claim.get("identifier") or ()), None)
        patient = (req.claim.get("patient") or {}).get("reference")
        priority = request_priority(req.claim)
        known = repo.save_submission(storage, claim={
            "priority": priority, "due_at": now + DUE_WITHIN[priority],
            "decided_at": None if outcome.decision == PEND else now,
            "id": uuid.uuid4().hex, "idempotency_key": key, "owner": owner,
            "payer_id": req.policy.payer_id, "claim_identifier": claim_ident,
            "patient_ref": reference_key(patient) if isinstance(patient, str) else None,
            "provider_ref": req.provider_key, "member_key": req.member_key,
            "request_ref": search_reference(req), "request_hash": req.digest,
            "request": req.bundle, "response_id": response_id, "decision": outcome.decision,
        }, questionnaire={"questionnaire": req.questionnaire_response.get("questionnaire"),
                          "answers": req.answers, "resource": req.questionnaire_response},
            response={"resource": resource, "decision": outcome.decision,
                      "review_code": resource_action_code(resource), "auth_number": number})
    if known.claim.request_hash != req.digest:
        raise conflict(
            f"identifier {req.idempotency_key.split(':', 1)[1]} was already used for a different "
            "request; send a new Bundle.identifier for a new request", code="duplicate")
    return known


def resource_action_code(resource: dict) -> str:
    """The X12 306 code the response carries (first item), kept as a column for listing."""
    for ext in resource["item"][0]["adjudication"][0]["extension"][0]["extension"]:
        if ext["url"].endswith("extension-reviewActionCode"):
            return ext["valueCodeableConcept"]["coding"][0]["code"]
    raise ValueError("ClaimResponse without a review action code")


def echoed_entries(request_bundle: dict, claim_response: dict) -> list[dict]:
    """Request resources the ClaimResponse references, with their request fullUrls (spec-33)."""
    index, out, seen = BundleIndex(request_bundle), [], set()
    refs = [claim_response.get(k) for k in ("patient", "insurer", "requestor")]
    for ref in refs:
        entry = index.entry_for(ref)
        if entry and entry.get("fullUrl") and entry["fullUrl"] not in seen:
            seen.add(entry["fullUrl"])
            out.append({"fullUrl": entry["fullUrl"], "resource": entry["resource"]})
    return out


def response_bundle(base: str, stored: repo.Stored, *, inquiry: bool = False) -> dict:
    """PAS response Bundle: collection, identifier, timestamp, ClaimResponse first (ClaimResponseFirst)."""
    resource = stored.response.resource
    if inquiry:  # same determination, announced under the inquiry-response profile
        resource = {**resource, "meta": {**resource["meta"], "profile": [INQUIRY_CLAIM_RESPONSE]}}
    request_bundle = stored.claim.request or {}
    identifier = request_bundle.get("identifier") if not inquiry else None
    bundle: dict[str, Any] = {
        "resourceType": "Bundle", "id": str(uuid.uuid4()),
        "meta": {"profile": [INQUIRY_RESPONSE_BUNDLE if inquiry else RESPONSE_BUNDLE]},
        "identifier": identifier or {"system": DETERMINATION_ID_SYSTEM,
                                     "value": resource["identifier"][0]["value"]},
        "type": "collection",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "entry": [{"fullUrl": f"{base}/fhir/ClaimResponse/{resource['id']}", "resource": resource}],
    }
    bundle["entry"] += echoed_entries(request_bundle, resource)
    return bundle
