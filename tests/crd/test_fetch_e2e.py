"""End to end over loopback: a real uvicorn serving order-sign, the chart fetched from the fake EHR on a port."""
from __future__ import annotations

import httpx
import pytest

from tests.crd.requests import besponsa_request, coverage_bundle, coverage_info, hook_request
from tests.fixtures.charts import NEG, cd22_percent, condition, patient, ph, practitioner_role
from tests.pas.server import running_server
from tests.support.ehr import running_ehr


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("crd") / "data", None) as s:
        yield s


def ehr_resources(payer="aetna", birth="1980-01-01"):
    cov = coverage_bundle(payer)
    return [e["resource"] for e in cov["entry"]] + [
        patient(birth), condition("C91.02"), cd22_percent(40.0), ph(NEG), practitioner_role()]


def test_no_prefetch_fetches_the_chart_with_the_bearer_token(server):
    with running_ehr(ehr_resources(birth="2015-06-01"), tokens={"secret-token"}) as ehr:
        req = hook_request([besponsa_request()], prefetch={}, fhirServer=ehr.url,
                           fhirAuthorization={"access_token": "secret-token", "token_type": "Bearer",
                                              "expires_in": 300, "scope": "patient/*.read", "subject": "crd"})
        r = httpx.post(f"{server.url}/cds-services/besponsa-order-sign", json=req, timeout=10)
    assert r.status_code == 200, r.text
    info = coverage_info(r.json()["systemActions"][0])
    assert info["covered"] == ["not-covered"]  # the fetched chart shows an 11-year-old: Aetna covers adults
    assert ehr.requests and not ehr.refused  # every read carried the token
    assert any(call.startswith("GET Coverage?patient=p1&status=active") for call in ehr.requests)


def test_ehr_down_is_a_412_not_a_silent_answer(server):
    """CDS Hooks 2.0: 412 when the FHIR data cannot be retrieved, through prefetch or the FHIR server."""
    req = hook_request([besponsa_request()], prefetch={}, fhirServer="http://127.0.0.1:9",
                       fhirAuthorization={"access_token": "t", "token_type": "Bearer"})
    r = httpx.post(f"{server.url}/cds-services/besponsa-order-sign", json=req, timeout=10)
    assert r.status_code == 412 and r.json()["resourceType"] == "OperationOutcome"
    assert "could not be read" in r.json()["issue"][0]["diagnostics"]
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_wrong_token_at_the_ehr_is_a_412(server):
    with running_ehr(ehr_resources(), tokens={"secret-token"}) as ehr:
        req = hook_request([besponsa_request()], prefetch={}, fhirServer=ehr.url,
                           fhirAuthorization={"access_token": "wrong", "token_type": "Bearer"})
        r = httpx.post(f"{server.url}/cds-services/besponsa-order-sign", json=req, timeout=10)
    assert r.status_code == 412 and "401" in r.json()["issue"][0]["diagnostics"]


def dispatch_request(base: str | None, refs: list[str]) -> dict:
    """order-dispatch naming orders the prefetch does not carry (the chart itself is prefetched)."""
    from tests.crd.requests import chart
    req = hook_request([], hook="order-dispatch", prefetch={"coverage": coverage_bundle("aetna"), **chart()})
    req["context"] = {"patientId": "p1", "dispatchedOrders": refs, "performer": "Organization/infusion-center"}
    if base:
        req.update(fhirServer=base, fhirAuthorization={"access_token": "secret-token", "token_type": "Bearer"})
    return req


def test_dispatched_orders_missing_from_prefetch_are_read_from_the_ehr(server):
    order = besponsa_request(rid="mr-d", status="active")
    with running_ehr([order], tokens={"secret-token"}) as ehr:
        r = httpx.post(f"{server.url}/cds-services/besponsa-order-dispatch",
                       json=dispatch_request(ehr.url, ["MedicationRequest/mr-d", "MedicationRequest/../Patient/p1"]),
                       timeout=10)
    assert r.status_code == 200, r.text
    actions = r.json()["systemActions"]
    assert [a["resource"]["id"] for a in actions] == ["mr-d"]
    assert coverage_info(actions[0])["doc-needed"] == ["clinical"]  # order-dispatch is a primary hook
    assert ehr.requests == ["GET MedicationRequest/mr-d"] and not ehr.refused  # only the well-formed reference


def test_dispatched_order_without_ehr_access_gets_no_assertion(server):
    r = httpx.post(f"{server.url}/cds-services/besponsa-order-dispatch",
                   json=dispatch_request(None, ["MedicationRequest/mr-d"]), timeout=10)
    assert r.status_code == 200 and r.json()["systemActions"] == []


def test_a_dispatched_order_the_ehr_does_not_have_is_a_412(server):
    with running_ehr([], tokens={"secret-token"}) as ehr:
        r = httpx.post(f"{server.url}/cds-services/besponsa-order-dispatch",
                       json=dispatch_request(ehr.url, ["MedicationRequest/gone"]), timeout=10)
    assert r.status_code == 412 and "404" in r.json()["issue"][0]["diagnostics"]


def test_an_oversized_hook_body_is_413_over_real_http(server):
    r = httpx.post(f"{server.url}/cds-services/besponsa-order-sign", content=b"{" + b" " * (33 * 1024 * 1024),
                   headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 413 and r.json()["issue"][0]["code"] == "too-long"
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_a_medication_only_the_ehr_holds_is_read_to_recognise_besponsa(server):
    """CONTRACT: medicationReference to a Medication in the bundle, contained, prefetched, or (here) on the EHR."""
    from tests.crd.requests import chart
    med = {"resourceType": "Medication", "id": "med-9",
           "code": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "0008-0100-01"}]}}
    order = besponsa_request(rid="mr-ref")
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": "Medication/med-9"}
    with running_ehr([med], tokens={"secret-token"}) as ehr:
        req = hook_request([order], prefetch={"coverage": coverage_bundle("aetna"), **chart()}, fhirServer=ehr.url,
                           fhirAuthorization={"access_token": "secret-token", "token_type": "Bearer"})
        r = httpx.post(f"{server.url}/cds-services/besponsa-order-sign", json=req, timeout=10)
        no_access = httpx.post(f"{server.url}/cds-services/besponsa-order-sign",
                               json=hook_request([order], prefetch=req["prefetch"]), timeout=10)
    assert [a["resource"]["id"] for a in r.json()["systemActions"]] == ["mr-ref"]
    assert ehr.requests == ["GET Medication/med-9"] and not ehr.refused
    assert no_access.status_code == 200 and no_access.json()["systemActions"] == []
