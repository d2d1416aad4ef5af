"""Claim/$submit: score a PAS request, store the determination durably, answer a PAS response Bundle."""
from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from service.engine.evaluate import APPROVE, EXCLUDED, NOT_MET, PEND, score_response
from service.errors import conflict, invalid, problem
from service.fhir.adjudication import search_name
from service.fhir.json import obj, objs, text_of
from service.pas.bundle import absolute_references, identifier_key, response_entries
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
    operational = decision == APPROVE and not req.policy.period_for(det.request_type).stated_in_policy
    return Adjudication(decision, det.reasons, det.period_months if decision == APPROVE else None, det.path,
                        det.would_deny, reviewer={"human": False}, cancelled_items=req.cancelled_items,
                        due=due if decision == PEND else None, incomplete=incomplete,
                        operational_period=operational)


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
    if req.updates:
        # An update is keyed by its content: one authorization's steps may share a Bundle.identifier (the
        # PAS IG's and the Inferno kit's update chains do), and a retried update still replays.
        key = f"{owner}|update:{req.digest}" if owner else f"update:{req.digest}"
        return repo.find_update(storage, key) or amend(storage, settings, req, key, owner)
    key = f"{owner}|{req.idempotency_key}" if owner else req.idempotency_key
    # One indexed lookup (the key's claim, else a version an update made under it); a new key is
    # decided and stored on the same connection (issue 25).
    known = repo.submit_once(storage, key, lambda: new_submission(settings, req, key, owner))
    if known.claim.request_hash != req.digest and known.response.source_key is None:
        raise conflict(
            f"identifier {req.idempotency_key.split(':', 1)[1]} was already used for a different "
            "request; send a new Bundle.identifier for a new request", code="duplicate")
    return known


def found_unmet(outcome: Adjudication) -> bool:
    """A criterion scored not met or excluding (what only a physician may approve over): kept with the
    version so the desk's queue state is a column (claim_responses.unmet)."""
    return any(r.status in (NOT_MET, EXCLUDED) for r in outcome.reasons)


def scored_on(req: SubmitRequest, now: datetime) -> dict:
    """What this version is scored on (claim_responses.scored, issue 27): the desk and a review read these
    answers back instead of reading the request again with a later date."""
    return {"answers": dict(req.answers), "as_of": now.date().isoformat(), "policy": req.policy.version}


def questionnaire_row(req: SubmitRequest) -> dict | None:
    qr = req.questionnaire_response
    return None if qr is None else {"questionnaire": text_of(qr.get("questionnaire")), "answers": req.answers,
                                    "resource": qr}


def new_submission(settings, req: SubmitRequest, key: str, owner: str | None) -> dict:
    """A new request decided: the claim, questionnaire and response rows save_submission stores."""
    now = datetime.now(UTC).replace(microsecond=0)
    priority = request_priority(req.claim)
    due = now + DUE_WITHIN[priority]
    outcome = adjudicate(req, settings, due)
    response_id, number = str(uuid.uuid4()), new_review_number(now)
    resource = build_claim_response({**req.claim, "insurer": req.insurer}, claim_reference(req), req.policy, outcome,
                                    response_id=response_id, version=1, number=number, created=now,
                                    x12=settings.x12_reasons)
    resource = absolute_references(resource, settings.public_base_url, req.bundle)
    claim_ident = next((identifier_key(i) for i in objs(req.claim.get("identifier"))), None)
    patient = obj(req.claim.get("patient")).get("reference")
    return {"claim": {
        "priority": priority, "created_at": now, "due_at": due, "decided_at": None if outcome.decision == PEND else now,
        "id": uuid.uuid4().hex, "idempotency_key": key, "owner": owner,
        "payer_id": req.policy.payer_id, "claim_identifier": claim_ident,
        "patient_ref": reference_key(patient) if isinstance(patient, str) else None,
        "patient_name": search_name(req.index.resolve(req.claim.get("patient"), "Patient")),
        "provider_ref": req.provider_key, "member_key": req.member_key,
        "request_ref": search_reference(req), "request_hash": req.digest,
        "request": req.bundle, "response_id": response_id, "decision": outcome.decision,
    }, "questionnaire": questionnaire_row(req),
        "response": {"resource": resource, "decision": outcome.decision, "scored": scored_on(req, now),
                     "unmet": found_unmet(outcome),
                     "review_code": resource_action_code(resource), "auth_number": number}}


def find_earlier(storage, req: SubmitRequest, owner: str | None) -> repo.Stored:
    """The authorization chain an update names by any of its Claims, the caller's own (or a 422)."""
    earlier = repo.find_chain(storage, identifiers=req.prior_identifiers, references=req.prior_references,
                              owner=owner)
    path = "Claim.related.claim.identifier" if req.prior_identifiers else "Claim.related.claim.reference"
    if earlier is None:
        raise invalid(problem(path, "names no earlier request of yours to update"))
    if earlier.claim.payer_id != req.policy.payer_id:
        raise invalid(problem("Claim.insurance", "an update must go to the same payer as the request it updates"))
    if req.member_key and earlier.claim.member_key and req.member_key != earlier.claim.member_key:
        raise invalid(problem("Claim.patient", "an update must be for the member of the request it updates"))
    if earlier.claim.decision == CANCEL:
        raise conflict(f"ClaimResponse/{earlier.response.response_id} was cancelled; send a new request")
    return earlier


def answered_items(req: SubmitRequest, current: repo.Stored) -> list:
    """The items the response answers: the update's own; for a whole cancel sent without items, those of
    the request it cancels (PAS 2.2.1 spec-46: current results for every item)."""
    if req.items:
        return req.items
    earlier = obj(obj((objs(obj(current.claim.request).get("entry")) or [{}])[0]).get("resource"))
    return objs(earlier.get("item"))


def amend(storage, settings, req: SubmitRequest, key: str, owner: str | None) -> repo.Stored:
    """A claim update or cancel (PAS claim-update, Claim.related): the chain's request is re-scored with
    what the update carries and its ClaimResponse gets a new version, same id and number."""
    earlier = find_earlier(storage, req, owner)
    now = datetime.now(UTC).replace(microsecond=0)

    def build(current: repo.Stored) -> dict:
        outcome = adjudicate(req, settings, current.claim.due_at)
        number = current.response.auth_number or ""
        claim = {**req.claim, "insurer": req.insurer, "item": answered_items(req, current)}
        resource = build_claim_response(claim, claim_reference(req), req.policy,
                                        outcome, response_id=current.response.response_id,
                                        version=current.claim.current_version + 1, number=number, created=now,
                                        x12=settings.x12_reasons)
        resource = absolute_references(resource, settings.public_base_url, req.bundle)
        return {"resource": resource, "decision": outcome.decision, "scored": scored_on(req, now),
                "unmet": found_unmet(outcome), "review_code": resource_action_code(resource), "auth_number": number}

    return repo.add_review(storage, earlier.response.response_id, owner or repo.UNAUTHENTICATED, build, human=False,
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


def response_bundle(base: str, stored: repo.Stored, *, inquiry: bool = False) -> dict:
    """PAS response Bundle: collection, identifier, timestamp, ClaimResponse first (ClaimResponseFirst), every
    resource an entry references in it exactly once."""
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
    }
    policy = get_policy(stored.claim.payer_id)
    # The pend's request for information travels with it, on $inquire too (its current Task and
    # CommunicationRequest: the inquirer learns what is still needed).
    asked = build_information_request(resource, policy, base, request_bundle) if policy is not None else []
    bundle["entry"] = response_entries(base, [resource, *asked], request_bundle)
    return bundle
