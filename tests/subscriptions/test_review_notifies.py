"""Issue 13, end to end: a pended request finalized by a reviewer at the desk produces exactly one
notification per active Subscription of its submitter (none to anyone else), also when the service
restarts between the decision and the delivery."""
from __future__ import annotations

from service.storage import open_storage
from service.storage.accounts import create_reviewer
from tests.pas.bundles import request_bundle
from tests.pas.cases import MISSING_CD22
from tests.review.desk import PASSWORD, sign_in
from tests.subscriptions.conftest import IDLE, create, running_app, subscription
from tests.subscriptions.receiver import parameter


def reviewer(settings, name="nurse1"):
    store = open_storage(settings)
    store.migrate()
    create_reviewer(store, name, "nurse-reviewer", PASSWORD)
    store.close()


def approve(client, response_id: str) -> None:
    assert sign_in(client, "nurse1").status_code in (200, 303)  # TestClient follows the redirect to the queue
    csrf = client.get("/review/session").json()["csrfToken"]
    r = client.post(f"/pas/review/{response_id}", json={"decision": "approve", "note": "Meets criteria on review"},
                    headers={"x-csrf-token": csrf})
    assert r.status_code == 200, r.text


def focus_of(bundle: dict) -> str:
    parts = parameter(bundle, "notification-event")  # the event's parts
    return next(p["valueReference"]["reference"] for p in parts if p["name"] == "focus")


def test_a_reviewers_decision_notifies_each_subscription_once(backend_settings, receiver):
    reviewer(backend_settings)
    with running_app(backend_settings) as client:
        create(client, subscription(f"{receiver.url}/a"))
        create(client, subscription(f"{receiver.url}/b", "full-resource"))
        receiver.wait_for("handshake", 2)
        pended = client.post("/fhir/Claim/$submit", json=request_bundle("aetna", MISSING_CD22)).json()
        rid = pended["entry"][0]["resource"]["id"]
        approve(client, rid)
        a = receiver.wait_for("event-notification", 1, "/a")
        b = receiver.wait_for("event-notification", 1, "/b")
        assert focus_of(a[0]).endswith(f"ClaimResponse/{rid}")
        full = [e["resource"] for e in b[0]["entry"][1:]]
        assert full and full[0]["resourceType"] == "Bundle" and full[0]["entry"][0]["resource"]["meta"]["versionId"] == "2"
    assert len(receiver.bundles("event-notification", "/a")) == 1
    assert len(receiver.bundles("event-notification", "/b")) == 1


def test_a_decision_made_before_a_restart_is_delivered_after_it_exactly_once(backend_settings, receiver):
    reviewer(backend_settings)
    with running_app(backend_settings) as client:
        create(client, subscription(f"{receiver.url}/a"))
        receiver.wait_for("handshake", 1)
    with running_app(backend_settings, IDLE) as client:  # the worker makes its pass before anything is queued
        pended = client.post("/fhir/Claim/$submit", json=request_bundle("aetna", MISSING_CD22)).json()
        approve(client, pended["entry"][0]["resource"]["id"])
    assert receiver.bundles("event-notification") == []  # decided and stored, not yet sent: then the restart
    with running_app(backend_settings):
        receiver.wait_for("event-notification", 1)
    with running_app(backend_settings):
        pass
    assert len(receiver.bundles("event-notification")) == 1
