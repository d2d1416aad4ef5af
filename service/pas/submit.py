"""Claim/$submit: score a PAS request, store the determination durably, answer a PAS response Bundle."""
from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from service.engine.evaluate import APPROVE, PEND, score_response
from service.errors import conflict, invalid, problem
from service.fhir.bundle import BundleIndex
from service.fhir.json import obj, objs, text_of
from service.pas.bundle import identifier_key
from service.pas.claimresponse import CANCEL, DETERMINATION_ID_SYSTEM, PAS, Adjudication, build_claim_response
from service.pas.information import build_information_request
from service.pas.request import SubmitRequest
from service.policies.registry import get_policy
from service.storage import claims as repo

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


def adjudicate(req: SubmitRequest, settings, due: datetime | None = None) -> Adjudication:
    """The engine's determination for a request, as the ClaimResponse states it.

    A cancelled request is cancelled; an approval resting on a questionnaire still in progress is
    pended until the provider completes it (issue: an in-progress form is not documentation).
    """
    if req.cancelled or (req.items and {i.get("sequence") for i in req.items} <= req.cancelled_items):
        return Adjudication(CANCEL, reviewer={"human": False})
    det = score_response(req.policy, req.answers, deny_requires_review=settings.deny_requires_review,
                         default_period_months=settings.default_auth_months)
    qr = req.questionnaire_response
    incomplete = qr is not None and qr.get("status") not in ("completed", "amended")
    decision = PEND if det.decision == APPROVE and incomplete else det.decision
    return Adjudication(decision, det.reasons, det.period_months if decision == APPROVE else None, det.path,
                        det.would_deny, reviewer={"human": False}, cancelled_items=req.cancelled_items,
                        due=due if decision == PEND else None, incomplete=incomplete)


# CMS-0057-F decision timeframes from receipt: 72 hours expedited, 7 calendar days standard.
DUE_WITHIN = {"expedited": timedelta(hours=72), "standard": timedelta(days=7)}


def request_priority(claim: dict) -> str:
    """expedited when Claim.priority is `stat` (FHIR processpriority; X12 278 UM06 urgent), else standard."""
    codes = {text_of(c.get("code")) for c in objs(obj(claim.get("priority")).get("coding"))}
    return "expedited" if "stat" in codes else "standard"


def submit(storage, settings, req: SubmitRequest, owner: str | None = None) -> repo.Stored:
    """Replay a stored determination for a known key; apply an update or cancel to the request it
    names; else decide, store and return a new one.

    `owner` (the calling client or its organization) scopes the idempotency key too: re-sending
    another client's Bundle makes a new request of your own, never a read of theirs.
    """
    key = f"{owner}|{req.idempotency_key}" if owner else req.idempotency_key
    known = repo.find_by_key(storage, key) or repo.find_update(storage, key)
    if known is None and req.prior:
        return amend(storage, settings, req, key, owner)
    if known is None:
        known = create(storage, settings, req, key, owner)
    if known.claim.request_hash != req.digest and known.response.source_key is None:
        raise conflict(
            f"identifier {req.idempotency_key.split(':', 1)[1]} was already used for a different "
            "request; send a new Bundle.identifier for a new request", code="duplicate")
    return known


def questionnaire_row(req: SubmitRequest) -> dict | None:
    qr = req.questionnaire_response
    return None if qr is None else {"questionnaire": text_of(qr.get("questionnaire")), "answers": req.answers,
                                    "resource": qr}


def create(storage, settings, req: SubmitRequest, key: str, owner: str | None) -> repo.Stored:
    """A new request: decide, and store claim, answers, determination and audit event at once."""
    now = datetime.now(UTC).replace(microsecond=0)
    priority = request_priority(req.claim)
    due = now + DUE_WITHIN[priority]
    outcome = adjudicate(req, settings, due)
    response_id, number = str(uuid.uuid4()), new_review_number(now)
    resource = build_claim_response({**req.claim, "insurer": req.insurer}, claim_reference(req), req.policy, outcome,
                                    response_id=response_id, version=1, number=number, created=now,
                                    x12=settings.x12_reasons)
    claim_ident = next((identifier_key(i) for i in objs(req.claim.get("identifier"))), None)
    patient = obj(req.claim.get("patient")).get("reference")
    return repo.save_submission(storage, claim={
        "priority": priority, "due_at": due, "decided_at": None if outcome.decision == PEND else now,
        "id": uuid.uuid4().hex, "idempotency_key": key, "owner": owner,
        "payer_id": req.policy.payer_id, "claim_identifier": claim_ident,
        "patient_ref": reference_key(patient) if isinstance(patient, str) else None,
        "provider_ref": req.provider_key, "member_key": req.member_key,
        "request_ref": search_reference(req), "request_hash": req.digest,
        "request": req.bundle, "response_id": response_id, "decision": outcome.decision,
    }, questionnaire=questionnaire_row(req),
        response={"resource": resource, "decision": outcome.decision,
                  "review_code": resource_action_code(resource), "auth_number": number})


def amend(storage, settings, req: SubmitRequest, key: str, owner: str | None) -> repo.Stored:
    """A claim update or cancel (PAS claim-update, Claim.related): the earlier request is re-scored
    with what the update carries and its ClaimResponse gets a new version, same id and number."""
    earlier = repo.find_by_claim_identifier(storage, req.prior or "", owner)
    if earlier is None:
        raise invalid(problem("Claim.related.claim.identifier", "names no earlier request of yours to update"))
    if earlier.claim.payer_id != req.policy.payer_id:
        raise invalid(problem("Claim.insurance", "an update must go to the same payer as the request it updates"))
    if earlier.claim.decision == CANCEL:
        raise conflict(f"ClaimResponse/{earlier.response.response_id} was cancelled; send a new request")
    now = datetime.now(UTC).replace(microsecond=0)

    def build(current: repo.Stored) -> dict:
        outcome = adjudicate(req, settings, current.claim.due_at)
        number = current.response.auth_number or ""
        resource = build_claim_response({**req.claim, "insurer": req.insurer}, claim_reference(req), req.policy,
                                        outcome, response_id=current.response.response_id,
                                        version=current.claim.current_version + 1, number=number, created=now,
                                        x12=settings.x12_reasons)
        return {"resource": resource, "decision": outcome.decision,
                "review_code": resource_action_code(resource), "auth_number": number}

    return repo.add_review(storage, earlier.response.response_id, owner or "pas-client", build, human=False,
                           action="update", request=req.bundle, request_hash=req.digest,
                           questionnaire=questionnaire_row(req), source_key=key)


def resource_action_code(resource: dict) -> str:
    """The X12 306 code the response carries (first reviewed item), kept as a column for listing;
    'CX' (no X12 306 code: our own) when every item was cancelled."""
    for item in resource["item"]:
        for ext in item["adjudication"][0].get("extension", []):
            for part in ext["extension"]:
                if part["url"].endswith("extension-reviewActionCode"):
                    return part["valueCodeableConcept"]["coding"][0]["code"]
    return "CX"


ECHOED_REFERENCES = ("practitioner", "organization", "location", "managingOrganization", "partOf")


def echoed_entries(request_bundle: dict, claim_response: dict) -> list[dict]:
    """Request resources the ClaimResponse references, and those they reference in turn (the
    PractitionerRole's Practitioner, Organization and Location), with their request fullUrls
    (PAS spec-33): every reference in the response Bundle resolves inside it."""
    index, out, seen = BundleIndex(request_bundle), [], set()
    queue = [claim_response.get(k) for k in ("patient", "insurer", "requestor")]
    queue += [p.get("valueReference") for i in objs(claim_response.get("item")) for e in objs(i.get("extension"))
              for p in objs(e.get("extension")) if p.get("url") == "provider"]
    while queue:
        entry = index.entry_for(queue.pop(0))
        if entry is None or not isinstance(entry.get("fullUrl"), str) or entry["fullUrl"] in seen:
            continue
        seen.add(entry["fullUrl"])
        out.append({"fullUrl": entry["fullUrl"], "resource": entry["resource"]})
        queue += [obj(entry["resource"]).get(k) for k in ECHOED_REFERENCES]
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
    policy = get_policy(stored.claim.payer_id)
    if policy is not None and not inquiry:  # the pend's request for information travels with it
        bundle["entry"] += [{"fullUrl": f"{base}/fhir/{r['resourceType']}/{r['id']}", "resource": r}
                            for r in build_information_request(resource, policy, base)]
    return bundle
