"""What the service serves validates with an independent validator (medplum): base R4 and IG profiles."""
from __future__ import annotations

import pytest

from service.policies.registry import load_policies
from tests.crd.requests import besponsa_request, hook_request
from tests.support import fhir_validate

pytestmark = pytest.mark.skipif(not fhir_validate.available(),
                                reason="node and tools/node/node_modules are needed (npm ci --prefix tools/node)")
DTR_Q = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-std-questionnaire"
DTR_QR = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaireresponse"
PAYERS = sorted(load_policies())


def test_dtr_and_terminology_resources_validate(client):
    items = [(client.get("/fhir/CodeSystem/pa-criteria").json(), None),
             (client.get("/fhir/metadata").json(), None)]
    for payer in PAYERS:
        q = client.get(f"/fhir/Questionnaire/besponsa-{payer}").json()
        items += [(q, None), (q, DTR_Q), (client.get(f"/fhir/Library/besponsa-prefill-{payer}").json(), None)]
    results = fhir_validate.validate(items)
    assert [(r.get("resourceType"), p, issues) for (r, p), issues in zip(items, results, strict=True) if issues] == []


def test_package_and_draft_response_validate(client):
    from tests.dtr.test_operations import coverage_params
    from tests.fixtures.charts import bundle, condition, patient
    body = {"resourceType": "Parameters", "parameter": coverage_params("aetna") + [
        {"name": "order", "resource": besponsa_request()},
        {"name": "referenced", "resource": bundle(patient(), condition("C91.02"))}]}
    out = client.post("/fhir/Questionnaire/$questionnaire-package", json=body).json()
    package = out["parameter"][0]["resource"]
    draft = package["entry"][-1]["resource"]
    items = [(out, None), (package, None), (draft, None), (draft, DTR_QR)]
    results = fhir_validate.validate(items)
    assert [(r.get("resourceType"), p, issues) for (r, p), issues in zip(items, results, strict=True) if issues] == []
    urls = [e["url"].rsplit("/", 1)[-1] for e in draft["extension"]]  # the slices medplum cannot count
    assert urls.count("qr-context") >= 2 and urls.count("intendedUse") >= 1


def test_a_draft_without_chart_still_lists_every_question(client):
    from tests.dtr.test_operations import coverage_params
    body = {"resourceType": "Parameters", "parameter": coverage_params("fepblue") + [
        {"name": "order", "resource": besponsa_request()}]}
    package = client.post("/fhir/Questionnaire/$questionnaire-package", json=body).json()["parameter"][0]["resource"]
    draft = package["entry"][-1]["resource"]
    assert draft["resourceType"] == "QuestionnaireResponse" and draft["item"]
    assert fhir_validate.validate([(draft, DTR_QR)]) == [[]]


def test_no_patient_no_draft(client):
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "questionnaire", "valueCanonical": "http://example.org/fhir/Questionnaire/besponsa-fepblue"}]}
    package = client.post("/fhir/Questionnaire/$questionnaire-package", json=body).json()["parameter"][0]["resource"]
    assert [e["resource"]["resourceType"] for e in package["entry"]] == ["Questionnaire", "Library"]


def test_validator_catches_a_broken_resource():
    bad = {"resourceType": "Patient", "birthDate": "yesterday"}
    q = {"resourceType": "Questionnaire", "item": [{"linkId": "a", "type": "string"}]}  # no status
    assert all(fhir_validate.validate([(bad, None), (q, None)]))


def test_crd_updated_orders_validate(client):
    body = client.post("/cds-services/besponsa-order-sign", json=hook_request([besponsa_request()])).json()
    items = [(a["resource"], None) for a in body["systemActions"]]
    assert items and fhir_validate.validate(items) == [[]] * len(items)
