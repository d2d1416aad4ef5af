"""Subscription create (handshake), read, search, delete, $status and the CapabilityStatement (backport, PAS 2.2.1)."""
from __future__ import annotations

import pytest

from service.subscriptions import (
    FILTER_CRITERIA,
    HEARTBEAT_PERIOD,
    PAS_SUBSCRIPTION_PROFILE,
    PAS_TOPIC,
    PAYLOAD_CONTENT,
    TIMEOUT,
    TOPIC_CANONICAL,
)
from tests.subscriptions.conftest import create, ig_example, subscription
from tests.subscriptions.receiver import notification_type, parameter
from tests.support import fhir_validate


def status_of(client, sid: str) -> dict:
    bundle = client.get(f"/fhir/Subscription/{sid}/$status").json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset" and bundle["total"] == 1
    params = bundle["entry"][0]["resource"]
    assert params["resourceType"] == "Parameters" and params["meta"]["profile"][0].endswith("backport-subscription-status-r4")
    return {p["name"]: p.get("valueCode") or p.get("valueString") or p.get("valueCodeableConcept")
            or p.get("valueReference") or p.get("valueCanonical") for p in params["parameter"]}


def test_create_handshakes_then_is_active(api, receiver):
    r = api.post("/fhir/Subscription", json=subscription(f"{receiver.url}/hook"))
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["status"] == "active" and sub["criteria"] == PAS_TOPIC
    assert r.headers["location"] == f"http://testserver/fhir/Subscription/{sub['id']}"
    assert r.headers["content-type"].startswith("application/fhir+json")
    [handshake] = receiver.bundles()
    path, _, headers, _ = receiver.received[0]
    assert path == "/hook" and headers["Content-Type"] == "application/fhir+json"
    assert handshake["type"] == "history" and notification_type(handshake) == "handshake"
    first = handshake["entry"][0]
    assert first["request"] == {"method": "GET", "url": f"http://testserver/fhir/Subscription/{sub['id']}/$status"}
    assert first["fullUrl"] == f"urn:uuid:{first['resource']['id']}" and first["response"]["status"] == "200"
    # Sent while the subscription was still `requested` (backport: active only after it is accepted).
    assert parameter(handshake, "status") == "requested" and parameter(handshake, "events-since-subscription-start") == "0"
    assert parameter(handshake, "subscription") == {"reference": f"http://testserver/fhir/Subscription/{sub['id']}"}
    assert parameter(handshake, "topic") == PAS_TOPIC and parameter(handshake, "notification-event") is None
    read = api.get(f"/fhir/Subscription/{sub['id']}").json()
    assert read == sub
    content = read["channel"]["_payload"]["extension"]
    assert content == [{"url": PAYLOAD_CONTENT, "valueCode": "id-only"}]
    assert status_of(api, sub["id"]) == {
        "subscription": {"reference": f"http://testserver/fhir/Subscription/{sub['id']}"}, "topic": PAS_TOPIC,
        "status": "active", "type": "query-status", "events-since-subscription-start": "0"}
    found = api.get("/fhir/Subscription").json()
    assert found["type"] == "searchset" and [e["resource"]["id"] for e in found["entry"]] == [sub["id"]]
    assert api.get("/fhir/Subscription?status=active").json()["total"] == 1
    assert api.get("/fhir/Subscription?status=error").json()["total"] == 0
    assert api.get("/fhir/Subscription?status=nonsense").json()["total"] == 0


def test_payload_content_defaults_to_id_only_and_the_pas_example_is_accepted(client, receiver):
    plain = create(client, subscription(f"{receiver.url}/a", content=None))
    assert plain["channel"]["_payload"]["extension"] == [{"url": PAYLOAD_CONTENT, "valueCode": "id-only"}]
    assert plain["meta"]["profile"] == ["http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription"]
    example = ig_example()
    body = {**example, "channel": {**example["channel"], "endpoint": f"{receiver.url}/b"}}
    made = create(client, body)  # full-resource, orgIdentifier=1234567893: as the IG shows it
    assert made["status"] == "active" and made["id"] != example["id"]
    assert made["_criteria"]["extension"] == [{"url": FILTER_CRITERIA, "valueString": "orgIdentifier=1234567893"}]
    assert "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-subscription" in made["meta"]["profile"]
    assert "text" not in made  # the example's narrative says "Requested": it would no longer be true


def test_a_failed_handshake_leaves_the_subscription_in_error(api, receiver):
    receiver.status = 500
    failed = create(api, subscription(f"{receiver.url}/hook"))
    assert failed["status"] == "error" and "HTTP 500" in failed["error"]
    status = status_of(api, failed["id"])
    assert status["status"] == "error" and "HTTP 500" in status["error"]["text"]
    nobody = create(api, subscription("http://127.0.0.1:9/nobody-listens"))  # discard port: refused
    assert nobody["status"] == "error" and nobody["error"] == "handshake: delivery failed"


def ext(url: str, **value) -> dict:
    return {"url": url, **value}


BAD = [
    ("wrong topic", lambda b: b.update(criteria="http://example.org/SubscriptionTopic/other"), "Subscription.criteria"),
    ("a query criteria", lambda b: b.update(criteria="ClaimResponse?status=active"), "Subscription.criteria"),
    ("http off loopback", lambda b: b["channel"].update(endpoint="http://provider.example.org/hook"),
     "Subscription.channel.endpoint"),
    ("not a URL", lambda b: b["channel"].update(endpoint="provider.example.org/hook"), "Subscription.channel.endpoint"),
    ("credentials in the URL", lambda b: b["channel"].update(endpoint="https://u:p@provider.example.org/hook"),
     "Subscription.channel.endpoint"),
    ("unknown payload content", lambda b: b["channel"].update(_payload={"extension": [
        ext(PAYLOAD_CONTENT, valueCode="everything")]}), f"Subscription.channel.payload.extension('{PAYLOAD_CONTENT}')"),
    ("empty payload", lambda b: b["channel"].update(_payload={"extension": [ext(PAYLOAD_CONTENT, valueCode="empty")]}),
     f"Subscription.channel.payload.extension('{PAYLOAD_CONTENT}')"),
    ("xml payload", lambda b: b["channel"].update(payload="application/fhir+xml"), "Subscription.channel.payload"),
    ("websocket", lambda b: b["channel"].update(type="websocket"), "Subscription.channel.type"),
    ("a Host header", lambda b: b["channel"].update(header=["Host: internal.example.org"]),
     "Subscription.channel.header[0]"),
    ("another filter", lambda b: b.update(_criteria={"extension": [ext(FILTER_CRITERIA, valueString="patient=123")]}),
     f"Subscription.criteria.extension('{FILTER_CRITERIA}')"),
    ("heartbeat of zero", lambda b: b["channel"].update(extension=[ext(HEARTBEAT_PERIOD, valueUnsignedInt=0)]),
     f"Subscription.channel.extension('{HEARTBEAT_PERIOD}')"),
    ("timeout beyond 60 s", lambda b: b["channel"].update(extension=[ext(TIMEOUT, valueUnsignedInt=600)]),
     f"Subscription.channel.extension('{TIMEOUT}')"),
    ("unknown channel extension", lambda b: b["channel"].update(extension=[ext("http://example.org/x", valueString="y")]),
     "Subscription.channel.extension[0]"),
    ("a modifier extension", lambda b: b.update(modifierExtension=[ext("http://example.org/m", valueBoolean=True)]),
     "Subscription.modifierExtension"),
    ("status off", lambda b: b.update(status="off"), "Subscription.status"),
    ("no reason", lambda b: b.pop("reason"), "Subscription.reason"),
    ("an end in the past", lambda b: b.update(end="2020-01-01T00:00:00Z"), "Subscription.end"),
    ("no channel", lambda b: b.pop("channel"), "Subscription.channel"),
]


@pytest.mark.parametrize("why, spoil, element", BAD, ids=[b[0] for b in BAD])
def test_a_subscription_we_cannot_honour_is_a_422_naming_the_element(client, receiver, why, spoil, element):
    body = subscription(f"{receiver.url}/hook")
    spoil(body)
    r = client.post("/fhir/Subscription", json=body)
    assert r.status_code == 422, r.text
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert element in [e for issue in outcome["issue"] for e in issue.get("expression", [])], outcome
    assert receiver.received == [] and client.get("/fhir/Subscription").json()["total"] == 0


def test_every_problem_is_named_at_once(client):
    body = {"resourceType": "Subscription", "reason": "x", "criteria": "nope",
            "channel": {"type": "email", "endpoint": "http://example.org", "payload": "text/plain"}}
    r = client.post("/fhir/Subscription", json=body)
    expressions = {e for issue in r.json()["issue"] for e in issue["expression"]}
    assert r.status_code == 422 and expressions == {"Subscription.criteria", "Subscription.channel.type",
                                                    "Subscription.channel.endpoint", "Subscription.channel.payload"}
    assert client.post("/fhir/Subscription", json={"resourceType": "Patient"}).status_code == 400
    assert client.post("/fhir/Subscription", content=b"{not json").status_code == 400


def test_delete_turns_it_off_and_hides_it(api, receiver):
    sub = create(api, subscription(f"{receiver.url}/hook"))
    assert api.delete(f"/fhir/Subscription/{sub['id']}").status_code == 204
    gone = api.get(f"/fhir/Subscription/{sub['id']}")
    assert gone.status_code == 410 and gone.json()["issue"][0]["code"] == "deleted"
    assert status_of(api, sub["id"])["status"] == "off"
    assert api.get("/fhir/Subscription").json()["total"] == 0
    assert api.delete(f"/fhir/Subscription/{sub['id']}").status_code == 204  # idempotent
    for method, path in (("GET", "/fhir/Subscription/unknown"), ("GET", "/fhir/Subscription/unknown/$status"),
                         ("DELETE", "/fhir/Subscription/unknown"), ("GET", "/fhir/Subscription/$status")):
        missing = api.request(method, path)
        assert missing.status_code == 404 and missing.json()["issue"][0]["code"] == "not-found", (method, path)


def test_the_capability_statement_advertises_the_pas_topic(client):
    resources = {r["type"]: r for r in client.get("/fhir/metadata").json()["rest"][0]["resource"]}
    sub = resources["Subscription"]
    assert sub["extension"] == [{"url": TOPIC_CANONICAL, "valueCanonical": PAS_TOPIC}]
    assert [i["code"] for i in sub["interaction"]] == ["create", "read", "search-type", "delete"]
    assert sub["operation"] == [{"name": "status", "definition":
                                 "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status"}]


@pytest.mark.skipif(not fhir_validate.available(), reason="node and tools/node/node_modules are needed")
def test_what_is_served_validates_as_r4_and_the_pas_subscription_profile(client, receiver):
    sub = create(client, subscription(f"{receiver.url}/hook", extension=[ext(HEARTBEAT_PERIOD, valueUnsignedInt=60)]))
    status = client.get(f"/fhir/Subscription/{sub['id']}/$status").json()
    items = [(sub, None), (sub, PAS_SUBSCRIPTION_PROFILE), (client.get("/fhir/Subscription").json(), None), (status, None),
             (receiver.bundles("handshake")[0], None), (client.get("/fhir/metadata").json(), None)]
    results = fhir_validate.validate(items)
    assert [(r.get("resourceType"), issues) for (r, _), issues in zip(items, results, strict=True) if issues] == []
