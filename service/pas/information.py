"""Asking the provider for what a pend still needs (PAS 2.2: ClaimResponse.communicationRequest, and
the Task with a QuestionnaireContext a DTR client launches from).

Built from the stored ClaimResponse and the payer's declaration whenever a response Bundle is
made, so the request and the determination can never disagree.
"""
from __future__ import annotations

from typing import Any

from service.fhir.bundle import BundleIndex
from service.fhir.json import obj, objs, text_of
from service.pas.claimresponse import DECISION_DUE, NPI, PAS, REVIEW_ACTION, information_request_id
from service.policies import canonical
from service.policies.concepts import CONCEPTS
from service.policies.concepts import SYSTEM as CRITERIA_SYSTEM
from service.policies.model import Policy, citations
from service.policies.registry import PAYER_ID_SYSTEM

COMMUNICATION_REQUEST = f"{PAS}/profile-communicationrequest"
TASK = f"{PAS}/profile-task"
SERVICE_LINE = f"{PAS}/extension-serviceLineNumber"
PAS_TEMP = "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes"
# One request for information, named alike on its CommunicationRequest and its Task.
INFORMATION_REQUEST_SYSTEM = "http://example.org/fhir/sid/pa-information-request"
X12_755 = "https://codesystem.x12.org/005010/755"  # PWK01 report type
X12_756 = "https://codesystem.x12.org/005010/756"  # PWK02 transmission code (PASCommunicationRequestMedium)
LOINC = "http://loinc.org"


def requested_concepts(claim_response: dict) -> list[str]:
    """The pa-criteria concepts the pend names (reviewAction reasonCode codings), in order."""
    found: dict[str, None] = {}
    for item in objs(claim_response.get("item")):
        for adjudication in objs(item.get("adjudication")):
            for ext in objs(adjudication.get("extension")):
                if ext.get("url") != REVIEW_ACTION:
                    continue
                for part in objs(ext.get("extension")):
                    if part.get("url") == "reasonCode":
                        for coding in objs(part.get("valueCodeableConcept", {}).get("coding")):
                            if coding.get("system") == CRITERIA_SYSTEM and text_of(coding.get("code")) in CONCEPTS:
                                found.setdefault(coding["code"], None)
    return list(found)


def first_identifier(resource: dict | None, reference: object = None) -> dict | None:
    """The identifier to name a party by (PAS Task: "only send the identifier"): NPI first."""
    idents = objs(obj(resource).get("identifier")) + objs([obj(reference).get("identifier")])
    npi = [i for i in idents if i.get("system") == NPI and i.get("value")]
    return next((i for i in npi + idents if i.get("value")), None)


def provider_organization(claim: dict, index: BundleIndex) -> dict | None:
    """The provider organization the Claim names (Claim.provider, or a PractitionerRole's organization);
    the Practitioner itself when no organization is given."""
    provider = index.resolve(claim.get("provider"))
    if provider is not None and provider.get("resourceType") == "PractitionerRole":
        provider = index.resolve(provider.get("organization")) or index.resolve(provider.get("practitioner"))
    return first_identifier(provider, claim.get("provider"))


def payer_identifier(claim_response: dict, policy: Policy, index: BundleIndex) -> dict:
    """The payer's identifier: the insurer Organization's own, else our payer id for it."""
    insurer = claim_response.get("insurer")
    return first_identifier(index.resolve(insurer, "Organization"), insurer) or \
        {"system": PAYER_ID_SYSTEM, "value": policy.payer_id}


def build_information_request(claim_response: dict, policy: Policy, base_url: str,
                              request_bundle: dict | None = None) -> list[dict]:
    """CommunicationRequest and Task for a pended ClaimResponse; [] for any other determination."""
    refs = objs(claim_response.get("communicationRequest"))
    if not refs:
        return []
    version = int(claim_response.get("meta", {}).get("versionId", "1"))
    rid = information_request_id(claim_response["id"], version)
    concepts = requested_concepts(claim_response)
    reasons = [{"coding": [{"system": CRITERIA_SYSTEM, "code": c, "display": CONCEPTS[c].display}],
                "text": f"{CONCEPTS[c].question}. {policy.payer_name} policy: "
                        + " … ".join(f"“{cite}”" for cite in citations(policy, c))} for c in concepts]
    questionnaire = canonical.questionnaire_canonical(policy)
    number = text_of(claim_response["identifier"][0].get("value"))
    payer: dict[str, Any] = claim_response.get("insurer") or {"display": policy.payer_name}
    provider = claim_response.get("requestor")
    request: dict[str, Any] = {
        "resourceType": "CommunicationRequest", "id": rid, "meta": {"profile": [COMMUNICATION_REQUEST]},
        "extension": [{"url": SERVICE_LINE, "valuePositiveInt": 1}],
        "identifier": [{"system": INFORMATION_REQUEST_SYSTEM, "value": f"{number}-{version}"}],
        "status": "active",
        "category": [{"coding": [{"system": X12_755, "code": "OZ", "display": "Support Data for Claim"}]}],
        "subject": claim_response.get("patient"),
        "about": [{"reference": f"ClaimResponse/{claim_response['id']}"}],
        "reasonCode": reasons or [{"text": "A clinician's review is pending; no documentation is asked for."}],
        # X12 756 EL: answered electronically (DTR, then a claim update), not by mail or fax.
        "medium": [{"coding": [{"system": X12_756, "code": "EL", "display": "Electronically Only"}]}],
        "payload": [{"contentString": f"Complete the {policy.payer_name} questionnaire {questionnaire} "
                                      f"(DTR) and send it in a claim update for {number}"}],
        "requester": payer,  # the payer asks (profile-insurer) ...
        "recipient": [payer],  # ... and receives what the provider sends
    }
    if provider:
        request["sender"] = provider  # the provider is asked to send it (profile-requestor)
    index = BundleIndex(request_bundle or {})
    due = next((text_of(e.get("valueDateTime")) for e in objs(claim_response.get("extension"))
                if e.get("url") == DECISION_DUE), "")
    claim_ref = obj(claim_response.get("request"))
    task: dict[str, Any] = {
        "resourceType": "Task", "id": f"{rid}-task", "meta": {"profile": [TASK]},
        "identifier": [{"system": INFORMATION_REQUEST_SYSTEM, "value": f"{number}-{version}"}],
        "status": "requested",
        "statusReason": {"text": f"Pended: the {policy.payer_name} criteria cannot be decided without the "
                                 "information asked for; answer before the decision is due"},
        "intent": "order",
        "code": {"coding": [{"system": PAS_TEMP, "code": "attachment-request-questionnaire"}]},
        "for": claim_response.get("patient"),
        "authoredOn": claim_response.get("created"),
        # PAS profile-task: requester and owner by identifier only (the provider asked; the payer decides).
        "owner": {"identifier": payer_identifier(claim_response, policy, index)},
        "reasonCode": {"coding": [{"system": PAS_TEMP, "code": "priorAuthorization"}]},
        # The provider's own Claim, by its identifier: it lives in the provider's system, not in this Bundle.
        "reasonReference": {"identifier": claim_ref["identifier"]} if isinstance(claim_ref.get("identifier"), dict)
        else claim_ref or {"reference": f"ClaimResponse/{claim_response['id']}"},
        "input": [
            {"type": {"coding": [{"system": PAS_TEMP, "code": "payer-url"}]}, "valueUrl": f"{base_url}/fhir"},
            {"extension": [{"url": SERVICE_LINE, "valuePositiveInt": 1}],
             "type": {"coding": [{"system": PAS_TEMP, "code": "questionnaire-context"}]}, "valueString": questionnaire},
        ],
    }
    requester = provider_organization(obj(obj(index.entries[0] if index.entries else {}).get("resource")), index)
    if requester is not None:
        task["requester"] = {"identifier": requester}
    if due:  # the CMS-0057-F decision due time: answer within it
        task["restriction"] = {"period": {"start": claim_response.get("created"), "end": due}}
    return [request, task]
