"""Asking the provider for what a pend still needs (PAS 2.2: ClaimResponse.communicationRequest, and
the Task with a QuestionnaireContext a DTR client launches from).

Built from the stored ClaimResponse and the payer's declaration whenever a response Bundle is
made, so the request and the determination can never disagree.
"""
from __future__ import annotations

from typing import Any

from service.fhir.json import objs, text_of
from service.pas.claimresponse import PAS, REVIEW_ACTION, information_request_id
from service.policies import canonical
from service.policies.concepts import CONCEPTS
from service.policies.concepts import SYSTEM as CRITERIA_SYSTEM
from service.policies.model import Policy, citations

COMMUNICATION_REQUEST = f"{PAS}/profile-communicationrequest"
TASK = f"{PAS}/profile-task"
SERVICE_LINE = f"{PAS}/extension-serviceLineNumber"
PAS_TEMP = "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes"
# One request for information, named alike on its CommunicationRequest and its Task.
INFORMATION_REQUEST_SYSTEM = "http://example.org/fhir/sid/pa-information-request"
X12_755 = "https://codesystem.x12.org/005010/755"  # PWK01 report type
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


def build_information_request(claim_response: dict, policy: Policy, base_url: str) -> list[dict]:
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
        "payload": [{"contentString": f"Complete the {policy.payer_name} questionnaire {questionnaire} "
                                      f"(DTR) and send it in a claim update for {number}"}],
        "requester": payer,
        "sender": payer,
    }
    if provider:
        request["recipient"] = [provider]
    task: dict[str, Any] = {
        "resourceType": "Task", "id": f"{rid}-task", "meta": {"profile": [TASK]},
        "identifier": [{"system": INFORMATION_REQUEST_SYSTEM, "value": f"{number}-{version}"}],
        "status": "requested", "intent": "order",
        "code": {"coding": [{"system": PAS_TEMP, "code": "attachment-request-questionnaire"}]},
        "for": claim_response.get("patient"),
        "reasonCode": {"coding": [{"system": PAS_TEMP, "code": "priorAuthorization"}]},
        "reasonReference": claim_response.get("request") or {"reference": f"ClaimResponse/{claim_response['id']}"},
        "input": [
            {"type": {"coding": [{"system": PAS_TEMP, "code": "payer-url"}]}, "valueUrl": f"{base_url}/fhir"},
            {"extension": [{"url": SERVICE_LINE, "valuePositiveInt": 1}],
             "type": {"coding": [{"system": PAS_TEMP, "code": "questionnaire-context"}]}, "valueString": questionnaire},
        ],
    }
    if isinstance(payer.get("identifier"), dict):
        task["requester"] = {"identifier": payer["identifier"]}
    return [request, task]
