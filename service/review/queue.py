"""The queue's rows: due time from receipt (CMS-0057-F: 72 hours expedited, 7 days standard), time left, overdue."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.engine.evaluate import EXCLUDED, NOT_MET, score_response
from service.fhir.adjudication import reason_codes
from service.policies.concepts import CONCEPTS
from service.policies.registry import all_policies
from service.review.report import DECISIONS
from service.storage.tables import Claim, ClaimResponseRow

# What an open case waits for, in the words the desk shows (issue 22): the first that holds.
STATES = {"physician": "Routed to a physician", "info-requested": "Information requested: with the provider",
          "would-deny": "Criteria not met: needs a physician", "missing": "Missing information"}


def case_state(claim: Claim, response: ClaimResponseRow) -> tuple[str, str]:
    """(key, words) for a case: decided ones by their decision; open ones by what they wait for."""
    if claim.decision != "pend":
        return claim.decision, DECISIONS.get(claim.decision, claim.decision)
    if claim.routed_to:
        return "physician", STATES["physician"]
    if response.human_reviewed:  # a pended version a reviewer made: they asked the provider for information
        return "info-requested", STATES["info-requested"]
    if response.unmet is not None:  # stored with the version (0010)
        return ("would-deny", STATES["would-deny"]) if response.unmet else ("missing", STATES["missing"])
    policy = all_policies().get(claim.payer_id)
    if response.scored and policy is not None:
        det = score_response(policy, response.scored["answers"])
        if any(r.status in (NOT_MET, EXCLUDED) for r in det.reasons):
            return "would-deny", STATES["would-deny"]
    return "missing", STATES["missing"]


@dataclass(frozen=True)
class QueueRow:
    response_id: str
    number: str
    payer: str
    priority: str
    status: str
    received: datetime | None
    due: datetime | None
    left: str
    overdue: bool
    reasons: tuple[str, ...]
    state: str = "missing"  # a STATES key, or the decision of a decided case
    state_words: str = ""
    assigned_to: str | None = None
    since: datetime | None = None  # information requested: when the provider was asked (the current version)


def span(seconds: float) -> str:
    """A duration in days and hours, or hours and minutes under a day."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    return f"{days} d {hours} h" if days else f"{hours} h {mins} min"


def time_left(due: datetime | None, decided: bool, now: datetime) -> tuple[str, bool]:
    """('2 d 4 h left', False) or ('overdue by 3 h 0 min', True); decided requests have no clock."""
    if decided:
        return "decided", False
    if due is None:
        return "no due time", False
    seconds = (due - now).total_seconds()
    return (f"{span(seconds)} left", False) if seconds >= 0 else (f"overdue by {span(-seconds)}", True)


def queue_row(claim: Claim, response: ClaimResponseRow, now: datetime) -> QueueRow:
    policy = all_policies().get(claim.payer_id)
    due = claim.due_at
    left, overdue = time_left(due, claim.decision != "pend", now)
    reasons = tuple(CONCEPTS[c].display if c in CONCEPTS else c for c in reason_codes(response.resource))
    state, words = case_state(claim, response)
    since = response.created_at if state == "info-requested" else None
    return QueueRow(claim.response_id, response.auth_number or "", policy.payer_name if policy else claim.payer_id,
                    claim.priority, DECISIONS.get(claim.decision, claim.decision), claim.created_at, due,
                    left, overdue, reasons, state, words, claim.assigned_to, since)
