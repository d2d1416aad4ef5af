"""PAS 2.2 ClaimResponse for a determination (profile-claimresponse, item.adjudication reviewAction)."""
from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from service.engine.evaluate import APPROVE, DENY, EXCLUDED, NOT_MET, PEND, REVIEW, UNKNOWN, Reason
from service.fhir.npi import NPI_SYSTEM
from service.policies.concepts import SYSTEM as CRITERIA_SYSTEM
from service.policies.concepts import get_concept
from service.policies.drug import BESPONSA
from service.policies.model import Policy

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition"
REVIEW_ACTION = f"{PAS}/extension-reviewAction"
REVIEW_ACTION_CODE = f"{PAS}/extension-reviewActionCode"
ITEM_PREAUTH_PERIOD = f"{PAS}/extension-itemPreAuthPeriod"
ITEM_PREAUTH_ISSUE_DATE = f"{PAS}/extension-itemPreAuthIssueDate"
ITEM_AUTHORIZED_PROVIDER = f"{PAS}/extension-itemAuthorizedProvider"
AUTHORIZED_PROVIDER_TYPE = f"{PAS}/extension-authorizedProviderType"
REVIEWER = f"{PAS}/extension-claimResponseReviewer"
PROFILE = f"{PAS}/profile-claimresponse"
X12_306 = "https://codesystem.x12.org/005010/306"
X12_98 = "https://codesystem.x12.org/005010/98"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
DETERMINATION_ID_SYSTEM = "http://example.org/fhir/sid/pa-determination"
NPI = NPI_SYSTEM  # one spelling of the NPI system (service/fhir/npi.py)
# X12 306 (HCR01) review action codes, as PAS 2.2 binds reviewActionCode.
ACTION_CODES = {APPROVE: ("A1", "Certified in total"), DENY: ("A3", "Not Certified"),
                PEND: ("A4", "Pended")}
STATUS_WORDS = {NOT_MET: "not met", UNKNOWN: "not answered or unknown; needed to decide",
                EXCLUDED: "excluded by the policy", REVIEW: "needs a clinician's review"}


@dataclass(frozen=True)
class Adjudication:
    decision: str
    reasons: tuple[Reason, ...] = ()
    months: int | None = None
    path: str | None = None
    would_deny: bool = False
    note: str | None = None  # a reviewer's own words
    # {"human": bool, "npi": account NPI | None, "by": who decided in words, "accepted": concepts a
    # clinician accepted on judgement over the engine's finding}; None: the engine's own determination.
    reviewer: dict | None = None
    cancelled_items: frozenset[int] = frozenset()  # item sequences the provider cancelled
    due: datetime | None = None  # CMS-0057-F decision due time, shown while pended
    incomplete: bool = False  # the QuestionnaireResponse was sent in progress
    # The months are the payer's operational default, not the policy's (issue 21): said so on the response.
    operational_period: bool = False


CANCEL = "cancel"  # the provider cancelled the whole request: the authorization ends
ITEM_TRACE_NUMBER = f"{PAS}/extension-itemTraceNumber"
DECISION_DUE = "http://example.org/fhir/StructureDefinition/decision-due"


def add_months(start: date, months: int) -> date:
    """Calendar months later, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    y, m = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, m + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def describe_reason(reason: Reason) -> str:
    """Plain words naming the concept, what is wrong and the policy's own sentence."""
    concept = get_concept(reason.concept)
    where = f" [{reason.path}]" if reason.path else ""
    return (f"{concept.display} ({reason.concept}): {STATUS_WORDS.get(reason.status, reason.status)}"
            f"{where}. Policy: \"{reason.cite}\"")


def period_words(policy: Policy, outcome: Adjudication) -> str:
    """How long, and on whose authority: the policy's period, or the payer's operational default."""
    if outcome.operational_period:
        return (f"{outcome.months} months: the payer's operational default; the {policy.payer_name} policy "
                "states no period")
    return f"{outcome.months} months"


def reviewed_how(reviewer: dict | None) -> str:
    """' on clinical review' for a person's decision, ' on the payer's system review' for a client's, '' for the engine's."""
    if not reviewer or not reviewer.get("by"):
        return " on clinical review" if reviewer and reviewer.get("human") else ""
    return " on clinical review" if reviewer.get("human") else " on the payer's system review"


def disposition(policy: Policy, outcome: Adjudication, period: dict[str, str] | None) -> str:
    """The decision in one plain sentence (ClaimResponse.disposition)."""
    names = ", ".join(dict.fromkeys(get_concept(r.concept).display for r in outcome.reasons))
    who = policy.payer_name
    if outcome.decision == APPROVE and period is not None:
        accepted = ", ".join(get_concept(c).display for c in (outcome.reviewer or {}).get("accepted", ()))
        if accepted:  # an override is never stated as meeting the criteria (issue 20)
            return (f"Approved on clinical review: the {who} criteria were not all met as documented; the "
                    f"reviewer accepted on clinical judgement: {accepted}; authorized "
                    f"{period['start']} to {period['end']} ({period_words(policy, outcome)}).")
        how = reviewed_how(outcome.reviewer)
        return (f"Approved{how}: Besponsa ({BESPONSA.code.code}) meets the {who} criteria; authorized "
                f"{period['start']} to {period['end']} ({period_words(policy, outcome)}).")
    if outcome.decision == DENY:
        return f"Denied: the {who} criteria are not met ({names or 'clinical review'})."
    if outcome.decision == CANCEL:
        return "Cancelled at the provider's request; any authorization under this number has ended."
    if outcome.incomplete and not outcome.reasons:
        return (f"Pended: the {who} questionnaire was sent in progress, not completed; complete it and "
                "send it again (a claim update), and the request is decided then.")
    if outcome.would_deny:
        return (f"Pended for a clinician's review: the answers do not meet the {who} criteria "
                f"({names}); a denial needs a clinician's signature.")
    return f"Pended: the {who} criteria cannot be decided yet; needed: {names}."


X12_886 = "https://codesystem.x12.org/external/886"


def review_action(outcome: Adjudication, number: str, x12: Mapping[str, str] | None = None) -> dict:
    """PAS reviewAction: the X12 306 action, the number, and a reasonCode per criterion: the payer's
    X12 886 code first where X12_REASON_CODES maps the concept (or its reason kind), ours beside it."""
    code, display = ACTION_CODES[outcome.decision]
    subs = [{"url": REVIEW_ACTION_CODE,
             "valueCodeableConcept": {"coding": [{"system": X12_306, "code": code,
                                                  "display": display}]}},
            {"url": "number", "valueString": number}]
    first: dict[str, Reason] = {}
    for r in outcome.reasons:
        first.setdefault(r.concept, r)
    for reason in first.values():
        ours = {"system": CRITERIA_SYSTEM, "code": reason.concept, "display": get_concept(reason.concept).display}
        theirs = (x12 or {}).get(reason.concept) or (x12 or {}).get(reason.status)
        codings = [{"system": X12_886, "code": theirs}, ours] if theirs else [ours]
        subs.append({"url": "reasonCode", "valueCodeableConcept": {"coding": codings}})
    return {"url": REVIEW_ACTION, "extension": subs}


def reviewer_extension(reviewer: dict | None) -> dict:
    subs = [{"url": "wasHumanReviewedFlag", "valueBoolean": bool(reviewer and reviewer.get("human"))}]
    if reviewer and reviewer.get("npi"):
        subs.append({"url": "reviewerNPI", "valueIdentifier": {"system": NPI, "value": reviewer["npi"]}})
    return {"url": REVIEWER, "extension": subs}


def build_item(claim_item: dict, claim: dict, outcome: Adjudication, number: str,
               notes: list[int], period: dict | None, issued: str, x12: Mapping[str, str] | None = None) -> dict:
    """One response item echoing Claim.item.sequence and its trace number (PAS 2.2 spec-34)."""
    cancelled = outcome.decision == CANCEL or claim_item.get("sequence") in outcome.cancelled_items
    ext = [e for e in claim_item.get("extension") or () if isinstance(e, dict) and e.get("url") == ITEM_TRACE_NUMBER]
    if cancelled:  # no review action: the provider withdrew the item; the note says so
        return {"extension": ext, "itemSequence": claim_item.get("sequence", 1), "noteNumber": notes,
                "adjudication": [{"category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]}}]}
    if period:
        ext += [{"url": ITEM_PREAUTH_ISSUE_DATE, "valueDate": issued},
                {"url": ITEM_PREAUTH_PERIOD, "valuePeriod": period}]
    provider: dict[str, Any] = {"url": ITEM_AUTHORIZED_PROVIDER, "extension": [
        {"url": AUTHORIZED_PROVIDER_TYPE, "valueCodeableConcept": {
            "coding": [{"system": X12_98, "code": "SJ", "display": "Service Provider"}]}}]}
    if isinstance(claim.get("provider"), dict):
        provider["extension"].insert(0, {"url": "provider", "valueReference": claim["provider"]})
    ext.append(provider)
    item: dict[str, Any] = {"extension": ext, "itemSequence": claim_item.get("sequence", 1),
            "adjudication": [{"extension": [review_action(outcome, number, x12)], "category": {
                "coding": [{"system": ADJUDICATION, "code": "submitted"}]}}]}
    if notes:
        item["noteNumber"] = notes
    return item


def build_claim_response(claim: dict, claim_ref: dict, policy: Policy, outcome: Adjudication, *,
                         response_id: str, version: int, number: str, created: datetime,
                         x12: Mapping[str, str] | None = None) -> dict:
    """The ClaimResponse resource (PAS 2.2 PASClaimResponse); `number` is the review number."""
    issued = created.date().isoformat()
    period = None
    if outcome.decision == APPROVE:
        period = {"start": issued,
                  "end": add_months(created.date(), outcome.months or 1).isoformat()}
    texts = [describe_reason(r) for r in outcome.reasons]
    if period and outcome.operational_period:
        texts.append(f"Authorization period {period['start']} to {period['end']}: {period_words(policy, outcome)}.")
    texts += [f"Item {seq} cancelled at the provider's request." for seq in sorted(outcome.cancelled_items)]
    if outcome.decision == CANCEL:
        texts.append("The whole request was cancelled at the provider's request.")
    if outcome.incomplete:
        texts.append("The QuestionnaireResponse was sent with status in-progress: the documentation is not "
                     "complete.")
    by = (outcome.reviewer or {}).get("by")
    if by:  # every decision names who made it (the person and account NPI, or the payer's system)
        texts.append(f"Decided by {by}.")
    if outcome.note:
        texts.append(f"Reviewer: {outcome.note}")
    notes: list[dict[str, Any]] = [{"number": n, "type": "display", "text": t} for n, t in enumerate(texts, 1)]
    resource: dict[str, Any] = {
        "resourceType": "ClaimResponse", "id": response_id,
        "meta": {"versionId": str(version), "lastUpdated": created.isoformat(), "profile": [PROFILE]},
        "extension": [reviewer_extension(outcome.reviewer)],
        "identifier": [{"system": DETERMINATION_ID_SYSTEM, "value": number}],
        # PAS fixes ClaimResponse.status to active: a cancel is said by the items (no review action,
        # a note each), the disposition, and the absence of any authorization period.
        "status": "active",
        "type": claim.get("type") or {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "pharmacy"}]},
        "use": "preauthorization", "patient": claim.get("patient"), "created": created.isoformat(),
        "insurer": claim.get("insurer") or {"display": policy.payer_name},
        "request": claim_ref, "outcome": "complete",
        "disposition": disposition(policy, outcome, period),
    }
    if claim.get("provider"):
        resource["requestor"] = claim["provider"]
    if period:
        resource["preAuthRef"] = number
        resource["preAuthPeriod"] = period
    resource["item"] = [build_item(i, claim, outcome, number, [n["number"] for n in notes],
                                   period, issued, x12) for i in claim.get("item") or ()]
    if notes:
        resource["processNote"] = notes
    if outcome.decision == PEND:
        # PAS: a pend asks for what is missing (the CommunicationRequest in the response Bundle).
        resource["communicationRequest"] = [{"reference": f"CommunicationRequest/{information_request_id(response_id, version)}"}]
        if outcome.due is not None:
            resource["extension"].append({"url": DECISION_DUE, "valueDateTime": outcome.due.isoformat()})
    return resource


def information_request_id(response_id: str, version: int) -> str:
    return f"{response_id}-v{version}-info"
