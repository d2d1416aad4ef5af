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


CRD_MR = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/profile-medicationrequest"
CRD_SR = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/profile-servicerequest"
CRD_PROFILES = {"MedicationRequest": CRD_MR, "ServiceRequest": CRD_SR,
                "Appointment": "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/profile-appointment",
                "Encounter": "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/profile-encounter"}


def crd_answers(client) -> list[dict]:
    """Updated orders for every payer and outcome: covered, not covered (chart), inactive coverage."""
    from tests.crd.requests import chart, coverage_bundle
    sr = {"resourceType": "ServiceRequest", "id": "sr1", "status": "draft", "intent": "order",
          "subject": {"reference": "Patient/p1"}, "authoredOn": "2026-11-20",
          "requester": {"reference": "PractitionerRole/pr1"},
          "code": {"coding": [{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "J9229"}]}}
    requests = [hook_request([besponsa_request(), sr], payer=p) for p in PAYERS]
    requests.append(hook_request([besponsa_request()], prefetch={"coverage": coverage_bundle("aetna"),
                                                                  **chart(age_birth="2015-01-01")}))
    requests.append(hook_request([besponsa_request()], prefetch={"coverage": coverage_bundle("bcbst", "cancelled"),
                                                                  **chart()}))
    for hook, service in (("order-dispatch", "besponsa-order-dispatch"), ("order-select", "besponsa-order-select")):
        req = hook_request([besponsa_request()], hook=hook)
        if hook == "order-dispatch":
            req["context"] = {"patientId": "p1", "dispatchedOrders": ["MedicationRequest/mr1"],
                              "performer": "Organization/o1"}
            req["prefetch"]["medicationRequests"] = {"resourceType": "Bundle", "type": "searchset",
                                                     "entry": [{"resource": besponsa_request()}]}
        requests.append((service, req))
    from tests.crd.test_hook_contexts import ENCOUNTER, ORDER, request, searchset
    drafted = {**ORDER, "status": "draft"}  # the CRD 2.0.1 order profiles fix status to draft
    appointment = {"resourceType": "Appointment", "id": "ap1", "status": "proposed",
                   "basedOn": [{"reference": "MedicationRequest/mr-x"}],
                   "start": "2026-12-01T09:00:00Z", "end": "2026-12-01T11:00:00Z",
                   "requestedPeriod": [{"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T17:00:00Z"}],
                   "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}]}
    requests.append(("besponsa-appointment-book", request("appointment-book", {"appointments": searchset(appointment)},
                                                          medicationRequests=searchset(drafted))))
    requests.append(("besponsa-encounter-start", request("encounter-start", {"encounterId": "enc1"},
                                                         encounter=ENCOUNTER, medicationRequests=searchset(drafted))))
    out = []
    for req in requests:
        service, req = req if isinstance(req, tuple) else ("besponsa-order-sign", req)
        r = client.post(f"/cds-services/{service}", json=req)
        assert r.status_code == 200, r.text
        out += [a["resource"] for a in r.json()["systemActions"]]
    return out


def test_crd_updated_orders_validate_against_the_crd_profiles(client):
    """CRD 2.1 cards.md: the updated order SHALL comply with the CRD order profiles (2.0.1 package);
    so do the Appointments and Encounters that carry coverage information."""
    orders = crd_answers(client)
    assert len(orders) == 2 * len(PAYERS) + 4 + 2 * 2  # + order and Appointment, order and Encounter
    assert {o["resourceType"] for o in orders} == set(CRD_PROFILES)
    items = [(o, CRD_PROFILES[o["resourceType"]]) for o in orders]
    items += [(o, None) for o in orders]  # and base R4
    assert fhir_validate.validate(items) == [[]] * len(items)
