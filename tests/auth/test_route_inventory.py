"""The closed API as an inventory: every route the service publishes is in the guard's table, or
public by design, or behind a sign-in of its own, and answers an anonymous caller accordingly.

A route added without a decision here fails this test, so no patient-data route opens by accident.
Routes kept out of the OpenAPI document (the desk's HTML pages and forms, the SMART app's form
posts) are refused anonymously in tests/review and tests/smart.
"""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth.guard import find_rule
from service.config import Settings

# Public by design: discovery, canonical artifacts, terminology, the policy texts, probes, and the
# token endpoint itself. None reads or writes patient data.
PUBLIC = {
    ("GET", "/.well-known/smart-configuration"), ("GET", "/fhir/.well-known/smart-configuration"),
    ("POST", "/auth/token"), ("GET", "/cds-services"), ("GET", "/fhir/metadata"),
    ("GET", "/fhir/CodeSystem/pa-criteria"), ("GET", "/fhir/Library"), ("GET", "/fhir/Library/{lid}"),
    ("GET", "/fhir/Questionnaire"), ("GET", "/fhir/Questionnaire/{qid}"),
    ("GET", "/fhir/ValueSet/$expand"), ("POST", "/fhir/ValueSet/$expand"), ("GET", "/fhir/ValueSet/{vid}"),
    ("GET", "/fhir/ValueSet/{vid}/$expand"), ("GET", "/policies/{payer_id}"),
    ("GET", "/healthz"), ("GET", "/readyz"),
}
# CDS Hooks calls carry the EHR's JWT (CDS Hooks 2.0 "Trusting CDS Clients"), checked when
# CDS_TRUSTED_ISSUERS is set; they return cards about the data the EHR sent, nothing stored.
CDS_HOOKS = {("POST", "/cds-services/{service_id}"), ("POST", "/cds-services/{service_id}/feedback")}
# Behind a sign-in of their own: the reviewer's session or backend token, the SMART app's session.
OWN_SIGN_IN = {
    ("GET", "/pas/review/pended"): 401, ("POST", "/pas/review/{response_id}"): 401,
    ("GET", "/review/session"): 401,
    ("GET", "/smart/callback"): 401, ("GET", "/smart/form"): 401, ("GET", "/smart/result"): 401,
    ("GET", "/smart/launch"): 400,  # starts a sign-in at the EHR; without iss it goes nowhere
}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """Authorization on, as deployed, with no clients registered."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("inventory") / "data", public_base_url="http://testserver")
    with TestClient(create_app(settings)) as c:
        yield c


def published(api) -> list[tuple[str, str]]:
    return sorted((method.upper(), path) for path, ops in api.get("/openapi.json").json()["paths"].items()
                  for method in ops)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def test_every_published_route_has_an_access_decision(api):
    undecided = [(m, p) for m, p in published(api)
                 if not find_rule(m, concrete(p)) and (m, p) not in PUBLIC | CDS_HOOKS | set(OWN_SIGN_IN)]
    assert not undecided, f"add each to the guard's PROTECTED table or classify it here: {undecided}"


def test_every_guarded_route_refuses_an_anonymous_caller(api):
    for method, path in published(api):
        if find_rule(method, concrete(path)):
            r = api.request(method, concrete(path), json={} if method == "POST" else None)
            assert r.status_code == 401 and r.json()["resourceType"] == "OperationOutcome", (method, path)
            assert r.headers["www-authenticate"].startswith("Bearer"), (method, path)


@pytest.mark.parametrize("route, status", OWN_SIGN_IN.items())
def test_routes_with_their_own_sign_in_refuse_an_anonymous_caller(api, route, status):
    method, path = route
    r = api.request(method, concrete(path), follow_redirects=False)
    assert r.status_code == status, r.text[:200]


def test_public_routes_are_published_as_listed(api):
    """The lists above stay true: nothing named here has gone from the API unnoticed."""
    routes = set(published(api))
    assert PUBLIC | CDS_HOOKS | set(OWN_SIGN_IN) <= routes, (PUBLIC | CDS_HOOKS | set(OWN_SIGN_IN)) - routes
