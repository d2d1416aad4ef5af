"""Reviewer API: pended determinations approved or denied by a clinician, as new versions."""
from __future__ import annotations

from tests.pas.bundles import request_bundle
from tests.pas.cases import BASE, MISSING_CD22, RENEWAL
from tests.pas.conftest import REVIEWER_TOKEN
from tests.pas.read import human_reviewed, item_period, months_between, review_action

AUTH = {"authorization": f"Bearer {REVIEWER_TOKEN}"}


def submit(http, payer, answers) -> dict:
    resp = http.post("/fhir/Claim/$submit", json=request_bundle(payer, answers))
    assert resp.status_code == 200, resp.text
    return resp.json()["entry"][0]["resource"]


def test_token_required(http):
    assert http.get("/pas/review/pended").status_code == 401
    bad = http.get("/pas/review/pended", headers={"authorization": "Bearer nope"})
    assert bad.status_code == 403 and bad.json()["resourceType"] == "OperationOutcome"


def test_approve_pended(http):
    pended = submit(http, "fepblue", {k: v for k, v in RENEWAL.items() if k != "cd22-status"})
    assert review_action(pended)["code"] == "A4"
    listed = http.get("/pas/review/pended", headers=AUTH).json()
    assert pended["id"] in {e["resource"]["id"] for e in listed["entry"]}
    resp = http.post(f"/pas/review/{pended['id']}", headers=AUTH,
                     json={"decision": "approve", "note": "CD22 confirmed by flow report",
                           "reviewerNpi": "1234567893"})
    assert resp.status_code == 200, resp.text
    cr = resp.json()
    action = review_action(cr)
    assert action["code"] == "A1" and action["number"] == review_action(pended)["number"]
    assert cr["meta"]["versionId"] == "2" and human_reviewed(cr)
    assert months_between(item_period(cr)) == 6  # FEP renewal: 6 months
    assert cr["preAuthRef"] == action["number"]
    assert any("CD22 confirmed" in n["text"] for n in cr["processNote"])
    assert http.get(f"/fhir/ClaimResponse/{pended['id']}").json() == cr
    first = http.get(f"/fhir/ClaimResponse/{pended['id']}/_history/1").json()
    assert review_action(first)["code"] == "A4" and not human_reviewed(first)
    listed = http.get("/pas/review/pended", headers=AUTH).json()
    assert pended["id"] not in {e["resource"]["id"] for e in listed.get("entry", [])}
    again = http.post(f"/pas/review/{pended['id']}", headers=AUTH,
                      json={"decision": "deny", "note": "changed my mind"})
    assert again.status_code == 409


def test_deny_pended_names_criteria(http):
    pended = submit(http, "aetna", MISSING_CD22)
    resp = http.post(f"/pas/review/{pended['id']}", headers=AUTH,
                     json={"decision": "deny", "note": "no CD22 testing on file"})
    cr = resp.json()
    action = review_action(cr)
    assert action["code"] == "A3" and "cd22-status" in action["reasons"]
    assert "preAuthRef" not in cr and cr["disposition"].startswith("Denied")


def test_final_determinations_are_not_reviewed(http):
    approved = submit(http, "bcbst", BASE)
    resp = http.post(f"/pas/review/{approved['id']}", headers=AUTH,
                     json={"decision": "deny", "note": "x"})
    assert resp.status_code == 409
    missing = http.post("/pas/review/no-such-id", headers=AUTH,
                        json={"decision": "deny", "note": "x"})
    assert missing.status_code == 404
    bad = http.post(f"/pas/review/{approved['id']}", headers=AUTH, json={"decision": "maybe"})
    assert bad.status_code == 422 and len(bad.json()["issue"]) == 2


def test_review_api_off_without_token(client):
    resp = client.get("/pas/review/pended", headers=AUTH)
    assert resp.status_code == 503 and "REVIEWER_TOKEN" in resp.text
