"""End to end over loopback: a real uvicorn serving order-sign, the chart fetched from a mock EHR."""
from __future__ import annotations

import httpx
import pytest

from tests.crd.mock_fhir import mock_fhir_server
from tests.crd.requests import besponsa_request, coverage_bundle, coverage_info, hook_request
from tests.fixtures.charts import cd22_percent, condition, NEG, patient, ph, practitioner_role
from tests.pas.server import running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("crd") / "data", None) as s:
        yield s


def ehr_resources(payer="aetna", birth="1980-01-01"):
    cov = coverage_bundle(payer)
    return [e["resource"] for e in cov["entry"]] + [
        patient(birth), condition("C91.02"), cd22_percent(40.0), ph(NEG), practitioner_role()]


def test_no_prefetch_fetches_the_chart_with_the_bearer_token(server):
    with mock_fhir_server(ehr_resources(birth="2015-06-01")) as (base, seen):
        req = hook_request([besponsa_request()], prefetch={}, fhirServer=base,
                           fhirAuthorization={"access_token": "secret-token", "token_type": "Bearer",
                                              "expires_in": 300, "scope": "patient/*.read", "subject": "crd"})
        r = httpx.post(f"{server.url}/cds-services/besponsa-order-sign", json=req, timeout=10)
    assert r.status_code == 200, r.text
    info = coverage_info(r.json()["systemActions"][0])
    assert info["covered"] == ["not-covered"]  # the fetched chart shows an 11-year-old: Aetna covers adults
    assert seen and all(authorized for _, authorized in seen)
    assert any(path.startswith("/Coverage?patient=p1&status=active") for path, _ in seen)


def test_ehr_down_is_a_502_not_a_silent_answer(server):
    req = hook_request([besponsa_request()], prefetch={}, fhirServer="http://127.0.0.1:9",
                       fhirAuthorization={"access_token": "t", "token_type": "Bearer"})
    r = httpx.post(f"{server.url}/cds-services/besponsa-order-sign", json=req, timeout=10)
    assert r.status_code == 502 and r.json()["resourceType"] == "OperationOutcome"
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_wrong_token_at_the_ehr_is_a_502(server):
    with mock_fhir_server(ehr_resources()) as (base, _):
        req = hook_request([besponsa_request()], prefetch={}, fhirServer=base,
                           fhirAuthorization={"access_token": "wrong", "token_type": "Bearer"})
        r = httpx.post(f"{server.url}/cds-services/besponsa-order-sign", json=req, timeout=10)
    assert r.status_code == 502 and "401" in r.json()["issue"][0]["diagnostics"]
