"""JSON of the wrong type where an operation's shape says otherwise (issue 24): a 4xx naming the path,
never a 200 built on it and never a 500."""
from __future__ import annotations

import copy

import pytest

from service.policies import canonical
from service.policies.registry import load_policies
from tests.crd.requests import besponsa_request
from tests.dtr.test_operations import coverage_params
from tests.pas.bundles import request_bundle

POLICY = load_policies()["aetna"]


def next_question(**change) -> dict:
    qr = {"resourceType": "QuestionnaireResponse", "status": "in-progress",
          "questionnaire": canonical.questionnaire_canonical(POLICY), "item": []}
    return {**qr, **change}


def with_contained_derived_from(value) -> dict:
    qr = next_question()
    qr["contained"] = [{"resourceType": "Questionnaire", "id": "q", "status": "active", "derivedFrom": value}]
    return qr


@pytest.mark.parametrize(("body", "path"), [
    (next_question(item=7), "item"),
    (next_question(item=[{"linkId": ["a"], "answer": []}]), "linkId"),
    (next_question(item=[{"linkId": {"a": 1}, "answer": []}]), "linkId"),
    (with_contained_derived_from(5), "derivedFrom"),
])
def test_next_question_refuses_junk_types(client, body, path):
    r = client.post("/fhir/Questionnaire/$next-question", json=body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert path in r.text


def package(*parameters: dict) -> dict:
    return {"resourceType": "Parameters", "parameter": coverage_params("aetna") + list(parameters)}


@pytest.mark.parametrize(("body", "path"), [
    (package({"name": "order", "resource": {k: v for k, v in besponsa_request().items() if k != "resourceType"}}),
     "resourceType"),
    (package({"name": "order", "resource": besponsa_request()},
             {"name": "referenced", "resource": {"resourceType": "Bundle", "type": "collection", "entry": {"a": 1}}}),
     "entry"),
    (package({"name": "order", "resource": besponsa_request()},
             {"name": "referenced", "resource": {"resourceType": "Bundle", "type": "collection", "entry": 3}}),
     "entry"),
])
def test_questionnaire_package_refuses_junk_types(client, body, path):
    r = client.post("/fhir/Questionnaire/$questionnaire-package", json=body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.json()["resourceType"] == "OperationOutcome" and path in r.text


def inquiry() -> dict:
    body = request_bundle("aetna", {})
    body["entry"][0]["resource"]["identifier"] = [{"system": "urn:trn", "value": "inq-1"}]
    return body


def claim_with(**change) -> dict:
    body = copy.deepcopy(inquiry())
    body["entry"][0]["resource"].update(change)
    return body


AUTHORIZATION_NUMBER = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-authorizationNumber"


@pytest.mark.parametrize(("body", "path"), [
    (claim_with(item=4), "item"),
    (claim_with(extension=4), "extension"),
    (claim_with(extension=[{"url": AUTHORIZATION_NUMBER, "valueString": ["PA-1", "PA-2"]}]), "extension"),
])
def test_inquire_refuses_junk_types(client, body, path):
    r = client.post("/fhir/Claim/$inquire", json=body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.json()["resourceType"] == "OperationOutcome" and path in r.text


def test_a_well_formed_inquiry_still_answers(client):
    assert client.post("/fhir/Claim/$inquire", json=inquiry()).status_code == 200
    assert client.post("/fhir/Questionnaire/$next-question", json=next_question()).status_code == 200
