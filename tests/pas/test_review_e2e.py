"""Reviewer API: pended determinations approved or denied by a signed-in clinician, as new versions."""
from __future__ import annotations

import json

import pytest

from tests.pas.bundles import request_bundle
from tests.pas.cases import BASE, MISSING_CD22, RENEWAL
from tests.pas.read import human_reviewed, item_period, months_between, review_action
from tests.review.desk import NURSE, PHYSICIAN, PHYSICIAN_NPI, make_accounts, signed_in


@pytest.fixture(scope="module")
def physician(server, backend):
    """A physician reviewer's session (accounts made with `besponsa-pa create-reviewer`)."""
    _, data_dir, url = backend
    make_accounts(data_dir, url)
    http = signed_in(server.url, PHYSICIAN)
    yield http
    http.close()


@pytest.fixture(scope="module")
def nurse(server, physician):
    http = signed_in(server.url, NURSE)
    yield http
    http.close()


def submit(http, payer, answers) -> dict:
    resp = http.post("/fhir/Claim/$submit", json=request_bundle(payer, answers))
    assert resp.status_code == 200, resp.text
    return resp.json()["entry"][0]["resource"]


def test_a_session_is_required(http, physician):
    no_session = http.get("/pas/review/pended")
    assert no_session.status_code == 401 and no_session.json()["resourceType"] == "OperationOutcome"
    assert http.get("/pas/review/pended", headers={"authorization": "Bearer test-reviewer-token"}).status_code == 401
    pended = submit(http, "aetna", MISSING_CD22)
    no_csrf = physician.post(f"/pas/review/{pended['id']}", json={"decision": "approve", "note": "x"},
                             headers={"x-csrf-token": ""})
    assert no_csrf.status_code == 403 and no_csrf.json()["issue"][0]["code"] == "forbidden"


def test_approve_pended(http, physician):
    pended = submit(http, "fepblue", {k: v for k, v in RENEWAL.items() if k != "cd22-status"})
    assert review_action(pended)["code"] == "A4"
    listed = physician.get("/pas/review/pended").json()
    assert pended["id"] in {e["resource"]["id"] for e in listed["entry"]}
    resp = physician.post(f"/pas/review/{pended['id']}",
                          json={"decision": "approve", "note": "CD22 confirmed by flow report"})
    assert resp.status_code == 200, resp.text
    cr = resp.json()
    # The person and the NPI on their account, never one from the request body (issue 20).
    assert PHYSICIAN_NPI in json.dumps(cr["extension"]) and any(
        n["text"].startswith(f"Decided by physician reviewer {PHYSICIAN}") for n in cr["processNote"])
    action = review_action(cr)
    assert action["code"] == "A1" and action["number"] == review_action(pended)["number"]
    assert cr["meta"]["versionId"] == "2" and human_reviewed(cr)
    assert months_between(item_period(cr)) == 6  # FEP renewal: 6 months
    assert cr["preAuthRef"] == action["number"]
    assert any("CD22 confirmed" in n["text"] for n in cr["processNote"])
    assert http.get(f"/fhir/ClaimResponse/{pended['id']}").json() == cr
    first = http.get(f"/fhir/ClaimResponse/{pended['id']}/_history/1").json()
    assert review_action(first)["code"] == "A4" and not human_reviewed(first)
    listed = physician.get("/pas/review/pended").json()
    assert pended["id"] not in {e["resource"]["id"] for e in listed.get("entry", [])}
    again = physician.post(f"/pas/review/{pended['id']}", json={"decision": "deny", "note": "changed my mind"})
    assert again.status_code == 409


def test_deny_pended_names_criteria_and_the_physician(http, physician):
    pended = submit(http, "aetna", MISSING_CD22)
    resp = physician.post(f"/pas/review/{pended['id']}", json={"decision": "deny", "note": "no CD22 testing on file"})
    cr = resp.json()
    action = review_action(cr)
    assert action["code"] == "A3" and "cd22-status" in action["reasons"]
    assert "preAuthRef" not in cr and cr["disposition"].startswith("Denied")
    reviewer = next(e for e in cr["extension"] if e["url"].endswith("extension-claimResponseReviewer"))
    assert any(s.get("valueIdentifier", {}).get("value") == PHYSICIAN_NPI for s in reviewer["extension"])


def test_a_nurse_approves_but_may_not_deny(http, nurse):
    pended = submit(http, "aetna", MISSING_CD22)
    refused = nurse.post(f"/pas/review/{pended['id']}", json={"decision": "deny", "note": "x"})
    assert refused.status_code == 403
    approved = nurse.post(f"/pas/review/{pended['id']}", json={"decision": "approve", "note": "ok", "months": 4})
    assert approved.status_code == 200 and months_between(item_period(approved.json())) == 4


def test_final_determinations_are_not_reviewed(http, physician):
    approved = submit(http, "bcbst", BASE)
    resp = physician.post(f"/pas/review/{approved['id']}", json={"decision": "deny", "note": "x"})
    assert resp.status_code == 409
    missing = physician.post("/pas/review/no-such-id", json={"decision": "deny", "note": "x"})
    assert missing.status_code == 404
    bad = physician.post(f"/pas/review/{approved['id']}", json={"decision": "maybe"})
    assert bad.status_code == 422 and len(bad.json()["issue"]) == 2


def test_review_api_without_a_session_in_process(client):
    resp = client.get("/pas/review/pended")
    assert resp.status_code == 401 and resp.headers["www-authenticate"].startswith("Bearer")
    assert client.post("/pas/review/x", json={"decision": "approve", "note": "x"}).status_code == 401
