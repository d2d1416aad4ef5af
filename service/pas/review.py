"""Clinical review of a pended determination (PAS 2.2): the reviewer's action as a new ClaimResponse version.

Pure: the reviewer desk's JSON API and its pages (service/review/) both read an action with
`read_action` and build the version with `build_review`, inside storage's compare-and-set.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from service.engine.evaluate import (
    APPROVE,
    DENY,
    EXCLUDED,
    NOT_MET,
    PEND,
    UNKNOWN,
    Determination,
    Reason,
    score_response,
)
from service.errors import conflict, invalid, problem
from service.pas.bundle import absolute_references
from service.pas.claimresponse import Adjudication, build_claim_response
from service.pas.request import SubmitRequest, read_submit
from service.pas.submit import claim_reference, resource_action_code
from service.policies.model import Fact, Policy, Review, walk
from service.policies.registry import require_policy
from service.storage.claims import Stored

REQUEST_INFO = "request-info"  # PAS 2.2 "pended: additional information requested" (X12 306 A4)
ROUTE_TO_PHYSICIAN = "route-to-physician"  # a nurse's or system's hand-off: no new version, recorded
ACTIONS = (APPROVE, DENY, REQUEST_INFO, ROUTE_TO_PHYSICIAN)
NOTE_LIMIT = 4000
MAX_MONTHS = 24

# The reviewer API's routes live with the reviewer desk (service/review/api.py), behind its accounts.


@dataclass(frozen=True)
class ReviewAction:
    """What a reviewer decided: approve (for `months`), deny (for `concepts`), ask for `concepts`, or route."""

    decision: str
    note: str
    months: int | None = None
    concepts: tuple[str, ...] = ()


def read_action(body: object) -> ReviewAction:
    """{"decision", "note", "months"?, "concepts"?} or one 422 naming every problem. The reviewer's NPI
    is never read from the body: a person's comes from their account (issue 20)."""
    problems = []
    data = body if isinstance(body, Mapping) else {}
    decision = data.get("decision")
    if decision not in ACTIONS:
        problems.append(problem("decision", "must be 'approve', 'deny', 'request-info' or 'route-to-physician'"))
    note = data.get("note")
    if not isinstance(note, str) or not note.strip() or len(note) > NOTE_LIMIT:
        problems.append(problem("note", f"the reviewer's reason, in words (at most {NOTE_LIMIT} characters), is required"))
    if "reviewerNpi" in data:
        problems.append(problem("reviewerNpi", "is not accepted: a person's NPI is the one on their desk account, "
                                "and a system's review names the system, not an NPI"))
    months = data.get("months")
    if months is not None and not (type(months) is int and 1 <= months <= MAX_MONTHS):
        problems.append(problem("months", f"must be a whole number of months from 1 to {MAX_MONTHS}"))
    concepts = data.get("concepts", [])
    if not isinstance(concepts, list) or not all(isinstance(c, str) for c in concepts):
        problems.append(problem("concepts", "must be a list of pa-criteria codes"))
        concepts = []
    elif decision == REQUEST_INFO and not concepts:
        problems.append(problem("concepts", "name at least one criterion whose information is needed"))
    if problems:
        raise invalid(problems)
    return ReviewAction(str(decision), str(note).strip(), months, tuple(dict.fromkeys(concepts)))


def concept_cites(policy: Policy) -> dict[str, str]:
    """Each concept's first citation in the policy (criteria tree, then exclusions)."""
    cites: dict[str, str] = {}
    for node in walk(policy.criteria):
        if isinstance(node, (Fact, Review)) and node.cite:
            cites.setdefault(node.concept, node.cite)
    for exclusion in policy.exclusions:
        cites.setdefault(exclusion.when.concept, exclusion.cite)
    return cites


def rescore(current: Stored, default_months: int) -> tuple[SubmitRequest, Policy, Determination]:
    """The stored request read again and scored as it was (it was read once before it was stored)."""
    req = read_submit(current.claim.request)
    policy = require_policy(current.claim.payer_id)
    return req, policy, score_response(policy, req.answers, default_period_months=default_months)


def approval_months(policy: Policy, det: Determination, default_months: int) -> int:
    """The policy's declared period for the request type (FEP 3 initial / 6 renewal), else the default."""
    period = policy.periods.get(det.request_type) or policy.periods["initial"]
    return period.months if period.months is not None else default_months


def chosen_reasons(policy: Policy, det: Determination, concepts: tuple[str, ...], status: str) -> tuple[Reason, ...]:
    """The reviewer's concepts as reasons, each with the engine's finding or else the policy's words."""
    cites, known = concept_cites(policy), {r.concept: r for r in det.reasons}
    unknown = [c for c in concepts if c not in cites]
    if unknown:
        raise invalid(problem("concepts", f"not criteria of the {policy.payer_name} policy: {', '.join(unknown)}"))
    return tuple(known.get(c) or Reason(c, status, cites[c], "") for c in concepts)


def not_met(det: Determination) -> tuple[str, ...]:
    """The concepts the engine found not met or excluding: what only a physician may approve over."""
    return tuple(dict.fromkeys(r.concept for r in det.reasons if r.status in (NOT_MET, EXCLUDED)))


def review_outcome(policy: Policy, det: Determination, action: ReviewAction, default_months: int,
                   reviewer: Mapping[str, object]) -> Adjudication:
    """The reviewer's action as the ClaimResponse will state it (same number). `reviewer`: human (bool),
    npi (a person's account NPI), by (who, in words); an approval over not-met criteria names them."""
    reviewer = dict(reviewer)
    if action.decision == APPROVE:
        months = action.months or approval_months(policy, det, default_months)
        operational = action.months is None and not policy.period_for(det.request_type).stated_in_policy
        return Adjudication(APPROVE, (), months, note=action.note, reviewer={**reviewer, "accepted": not_met(det)},
                            operational_period=operational)
    if action.decision == DENY:
        reasons = chosen_reasons(policy, det, action.concepts, NOT_MET) if action.concepts else det.reasons
        return Adjudication(DENY, reasons, note=action.note, reviewer=reviewer)
    needed = tuple(Reason(r.concept, UNKNOWN, r.cite, r.path)
                   for r in chosen_reasons(policy, det, action.concepts, UNKNOWN))
    return Adjudication(PEND, needed, note=action.note, reviewer=reviewer)


def check_pended(current: Stored) -> None:
    """409 unless the request is still pended (a decided one is final; an appeal is a new request)."""
    if current.claim.decision != PEND:
        raise conflict(f"ClaimResponse/{current.claim.response_id} is already final "
                       f"({current.claim.decision}); only pended ones are reviewed")


def build_review(current: Stored, action: ReviewAction, *, default_months: int, now: datetime,
                 reviewer: Mapping[str, object], x12: Mapping[str, str] | None = None,
                 scored: tuple[SubmitRequest, Policy, Determination] | None = None, base: str | None = None) -> dict:
    """The next ClaimResponse version's fields for storage.claims.add_review; 409 unless still pended."""
    check_pended(current)
    req, policy, det = scored or rescore(current, default_months)
    outcome = review_outcome(policy, det, action, default_months, reviewer)
    number = current.response.auth_number or ""  # every stored determination has its number
    resource = build_claim_response(
        {**req.claim, "insurer": req.insurer}, claim_reference(req), policy, outcome,
        response_id=current.claim.response_id, version=current.claim.current_version + 1, number=number,
        created=now, x12=x12)
    if base is not None:  # stored as served: references absolute, as $submit's versions (pas/bundle.py)
        resource = absolute_references(resource, base, current.claim.request)
    return {"resource": resource, "decision": outcome.decision,
            "review_code": resource_action_code(resource), "auth_number": number}


__all__ = ["ACTIONS", "REQUEST_INFO", "ROUTE_TO_PHYSICIAN", "ReviewAction", "approval_months", "build_review",
           "check_pended", "concept_cites", "not_met", "read_action", "rescore", "review_outcome"]
