"""PAS request Bundles for tests: one builder, every field a test may want to vary."""
from __future__ import annotations

import copy
import uuid

from service.policies.canonical import questionnaire_canonical
from service.policies.concepts import BOOLEAN, CODING, CONCEPTS, DECIMAL, INTEGER, SYSTEM
from service.policies.registry import PAYER_ID_SYSTEM, get_policy

HCPCS = "https://bluebutton.cms.gov/resources/codesystem/hcpcs"
VALUE_KEYS = {INTEGER: "valueInteger", DECIMAL: "valueDecimal", BOOLEAN: "valueBoolean"}
NPI = "http://hl7.org/fhir/sid/us-npi"
MEMBER_SYSTEM = "http://example.org/fhir/sid/member-id"


def answer_item(code: str, value) -> dict:
    kind = CONCEPTS[code].answer_type
    answer = ({"valueCoding": {"system": SYSTEM, "code": value}} if kind == CODING
              else {VALUE_KEYS[kind]: value})
    return {"linkId": code, "answer": [answer]}


def questionnaire_response(payer: str, answers: dict) -> dict:
    return {"resourceType": "QuestionnaireResponse", "id": "qr1", "status": "completed",
            "questionnaire": questionnaire_canonical(get_policy(payer)),
            "subject": {"reference": "Patient/pat1"},
            "item": [answer_item(code, value) for code, value in answers.items()]}


def request_bundle(payer: str, answers: dict, *, bundle_id: str | None = None,
                   member: str = "M123", npi: str = "1234567893", hcpcs: str = "J9229",
                   qr_payer: str | None = None) -> dict:
    """A PAS request Bundle: Claim first, Patient, Coverage -> payer Organization, QR, provider."""
    claim = {
        "resourceType": "Claim", "id": "claim1", "status": "active", "use": "preauthorization",
        "identifier": [{"system": "http://example.org/claim-id", "value": uuid.uuid4().hex}],
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                             "code": "professional"}]},
        "patient": {"reference": "Patient/pat1"}, "created": "2026-01-05T10:00:00Z",
        "insurer": {"reference": "Organization/payer1"},
        "provider": {"reference": "Practitioner/prac1"},
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority",
                                 "code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/cov1"}}],
        "supportingInfo": [{"sequence": 1, "category": {"coding": [{
            "system": "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes",
            "code": "freeFormMessage"}]}, "valueReference": {"reference": "QuestionnaireResponse/qr1"}}],
        "item": [{"sequence": 1, "productOrService": {"coding": [{"system": HCPCS, "code": hcpcs}]},
                  "quantity": {"value": 18, "unit": "0.1 mg"}}],
    }
    base = "http://provider.example.org/fhir"
    resources = [
        claim,
        {"resourceType": "Patient", "id": "pat1", "identifier": [{
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                 "code": "MB"}]}, "system": MEMBER_SYSTEM, "value": member}],
         "name": [{"family": "Test"}], "birthDate": "1980-01-01"},
        {"resourceType": "Coverage", "id": "cov1", "status": "active",
         "beneficiary": {"reference": "Patient/pat1"},
         "payor": [{"reference": "Organization/payer1"}]},
        {"resourceType": "Organization", "id": "payer1", "name": get_policy(payer).payer_name,
         "identifier": [{"system": PAYER_ID_SYSTEM, "value": payer}]},
        {"resourceType": "Practitioner", "id": "prac1",
         "identifier": [{"system": NPI, "value": npi}]},
        questionnaire_response(qr_payer or payer, answers),
    ]
    return {"resourceType": "Bundle", "type": "collection",
            "identifier": {"system": "http://example.org/submitter-trn",
                           "value": bundle_id or uuid.uuid4().hex},
            "timestamp": "2026-01-05T10:00:00Z",
            "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": copy.deepcopy(r)}
                      for r in resources]}
