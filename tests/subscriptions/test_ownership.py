"""With authorization on, a Subscription belongs to the client (or organization) that made it."""
from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.auth.test_access import ASSERTION_TYPE, BASE_URL, ORG, assertion, bearer, jwk
from tests.subscriptions.conftest import FAST, LOOPBACK_ENDPOINTS, create, running_app, subscription
from tests.subscriptions.test_delivery import enqueue

EVENT = "event-notification"


@pytest.fixture()
def secured(tmp_path):
    """Two clinics: A acts for an organization (owner org:...), B for itself (owner client:clinic-b)."""
    from service.config import Settings
    keys = {"a": ec.generate_private_key(ec.SECP384R1()), "b": ec.generate_private_key(ec.SECP384R1())}
    clients = {"clinic-a": {"jwks": {"keys": [jwk(keys["a"], "a1", "ES384")]}, "scope": "system/*.cruds",
                            "organization": ORG},
               "clinic-b": {"jwks": {"keys": [jwk(keys["b"], "b1", "ES384")]}, "scope": "system/Subscription.cruds"}}
    settings = Settings(data_dir=tmp_path / "data", public_base_url=BASE_URL, smart_clients=json.dumps(clients),
                        subscription_allowed_origins=LOOPBACK_ENDPOINTS)
    with running_app(settings, FAST) as client:
        tokens = {}
        for name, kid in (("clinic-a", "a1"), ("clinic-b", "b1")):
            r = client.post("/auth/token", data={
                "grant_type": "client_credentials", "scope": "system/Subscription.cruds",
                "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion(keys[name[-1]], name, kid)})
            assert r.status_code == 200, r.text
            tokens[name] = bearer(r.json()["access_token"])
        yield client, tokens


def test_another_clients_subscription_is_not_found(secured, receiver):
    client, tokens = secured
    a, b = tokens["clinic-a"], tokens["clinic-b"]
    assert client.post("/fhir/Subscription", json=subscription(f"{receiver.url}/a")).status_code == 401
    mine = create(client, subscription(f"{receiver.url}/a"), a)
    theirs = create(client, subscription(f"{receiver.url}/b"), b)
    assert client.get(f"/fhir/Subscription/{mine['id']}", headers=a).json()["status"] == "active"
    for method, path in (("GET", f"/fhir/Subscription/{mine['id']}"), ("GET", f"/fhir/Subscription/{mine['id']}/$status"),
                         ("DELETE", f"/fhir/Subscription/{mine['id']}")):
        r = client.request(method, path, headers=b)
        assert r.status_code == 404 and r.json()["issue"][0]["code"] == "not-found", (method, path)
    assert [e["resource"]["id"] for e in client.get("/fhir/Subscription", headers=a).json()["entry"]] == [mine["id"]]
    assert [e["resource"]["id"] for e in client.get("/fhir/Subscription", headers=b).json()["entry"]] == [theirs["id"]]
    assert client.get(f"/fhir/Subscription/{mine['id']}", headers=a).status_code == 200  # B's delete did nothing

    # A determination of A's organization is announced to A's subscription only.
    assert enqueue(client.app.state.storage, f"org:{ORG}", "cr-1") == 1
    receiver.wait_for(EVENT, 1, "/a")
    assert enqueue(client.app.state.storage, "client:clinic-b", "cr-2") == 1
    receiver.wait_for(EVENT, 1, "/b")
    assert len(receiver.bundles(EVENT, "/a")) == 1
