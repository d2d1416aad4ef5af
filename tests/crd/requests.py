"""Builders of CDS Hooks requests for the CRD tests (order-sign and friends)."""
from __future__ import annotations

import copy
import uuid

from tests.fixtures.charts import NEG, bundle, cd22_percent, condition, patient, ph, practitioner_role

HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
PAYER_SYSTEM = "http://example.org/fhir/sid/payer-id"
PAYER_NAMES = {"aetna": "Aetna", "bcbst": "BlueCross BlueShield of Tennessee",
               "bcbsnc": "Blue Cross and Blue Shield of North Carolina",
               "fepblue": "FEP Blue (Federal Employee Program)", "nanthealth": "NantHealth"}


def besponsa_request(code: dict | None = None, rid: str = "mr1", **extra) -> dict:
    r = {"resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order",
         "subject": {"reference": "Patient/p1"}, "authoredOn": "2026-11-20",
         "medicationCodeableConcept": code or {"coding": [{"system": HCPCS, "code": "J9229"}]},
         "requester": {"reference": "PractitionerRole/pr1"}}
    r.update(extra)
    return r


def organization(payer: str, by: str = "identifier") -> dict:
    org = {"resourceType": "Organization", "id": f"org-{payer}", "name": PAYER_NAMES.get(payer, payer)}
    if by == "identifier":
        org["identifier"] = [{"system": PAYER_SYSTEM, "value": payer}]
    return org


def coverage_bundle(payer: str = "aetna", status: str = "active", by: str = "identifier") -> dict:
    cov = {"resourceType": "Coverage", "id": "cov1", "status": status, "beneficiary": {"reference": "Patient/p1"},
           "payor": [{"reference": f"Organization/org-{payer}"}]}
    return {"resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": cov, "search": {"mode": "match"}},
                      {"resource": organization(payer, by), "search": {"mode": "include"}}]}


def chart(age_birth: str = "1980-01-01", dx: str = "C91.02", cd22: float | None = 60.0, ph_result=NEG) -> dict:
    return {
        "patient": patient(age_birth),
        "practitionerRole": bundle(practitioner_role("207RX0202X")),
        "conditions": bundle(condition(dx)),
        "observations": bundle(*([cd22_percent(cd22)] if cd22 is not None else []),
                               *([ph(ph_result)] if ph_result else [])),
        "medicationStatements": bundle(),
        "medicationRequests": bundle(),
        "medicationAdministrations": bundle(),
        "medicationDispenses": bundle(),
    }


def hook_request(orders: list[dict], payer: str = "aetna", hook: str = "order-sign", prefetch: dict | None = None,
                 **overrides) -> dict:
    context = {"userId": "PractitionerRole/pr1", "patientId": "p1",
               "draftOrders": {"resourceType": "Bundle", "type": "collection",
                               "entry": [{"resource": o} for o in orders]}}
    if hook == "order-select":
        context["selections"] = [f"{o['resourceType']}/{o['id']}" for o in orders]
    body = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context,
            "prefetch": prefetch if prefetch is not None else {"coverage": coverage_bundle(payer), **chart()}}
    body.update(overrides)
    return copy.deepcopy(body)


def coverage_info(action: dict) -> dict:
    ext = next(e for e in action["resource"]["extension"] if e["url"].endswith("ext-coverage-information"))
    out: dict = {}
    for part in ext["extension"]:
        value = next((v for k, v in part.items() if k.startswith("value")), part.get("extension"))
        out.setdefault(part["url"], []).append(value)
    return out
