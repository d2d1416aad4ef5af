"""Claim/$submit over real HTTP, every payer and decision, on SQLite and PostgreSQL (PAS 2.2)."""
from __future__ import annotations

import pytest
from fhir.resources.R4B.bundle import Bundle

from service.policies.registry import get_policy
from tests.pas.bundles import request_bundle
from tests.pas.cases import CASES
from tests.pas.read import human_reviewed, item_period, months_between, review_action


@pytest.mark.parametrize("case_id,payer,answers,decision,code,months,reason", CASES,
                         ids=[c[0] for c in CASES])
def test_determination(http, case_id, payer, answers, decision, code, months, reason):
    request = request_bundle(payer, answers)
    resp = http.post("/fhir/Claim/$submit", json=request)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/fhir+json")
    body = resp.json()
    Bundle.model_validate(body)  # parses as FHIR (R4B models)
    assert body["type"] == "collection" and body["identifier"] == request["identifier"]
    assert body["timestamp"]
    cr = body["entry"][0]["resource"]
    assert cr["resourceType"] == "ClaimResponse"
    assert (cr["status"], cr["use"], cr["outcome"]) == ("active", "preauthorization", "complete")
    assert cr["request"]["identifier"] == request["entry"][0]["resource"]["identifier"][0]
    # the request's Patient, named by its request fullUrl: resolvable inside the Bundle whatever base (spec-33)
    assert cr["patient"] == {"reference": "http://provider.example.org/fhir/Patient/pat1"}
    assert cr["item"][0]["itemSequence"] == 1
    action = review_action(cr)
    assert action["code"] == code and action["number"]
    # referenced resources are echoed with the request's fullUrls (PAS spec-33)
    sent = {e["fullUrl"]: e["resource"]["resourceType"] for e in request["entry"]}
    echoed = {e["fullUrl"] for e in body["entry"][1:] if e["fullUrl"] in sent}
    assert {sent[u] for u in echoed} == {"Patient", "Organization", "Practitioner"}
    # a pend asks for what is missing: a CommunicationRequest the ClaimResponse names, and a Task
    made = {e["resource"]["resourceType"]: e["resource"] for e in body["entry"][1:] if e["fullUrl"] not in sent}
    if decision == "pend":
        assert set(made) == {"CommunicationRequest", "Task"}
        urls = {e["resource"]["resourceType"]: e["fullUrl"] for e in body["entry"]}
        assert cr["communicationRequest"] == [{"reference": urls["CommunicationRequest"]}]  # absolute: resolves
        asked = {c["coding"][0]["code"] for c in made["CommunicationRequest"]["reasonCode"]}
        assert reason in asked and asked == set(action["reasons"])
    else:
        assert made == {} and "communicationRequest" not in cr
    assert not human_reviewed(cr)
    if decision == "approve":
        assert cr["preAuthRef"] == action["number"]
        assert months_between(cr["preAuthPeriod"]) == months
        assert item_period(cr) == cr["preAuthPeriod"]
        assert action["reasons"] == [] and "Approved" in cr["disposition"]
    else:
        assert "preAuthRef" not in cr and item_period(cr) is None
        assert reason in action["reasons"]
        # an initial request is never told about renewal criteria, nor the reverse
        if answers.get("request-type") == "initial":
            assert not {"request-type", "disease-progression"} & set(action["reasons"])
        notes = {n["number"]: n["text"] for n in cr["processNote"]}
        assert sorted(cr["item"][0]["noteNumber"]) == sorted(notes)
        # each named criterion has a note quoting the policy's words
        for concept in action["reasons"]:
            assert any(f"({concept})" in t and "Policy: \"" in t for t in notes.values())
        word = "Denied" if decision == "deny" else "Pended"
        assert cr["disposition"].startswith(word)
    # the stored determination reads back the same
    read = http.get(f"/fhir/ClaimResponse/{cr['id']}")
    assert read.status_code == 200 and read.json() == cr


def test_replay_returns_same_determination(http):
    request = request_bundle("fepblue", CASES[0][2])
    first = http.post("/fhir/Claim/$submit", json=request).json()["entry"][0]["resource"]
    again = http.post("/fhir/Claim/$submit", json={"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": request}]}).json()["entry"][0]["resource"]
    assert again == first
    for params in ({"request": "Claim/claim1", "patient": "Patient/pat1"},
                   {"patient": "http://provider.example.org/fhir/Patient/pat1"}):
        found = http.get("/fhir/ClaimResponse", params=params).json()
        assert found["type"] == "searchset"
        assert first["id"] in {e["resource"]["id"] for e in found["entry"]}
    none = http.get("/fhir/ClaimResponse", params={"patient": "Patient/nobody"}).json()
    assert none["total"] == 0
    assert http.get("/fhir/ClaimResponse", params={"status": "x"}).status_code == 400


def test_same_identifier_different_request_is_refused(http):
    request = request_bundle("aetna", CASES[0][2])
    assert http.post("/fhir/Claim/$submit", json=request).status_code == 200
    changed = request_bundle("aetna", CASES[1][2], bundle_id=request["identifier"]["value"])
    resp = http.post("/fhir/Claim/$submit", json=changed)
    assert resp.status_code == 409 and resp.json()["resourceType"] == "OperationOutcome"


def test_inquire_matches_member_and_provider(http):
    member, npi = "INQ-" + get_policy("bcbst").payer_id, "1999999992"
    request = request_bundle("bcbst", CASES[8][2], member=member, npi=npi)
    cr = http.post("/fhir/Claim/$submit", json=request).json()["entry"][0]["resource"]
    other = request_bundle("bcbst", CASES[8][2], member=member, npi="1888888884")
    http.post("/fhir/Claim/$submit", json=other)
    inquiry = request_bundle("bcbst", {}, member=member, npi=npi)
    inquiry["entry"][0]["resource"]["identifier"] = [{"system": "urn:trn", "value": "inq-1"}]
    resp = http.post("/fhir/Claim/$inquire", json=inquiry)
    assert resp.status_code == 200, resp.text
    bundles = [p["resource"] for p in resp.json()["parameter"] if p["name"] == "return"]
    assert [b["entry"][0]["resource"]["id"] for b in bundles] == [cr["id"]]
    Bundle.model_validate(bundles[0])
    # narrowed by the authorization number (PAS extension-authorizationNumber)
    number = cr["preAuthRef"]
    inquiry["entry"][0]["resource"]["extension"] = [{
        "url": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-authorizationNumber",
        "valueString": number}]
    again = http.post("/fhir/Claim/$inquire", json=inquiry).json()
    assert [p["resource"]["entry"][0]["resource"]["preAuthRef"] for p in again["parameter"]] == [number]
    inquiry["entry"][0]["resource"]["extension"][0]["valueString"] = "PA-UNKNOWN"
    assert http.post("/fhir/Claim/$inquire", json=inquiry).json().get("parameter", []) == []
    # no provider identifier: refused, naming the rule
    inquiry["entry"][4]["resource"]["identifier"] = []
    bad = http.post("/fhir/Claim/$inquire", json=inquiry)
    assert bad.status_code == 422 and "provider" in bad.text
