"""$questionnaire-package and $populate (DTR 2.1, SDC): package shape, prefill, errors."""
from __future__ import annotations

import pytest

from service.policies import canonical
from service.policies.registry import load_policies
from tests.crd.requests import besponsa_request, coverage_bundle
from tests.fixtures.charts import NEG, bundle, cd22_percent, condition, patient, ph, practitioner_role

POLICIES = load_policies()
ORIGIN = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin"


def coverage_params(payer: str) -> list[dict]:
    cov, org = [e["resource"] for e in coverage_bundle(payer)["entry"]]
    return [{"name": "coverage", "resource": cov}, {"name": "referenced", "resource": org}]


def populated(body: dict) -> dict:
    """SDC $populate answers Parameters whose `response` is the QuestionnaireResponse."""
    assert body["resourceType"] == "Parameters"
    [param] = [p for p in body["parameter"] if p["name"] == "response"]
    assert param["resource"]["resourceType"] == "QuestionnaireResponse"
    return param["resource"]


def answers_of(qr: dict) -> dict:
    out = {}
    def walk(items):
        for i in items:
            for a in i.get("answer", []):
                value = next(v for k, v in a.items() if k.startswith("value"))
                out[i["linkId"]] = value.get("code") if isinstance(value, dict) else value
                assert a["extension"][0]["url"] == ORIGIN
                assert a["extension"][0]["extension"] == [{"url": "source", "valueCode": "auto"}]
            walk(i.get("item", []))
    walk(qr.get("item", []))
    return out


@pytest.mark.parametrize("payer", sorted(POLICIES))
def test_package_has_questionnaire_first_then_library_and_a_draft(client, payer):
    chart = bundle(patient("1980-01-01"), condition("C91.02"), cd22_percent(55.0), ph(NEG), practitioner_role())
    body = {"resourceType": "Parameters", "parameter": coverage_params(payer) + [
        {"name": "order", "resource": besponsa_request()}, {"name": "referenced", "resource": chart},
        {"name": "context", "valueString": "assertion-123"}]}
    r = client.post("/fhir/Questionnaire/$questionnaire-package", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["resourceType"] == "Parameters" and [p["name"] for p in out["parameter"]] == ["PackageBundle"]
    entries = [e["resource"] for e in out["parameter"][0]["resource"]["entry"]]
    assert [e["resourceType"] for e in entries] == ["Questionnaire", "Library", "QuestionnaireResponse"]
    policy = POLICIES[payer]
    assert entries[0]["url"] == canonical.questionnaire_url(policy)
    assert entries[1]["name"] == canonical.library_name(policy)
    draft = entries[2]
    assert draft["status"] == "in-progress" and draft["questionnaire"] == canonical.questionnaire_canonical(policy)
    contexts = [e["valueReference"] for e in draft["extension"] if e["url"].endswith("qr-context")]
    assert {"reference": "MedicationRequest/mr1"} in contexts and {"reference": "Coverage/cov1"} in contexts
    prefilled = answers_of(draft)
    assert prefilled.get("diagnosis") == "b-all"
    if "age-years" in prefilled:
        assert prefilled["age-years"] >= 45


def test_package_by_questionnaire_canonical_alone(client):
    url = canonical.questionnaire_canonical(POLICIES["fepblue"])
    r = client.post("/fhir/Questionnaire/$questionnaire-package",
                    json={"resourceType": "Parameters", "parameter": [{"name": "questionnaire", "valueCanonical": url}]})
    assert r.status_code == 200
    assert r.json()["parameter"][0]["resource"]["entry"][0]["resource"]["id"] == "besponsa-fepblue"


@pytest.mark.parametrize("body,status,words", [
    ("not json", 400, "not JSON"),
    ({"resourceType": "Bundle"}, 422, "Parameters"),
    ({"resourceType": "Parameters", "parameter": []}, 422, "choose a payer"),
    ({"resourceType": "Parameters", "parameter": coverage_params("cigna")}, 400, "not one this service serves"),
    ({"resourceType": "Parameters", "parameter": coverage_params("aetna") + [
        {"name": "questionnaire", "valueCanonical": "http://example.org/fhir/Questionnaire/besponsa-bcbst"}]},
     422, "different payers"),
    ({"resourceType": "Parameters", "parameter": [{"name": "questionnaire", "valueCanonical": "http://x/Q/none"}]},
     422, "no Questionnaire"),
])
def test_package_errors(client, body, status, words):
    r = client.post("/fhir/Questionnaire/$questionnaire-package",
                    **({"content": body} if isinstance(body, str) else {"json": body}))
    assert r.status_code == status and words in r.json()["issue"][0]["diagnostics"]


def test_populate_from_a_content_bundle(client):
    chart = bundle(patient("2010-03-01"), condition("C91.02"), cd22_percent(3.0), ph(NEG))
    r = client.post("/fhir/Questionnaire/besponsa-aetna/$populate", json={"resourceType": "Parameters", "parameter": [
        {"name": "subject", "valueReference": {"reference": "Patient/p1"}},
        {"name": "context", "part": [{"name": "name", "valueString": "chart"}, {"name": "content", "resource": chart}]}]})
    assert r.status_code == 200, r.text
    # A bare percent is no CD22 status (CONTRACT: the lab's own call decides it): the item stays open.
    assert answers_of(populated(r.json())) == {"age-years": 16, "diagnosis": "b-all", "disease-status": "relapsed",
                                               "cd22-percent": 3.0, "ph-status": "negative"}


def test_populate_fetches_the_chart_from_the_ehr(settings):
    """The EHR is an httpx MockTransport: the chart queries are the one table's, with the token."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from tests.support.ehr import BASE, Ehr
    ehr = Ehr([patient("1970-01-01"), condition("C83.30"), practitioner_role("207RH0003X")])
    ehr.tokens.add("secret-token")
    with TestClient(create_app(settings, transport=ehr.transport)) as client:
        r = client.post("/fhir/Questionnaire/besponsa-nanthealth/$populate", json={"resourceType": "Parameters", "parameter": [
            {"name": "subject", "valueReference": {"reference": "Patient/p1"}},
            {"name": "fhirServer", "valueUrl": BASE}, {"name": "fhirAuthorization", "valueString": "secret-token"}]})
    assert r.status_code == 200, r.text
    # No user context here, so no PractitionerRole is fetched: the oncologist question stays open.
    assert answers_of(populated(r.json())) == {"diagnosis": "nhl-other", "age-years": 56}
    assert "GET Patient/p1" in ehr.requests and not any("PractitionerRole" in r for r in ehr.requests)


def test_populate_with_an_ehr_that_refuses_the_token_is_a_502(settings):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from tests.support.ehr import BASE, Ehr
    with TestClient(create_app(settings, transport=Ehr([patient()]).transport)) as client:
        r = client.post("/fhir/Questionnaire/besponsa-aetna/$populate", json={"resourceType": "Parameters", "parameter": [
            {"name": "subject", "valueReference": {"reference": "Patient/p1"}},
            {"name": "fhirServer", "valueUrl": BASE}, {"name": "fhirAuthorization", "valueString": "wrong"}]})
    assert r.status_code == 502 and "401" in r.json()["issue"][0]["diagnostics"]


def test_populate_errors(client):
    assert client.post("/fhir/Questionnaire/besponsa-cigna/$populate", json={"resourceType": "Parameters"}).status_code == 404
    r = client.post("/fhir/Questionnaire/besponsa-aetna/$populate", json={"resourceType": "Parameters", "parameter": [
        {"name": "subject", "valueReference": {"reference": "Patient/p1"}}]})
    assert r.status_code == 422 and "chart" in r.json()["issue"][0]["diagnostics"]


def test_populate_names_the_chart_entry_behind_each_prefilled_answer(client):
    """Issue 17: each answered item says where it came from (an Observation and its date)."""
    from tests.fixtures.charts import interpretation
    cd22 = {**cd22_percent(64.0, when="2026-11-25", oid="lab-cd22"), "interpretation": interpretation("POS")}
    chart = bundle(patient("1980-03-01"), condition("C91.02"), cd22)
    r = client.post("/fhir/Questionnaire/besponsa-aetna/$populate", json={"resourceType": "Parameters", "parameter": [
        {"name": "subject", "valueReference": {"reference": "Patient/p1"}}, {"name": "content", "resource": chart}]})
    items = {i["linkId"]: i for i in populated(r.json())["item"]}
    evidence = {e["url"]: e for e in items["cd22-status"]["answer"][0]["extension"]}
    source = evidence["http://example.org/fhir/StructureDefinition/prefill-evidence"]["valueReference"]
    assert source == {"reference": "Observation/lab-cd22", "display": "CD22 result of 2026-11-25"}
    assert items["cd22-status"]["answer"][0]["valueCoding"]["code"] == "positive"
    age = {e["url"]: e for e in items["age-years"]["answer"][0]["extension"]}
    assert age["http://example.org/fhir/StructureDefinition/prefill-evidence"]["valueReference"]["reference"] == "Patient/p1"
