"""Who may decide a prior authorization, and what the record says (issue 20), over HTTP with real tokens.

A provider EHR client registered as the README shows (`system/*.cruds`) submits; it may not list the
queue, finalize its own request or another's, or use the desk with its token. A payer client reviews
through the API: its decisions are stated as not human and name it; it may not deny, approve over a
not-met finding (it routes to a physician instead), or finalize its own organization's request.
"""
from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth.tokens import ASSERTION_TYPE
from service.config import Settings
from tests.pas.bundles import request_bundle
from tests.pas.cases import CD22_NEGATIVE, MISSING_CD22
from tests.support import fhir_validate

REVIEWER = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-claimResponseReviewer"
KEY = ec.generate_private_key(ec.SECP384R1())
JWK = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(KEY.public_key())), "kid": "k"}
CLIENTS = {
    "clinic-ehr": {"jwks": {"keys": [JWK]}, "scope": "system/*.cruds", "organization": "urn:clinic|1"},
    "other-ehr": {"jwks": {"keys": [JWK]}, "scope": "system/*.cruds", "organization": "urn:clinic|2"},
    "um-system": {"jwks": {"keys": [JWK]}, "scope": "system/ClaimResponse.rus system/AuditEvent.rs",
                  "organization": "urn:payer|um", "kind": "payer"},
    "clinic-payer-bot": {"jwks": {"keys": [JWK]}, "scope": "system/ClaimResponse.rus", "kind": "payer",
                         "organization": "urn:clinic|1"},
}


def token(client, cid: str, scope: str) -> str:
    response = ask_token(client, cid, scope)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def ask_token(client, cid: str, scope: str):
    url = "http://testserver/auth/token"
    signed = jwt.encode({"iss": cid, "sub": cid, "aud": url, "exp": int(time.time()) + 120,
                         "jti": uuid.uuid4().hex}, KEY, algorithm="ES384", headers={"kid": "k"})
    return client.post("/auth/token", data={"grant_type": "client_credentials", "scope": scope,
                                            "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed})


def bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture()
def client(tmp_path):
    settings = Settings(data_dir=tmp_path / "d", public_base_url="http://testserver", smart_clients=json.dumps(CLIENTS),
                        deny_requires_review=True)
    with TestClient(create_app(settings)) as c:
        yield c


def submit(client, ehr: str, answers: dict) -> dict:
    r = client.post("/fhir/Claim/$submit", json=request_bundle("aetna", answers),
                    headers=bearer(ehr))
    assert r.status_code == 200, r.text
    return r.json()["entry"][0]["resource"]


def test_a_provider_system_finalizes_nothing_and_sees_no_queue(client):
    ehr = token(client, "clinic-ehr", "system/*.cruds")
    pended = submit(client, ehr, MISSING_CD22)
    assert client.get("/pas/review/pended", headers=bearer(ehr)).status_code == 403
    for body in ({"decision": "approve", "note": "x"}, {"decision": "request-info", "note": "x",
                                                         "concepts": ["cd22-status"]}):
        refused = client.post(f"/pas/review/{pended['id']}", headers=bearer(ehr), json=body)
        assert refused.status_code == 403, refused.text
    other = token(client, "other-ehr", "system/*.cruds")
    assert client.post(f"/pas/review/{pended['id']}", headers=bearer(other),
                       json={"decision": "approve", "note": "x"}).status_code == 403
    current = client.get(f"/fhir/ClaimResponse/{pended['id']}", headers=bearer(ehr)).json()
    assert current["meta"]["versionId"] == pended["meta"]["versionId"]  # nothing was decided


def test_a_provider_asking_for_the_reviewer_scope_does_not_get_it(client):
    asked = ask_token(client, "clinic-ehr", "system/Claim.c system/ClaimResponse.u")
    assert asked.status_code == 200 and asked.json()["scope"] == "system/Claim.c"
    only = ask_token(client, "clinic-ehr", "system/ClaimResponse.u")
    assert only.status_code == 400 and only.json()["error"] == "invalid_scope"


def test_the_report_as_json_and_csv_is_for_payer_clients_only(client):
    ehr = token(client, "clinic-ehr", "system/*.cruds")
    payer = token(client, "um-system", "system/ClaimResponse.rus")
    for fmt in ("json", "csv"):
        url = f"/reports/prior-authorization?format={fmt}&from=2026-01-01&to=2026-12-31"
        assert client.get(url, headers=bearer(ehr)).status_code == 403
        assert client.get(url, headers=bearer(payer)).status_code == 200


def test_the_desk_refuses_bearer_tokens(client):
    ehr = token(client, "clinic-ehr", "system/*.cruds")
    pended = submit(client, ehr, MISSING_CD22)
    payer = token(client, "um-system", "system/ClaimResponse.rus")
    for who in (ehr, payer):
        for path in ("/review", f"/review/{pended['id']}"):
            page = client.get(path, headers=bearer(who), follow_redirects=False)
            assert page.status_code == 303 and page.headers["location"].startswith("/review/login")
        posted = client.post(f"/review/{pended['id']}/approve", headers=bearer(who), data={"note": "x"},
                             follow_redirects=False)
        assert posted.status_code == 303 and posted.headers["location"].startswith("/review/login")
    assert client.get(f"/fhir/ClaimResponse/{pended['id']}", headers=bearer(ehr)).json()["meta"]["versionId"] == "1"


def test_a_payer_system_review_is_not_human_and_names_the_system(client):
    ehr = token(client, "clinic-ehr", "system/*.cruds")
    pended = submit(client, ehr, MISSING_CD22)
    payer = token(client, "um-system", "system/ClaimResponse.rus")
    listed = client.get("/pas/review/pended", headers=bearer(payer)).json()
    assert pended["id"] in {e["resource"]["id"] for e in listed["entry"]}
    sneaky = client.post(f"/pas/review/{pended['id']}", headers=bearer(payer),
                         json={"decision": "approve", "note": "fine", "reviewerNpi": "1234567893"})
    assert sneaky.status_code == 422 and "reviewerNpi" in sneaky.text
    assert client.post(f"/pas/review/{pended['id']}", headers=bearer(payer),
                       json={"decision": "deny", "note": "no"}).status_code == 403
    ok = client.post(f"/pas/review/{pended['id']}", headers=bearer(payer), json={"decision": "approve", "note": "fine"})
    assert ok.status_code == 200, ok.text
    approved = ok.json()
    flags = {e["url"]: e for x in approved["extension"] if x["url"] == REVIEWER for e in x["extension"]}
    assert flags["wasHumanReviewedFlag"]["valueBoolean"] is False and "reviewerNPI" not in flags
    assert "payer's system review" in approved["disposition"]
    assert any("um-system (not a human review)" in n["text"] for n in approved["processNote"])


def test_a_payer_system_may_not_approve_over_a_not_met_finding_but_routes_it(client):
    ehr = token(client, "clinic-ehr", "system/*.cruds")
    pended = submit(client, ehr, CD22_NEGATIVE)  # would deny: CD22 not met, pended for a physician
    payer = token(client, "um-system", "system/ClaimResponse.rus")
    refused = client.post(f"/pas/review/{pended['id']}", headers=bearer(payer),
                          json={"decision": "approve", "note": "fine"})
    assert refused.status_code == 403 and "route the case to a physician" in refused.text
    routed = client.post(f"/pas/review/{pended['id']}", headers=bearer(payer),
                         json={"decision": "route-to-physician", "note": "CD22 negative on flow"})
    assert routed.status_code == 200 and routed.json()["meta"]["versionId"] == "1"  # no new determination


def test_no_client_finalizes_its_own_organizations_request(client):
    ehr = token(client, "clinic-ehr", "system/*.cruds")
    pended = submit(client, ehr, MISSING_CD22)
    own = token(client, "clinic-payer-bot", "system/ClaimResponse.rus")
    refused = client.post(f"/pas/review/{pended['id']}", headers=bearer(own), json={"decision": "approve", "note": "x"})
    assert refused.status_code == 403 and "its own organization" in refused.text


def test_the_access_trail_is_complete_and_tenant_scoped(client):
    ehr = token(client, "clinic-ehr", "system/*.cruds")
    pended = submit(client, ehr, MISSING_CD22)
    other = token(client, "other-ehr", "system/*.cruds")
    submit(client, other, MISSING_CD22)
    payer = token(client, "um-system", "system/ClaimResponse.rus system/AuditEvent.rs")
    client.post(f"/pas/review/{pended['id']}", headers=bearer(payer), json={"decision": "approve", "note": "ok"})
    client.get("/pas/review/pended", headers=bearer(ehr))  # refused: recorded too
    client.post("/review/login", data={"username": "nobody", "password": "wrong", "csrf_token": "x"})

    def trail(who: str) -> list[dict]:
        found = client.get("/fhir/AuditEvent", params={"_count": 1000}, headers=bearer(who))
        assert found.status_code == 200, found.text
        if fhir_validate.available():  # sign-in, token and refused-route events are R4 AuditEvents too
            assert fhir_validate.validate([(found.json(), None)]) == [[]]
        return [e["resource"] for e in found.json().get("entry", [])]

    everything = trail(payer)
    described = [e.get("outcomeDesc", "") for e in everything]
    assert any("token issued" in d for d in described)
    assert any("approved by payer system um-system" in d for d in described)
    assert any("refused (403)" in d for d in described)
    mine = trail(ehr)
    assert mine and len(mine) < len(everything)
    agents = {a["who"]["identifier"]["value"] for e in mine for a in e["agent"]}
    assert "other-ehr" not in agents  # another organization's calls are not shown to this one
    assert any("approved by" in e.get("outcomeDesc", "") for e in mine)  # decisions on its own request are
    assert "1234567893" not in json.dumps(everything) and "M123" not in json.dumps(everything)  # no PHI


def test_an_assertion_whose_alg_does_not_fit_the_registered_key_is_a_401(tmp_path):
    """Issue 20 item 9: ES384 header over an RS384 key's kid made PyJWT raise TypeError (a 500)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    rsa_key = rsa.generate_private_key(65537, 2048)
    rsa_jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key())), "kid": "r"}
    clients = {"rs-client": {"jwks": {"keys": [rsa_jwk]}, "scope": "system/Claim.c"}}
    settings = Settings(data_dir=tmp_path / "d", public_base_url="http://testserver", smart_clients=json.dumps(clients))
    with TestClient(create_app(settings)) as c:
        url = "http://testserver/auth/token"
        signed = jwt.encode({"iss": "rs-client", "sub": "rs-client", "aud": url, "exp": int(time.time()) + 60,
                             "jti": uuid.uuid4().hex}, KEY, algorithm="ES384", headers={"kid": "r"})
        r = c.post("/auth/token", data={"grant_type": "client_credentials", "scope": "system/Claim.c",
                                        "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed})
        assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text
