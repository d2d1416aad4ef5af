"""Each hook's context (CDS Hooks 2.0 hooks; CRD 2.1 coverage-information contexts; the shapes the
Inferno CRD 2.0.1 server tests send): dispatch by `order`, Appointments and Encounters that
carry the coverage information of their Besponsa orders."""
from __future__ import annotations

from tests.crd.requests import besponsa_request, chart, coverage_bundle, coverage_info, hook_request

ORDER = besponsa_request(rid="mr-x", status="active", encounter={"reference": "Encounter/enc1"})
ENCOUNTER = {"resourceType": "Encounter", "id": "enc1", "status": "in-progress",
             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
             "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185389009",
                                   "display": "Follow-up visit"}]}],
             "subject": {"reference": "Patient/p1"}}


def request(hook: str, context: dict, **prefetch) -> dict:
    req = hook_request([], hook=hook, prefetch={"coverage": coverage_bundle("aetna"), **chart(), **prefetch})
    req["context"] = {"userId": "PractitionerRole/pr1", "patientId": "p1", **context}
    return req


def searchset(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def actions_by_type(body: dict) -> dict[str, dict]:
    return {a["resource"]["resourceType"]: a for a in body["systemActions"]}


def test_order_dispatch_accepts_the_single_order_of_crd_201_test_kits(client):
    req = request("order-dispatch", {"order": "MedicationRequest/mr-x", "performer": "Organization/o1"},
                  medicationRequests=searchset(ORDER))
    r = client.post("/cds-services/besponsa-order-dispatch", json=req)
    assert r.status_code == 200, r.text
    action = actions_by_type(r.json())["MedicationRequest"]
    assert action["resource"]["id"] == "mr-x" and coverage_info(action)["doc-needed"] == ["clinical"]


def test_order_dispatch_finds_the_order_under_a_prefetch_key_it_did_not_ask_for(client):
    """The Inferno presets prefetch the dispatched order as `order`: it resolves the reference."""
    req = request("order-dispatch", {"dispatchedOrders": ["MedicationRequest/mr-x"], "performer": "Organization/o1"},
                  order=ORDER)
    body = client.post("/cds-services/besponsa-order-dispatch", json=req).json()
    assert actions_by_type(body)["MedicationRequest"]["resource"]["id"] == "mr-x"


def test_order_dispatch_without_any_order_names_both_fields(client):
    req = request("order-dispatch", {"performer": "Organization/o1"})
    r = client.post("/cds-services/besponsa-order-dispatch", json=req)
    assert r.status_code == 400
    assert "context.dispatchedOrders or order is required" in r.json()["issue"][0]["diagnostics"]


def test_appointment_book_puts_coverage_information_on_the_appointment_too(client):
    appointment = {"resourceType": "Appointment", "id": "ap1", "status": "proposed",
                   "basedOn": [{"reference": "MedicationRequest/mr-x"}],
                   "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}]}
    unrelated = {**appointment, "id": "ap2", "basedOn": [{"reference": "ServiceRequest/other"}]}
    req = request("appointment-book", {"appointments": {"resourceType": "Bundle", "type": "collection",
                                                        "entry": [{"resource": appointment}, {"resource": unrelated}]}},
                  medicationRequests=searchset(ORDER))
    body = client.post("/cds-services/besponsa-appointment-book", json=req).json()
    actions = actions_by_type(body)
    assert set(actions) == {"MedicationRequest", "Appointment"}  # ap2 books something else
    booked = actions["Appointment"]["resource"]
    assert {k: v for k, v in booked.items() if k != "extension"} == appointment  # echoed whole, plus the extension
    on_appointment, on_order = coverage_info(actions["Appointment"]), coverage_info(actions["MedicationRequest"])
    assert on_appointment["covered"] == ["covered"] and on_appointment["doc-needed"] == ["clinical"]
    assert on_appointment["questionnaire"] == on_order["questionnaire"]
    assert on_appointment["coverage-assertion-id"] != on_order["coverage-assertion-id"]


def test_encounter_start_puts_coverage_information_on_the_encounter(client):
    req = request("encounter-start", {"encounterId": "enc1"}, encounter=ENCOUNTER,
                  medicationRequests=searchset(ORDER))
    body = client.post("/cds-services/besponsa-encounter-start", json=req).json()
    actions = actions_by_type(body)
    assert set(actions) == {"MedicationRequest", "Encounter"}
    info = coverage_info(actions["Encounter"])
    assert info["covered"] == ["covered"] and "doc-needed" not in info  # a secondary hook asks for nothing


def test_encounter_hooks_ask_for_the_encounter_and_others_do_not(client):
    services = {s["id"]: s for s in client.get("/cds-services").json()["services"]}
    for sid in ("besponsa-encounter-start", "besponsa-encounter-discharge"):
        assert services[sid]["prefetch"]["encounter"] == "Encounter/{{context.encounterId}}"
    assert "encounter" not in services["besponsa-order-sign"]["prefetch"]


def test_an_encounter_without_besponsa_orders_is_left_alone(client):
    other = {**ORDER, "medicationCodeableConcept": {"text": "amoxicillin"}}
    req = request("encounter-discharge", {"encounterId": "enc1"}, encounter=ENCOUNTER,
                  medicationRequests=searchset(other))
    body = client.post("/cds-services/besponsa-encounter-discharge", json=req).json()
    assert body == {"cards": [], "systemActions": []}
