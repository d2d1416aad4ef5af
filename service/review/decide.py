"""A reviewer's action on a pended request: the UM rule table is asked, then a new ClaimResponse version
(PAS 2.2), or, for a route to a physician, a recorded hand-off with no new version."""
from __future__ import annotations

from datetime import date

from service.auth import policy
from service.auth.guard import access_event
from service.auth.policy import Principal
from service.engine.evaluate import score_response
from service.errors import not_found
from service.pas.review import ROUTE_TO_PHYSICIAN, ReviewAction, build_review, check_pended, not_met, rescore
from service.review.auth import now_utc
from service.storage import claims as repo
from service.storage import desk
from service.storage.access import record_access

WORDS = {"approve": "approved", "deny": "denied", "request-info": "asked for information",
         ROUTE_TO_PHYSICIAN: "routed to a physician reviewer"}


def reviewer_of(principal: Principal) -> dict:
    """How the ClaimResponse names who decided: a person by their account (and its NPI), a system as not human."""
    if principal.is_person:
        return {"human": True, "npi": principal.npi, "by": principal.describe()
                + (f" (NPI {principal.npi})" if principal.npi else "")}
    return {"human": False, "npi": None, "by": f"the payer's system {principal.id} (not a human review)"}


def scored_of(current: repo.Stored, default_months: int):
    """What the current version was scored on: its stored snapshot (answers, as-of date), else the stored
    request read again (versions stored before snapshots existed)."""
    snapshot = current.response.scored
    if not snapshot:
        return rescore(current, default_months)
    req, policy_, _ = rescore(current, default_months)  # the claim and insurer; the answers are the snapshot's
    det = score_response(policy_, snapshot["answers"], default_period_months=default_months)
    return req, policy_, det


def snapshot(answers: dict, as_of: date, policy_version: str) -> dict:
    """The scoring snapshot a version stores (claim_responses.scored)."""
    return {"answers": answers, "as_of": as_of.isoformat(), "policy": policy_version}


def apply_action(storage, settings, response_id: str, principal: Principal, action: ReviewAction) -> repo.Stored:
    """Store the reviewer's version through add_review (compare-and-set), after the UM rule table allows it."""
    policy.require(principal, policy.REVIEW)
    if action.decision == ROUTE_TO_PHYSICIAN:
        return route_to_physician(storage, response_id, principal, action)

    stored = repo.add_review(storage, response_id, principal.id,
                             lambda current: decided_version(current, settings, principal, action),
                             human=principal.is_person)
    record_decision(storage, stored, principal, action.decision)
    return stored


def decided_version(current: repo.Stored, settings, principal: Principal, action: ReviewAction) -> dict:
    """The new version's fields, after the UM table allows the decision on what the version was scored on."""
    check_pended(current)
    scored = scored_of(current, settings.default_auth_months)
    policy.require_decision(principal, action.decision, not_met(scored[2]), current.claim.owner)
    fields = build_review(current, action, default_months=settings.default_auth_months, now=now_utc(),
                          reviewer=reviewer_of(principal), x12=settings.x12_reasons, scored=scored,
                          base=settings.public_base_url)
    if action.decision == "deny":  # UM practice: every adverse decision offers a peer-to-peer and an appeal
        offer_peer_to_peer(fields["resource"], settings.contact_for(current.claim.payer_id))
    kept = current.response.scored or snapshot(dict(scored[0].answers), now_utc().date(), scored[1].version)
    return {**fields, "scored": kept}


def offer_peer_to_peer(resource: dict, contact: str) -> None:
    """Add the payer's peer-to-peer and appeal contact to a denial's notes (ClaimResponse.processNote)."""
    notes = resource.setdefault("processNote", [])
    notes.append({"number": len(notes) + 1, "type": "display",
                  "text": f"Peer-to-peer review and appeal: the prescriber may discuss this decision with the "
                          f"reviewing physician or appeal it. {contact}"})


def preview_action(storage, settings, response_id: str, principal: Principal, action: ReviewAction) -> dict:
    """The ClaimResponse the provider would receive, built and checked as apply_action would, not stored."""
    policy.require(principal, policy.REVIEW)
    current = repo.get_response(storage, response_id)
    if current is None:
        raise not_found(f"ClaimResponse/{response_id}")
    return decided_version(current, settings, principal, action)["resource"]


def route_to_physician(storage, response_id: str, principal: Principal, action: ReviewAction) -> repo.Stored:
    """A nurse's (or payer system's) hand-off: the case now waits for a physician; the trail says who and why."""
    current = repo.get_response(storage, response_id)
    if current is None:
        raise not_found(f"ClaimResponse/{response_id}")
    check_pended(current)
    policy.require_decision(principal, ROUTE_TO_PHYSICIAN, (), current.claim.owner)
    desk.route_case(storage, current.claim.id, "physician", principal.id, action.note)
    record_decision(storage, current, principal, ROUTE_TO_PHYSICIAN)
    found = repo.get_response(storage, response_id)
    assert found is not None
    return found


def record_decision(storage, stored: repo.Stored, principal: Principal, decision: str) -> None:
    """Every reviewer decision in the access trail, under the organization whose request it is."""
    event = access_event(principal, "U", "ClaimResponse", stored.claim.response_id, 200, "/pas/review",
                         detail=f"{WORDS[decision]} by {principal.describe()}", owner=stored.claim.owner)
    record_access(storage, [event])


__all__ = ["apply_action", "preview_action", "reviewer_of", "snapshot"]
