"""Any JSON value in any position of a valid body never yields a 500 (issue 16): each JSON route
answers 2xx or a 4xx OperationOutcome, whatever the client sends."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.app import create_app
from service.config import Settings
from tests.support.json_tree import json_values, paths, replace

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ROUTES = [
    ("/fhir/Claim/$submit", "pas/submit-aetna.json"),
    ("/fhir/Questionnaire/$questionnaire-package", "dtr/questionnaire-package.json"),
    ("/fhir/Questionnaire/besponsa-aetna/$populate", "dtr/populate.json"),
    ("/fhir/Questionnaire/$next-question", "dtr/questionnaire-response-aetna.json"),
    ("/cds-services/besponsa-order-sign", "order-sign/aetna.json"),
]
JUNK = json_values(max_text=20, max_key=10, max_leaves=8, int_bound=2**70)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("junk") / "d", public_base_url="http://testserver",
                        auth_disabled=True)
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.parametrize("route, example", ROUTES)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_junk_anywhere_in_a_valid_body_is_never_a_500(client, route, example, data):
    body = json.loads((EXAMPLES / example).read_text())
    path = data.draw(st.sampled_from(list(paths(body))))
    junk = replace(body, path, data.draw(JUNK))
    r = client.post(route, json=junk)
    assert r.status_code < 500, (path, r.text[:300])
    if r.status_code >= 400:
        assert r.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("route, _", ROUTES + [("/fhir/ValueSet/$expand", None), ("/fhir/Claim/$inquire", None)])
@pytest.mark.parametrize("raw", [b"[" * 100000, b'{"a": NaN}', b"{\"a\": 1e999}", b"1" * 5000, b"\xff\xfe", b""])
def test_hostile_bodies_are_400s(client, route, _, raw):
    r = client.post(route, content=raw, headers={"content-type": "application/fhir+json"})
    assert 400 <= r.status_code < 500, r.text[:200]


def test_a_nested_questionnaire_response_480_deep_is_refused_not_crashed(client):
    body = json.loads((EXAMPLES / "pas/submit-aetna.json").read_text())
    qr = next(e["resource"] for e in body["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")
    qr["item"].append("DEEP")
    deep = '{"linkId": "g", "item": [' * 480 + '{"linkId": "x"}' + "]}" * 480  # written out: too deep to encode
    raw = json.dumps(body).replace('"DEEP"', deep)
    r = client.post("/fhir/Claim/$submit", content=raw.encode(), headers={"content-type": "application/fhir+json"})
    assert r.status_code == 400 and "deeper" in r.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize("concept, value", [("age-years", -40), ("age-years", 10**30), ("cd22-percent", 250),
                                            ("cd22-percent", -5), ("cycles", -3)])
def test_impossible_clinical_values_are_refused_not_scored(client, concept, value):
    from tests.pas.bundles import request_bundle
    from tests.pas.cases import BASE
    r = client.post("/fhir/Claim/$submit", json=request_bundle("aetna", {**BASE, concept: value}))
    assert r.status_code == 422 and concept in r.json()["issue"][0]["diagnostics"]


@pytest.fixture(scope="module")
def pg_client(tmp_path_factory):
    from tests.support.databases import throwaway_database
    with throwaway_database() as url:
        if not url:
            pytest.skip("TEST_DATABASE_URL not set (no PostgreSQL reachable)")
        settings = Settings(data_dir=tmp_path_factory.mktemp("pg") / "d", database_url=url,
                            public_base_url="http://testserver", auth_disabled=True)
        with TestClient(create_app(settings)) as c:
            yield c


def test_strings_postgresql_cannot_store_are_refused_before_it_sees_them(pg_client):
    from tests.pas.bundles import request_bundle
    from tests.pas.cases import BASE
    for change in (lambda b: b["identifier"].update(value="x" * 600), lambda b: b["identifier"].update(value="a\x00b"),
                   lambda b: b["entry"][0]["resource"]["patient"].update(reference="Patient/" + "p" * 300)):
        bundle = request_bundle("aetna", BASE)
        change(bundle)
        r = pg_client.post("/fhir/Claim/$submit", json=bundle)
        assert r.status_code == 422, r.text[:300]
    assert pg_client.get("/fhir/ClaimResponse/%00").status_code == 404
    assert pg_client.get("/fhir/ClaimResponse/x/_history/2147483648").status_code == 404
    assert pg_client.get("/fhir/ClaimResponse?patient=%00").status_code == 400
    assert pg_client.get("/fhir/ClaimResponse?_count=%C2%B2&patient=p").status_code == 400
    feedback = {"feedback": [{"card": "c" * 200, "outcome": "accepted"}]}
    assert pg_client.post("/cds-services/besponsa-order-sign/feedback", json=feedback).status_code == 400
    assert pg_client.post("/cds-services/besponsa-order-sign/feedback", json={"feedback": [{"card": {"x": 1}}]}).status_code == 400
