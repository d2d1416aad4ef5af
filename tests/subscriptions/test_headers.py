"""Subscription.channel.header (issue 21): "Name: value" entries, Authorization included, sent with the
handshake, every heartbeat and every notification; refused when they could break or smuggle the request;
stored apart, never rendered, logged or echoed in an error."""
from __future__ import annotations

import logging

import pytest

from service.storage import subscriptions as repo
from service.subscriptions import HEARTBEAT_PERIOD
from tests.subscriptions.conftest import create, subscription
from tests.subscriptions.test_delivery import enqueue

SECRET = "Bearer s3cr3t-subscriber-token"
HEADERS = [f"Authorization: {SECRET}", "X-Api-Key:k-123  "]


def sent_headers(receiver, kind: str) -> list[dict]:
    from tests.subscriptions.receiver import notification_type
    with receiver.lock:
        return [{k.lower(): v for k, v in h.items()} for _, _, h, b in receiver.received if notification_type(b) == kind]


def test_headers_go_with_the_handshake_heartbeats_and_notifications(api, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    r = api.post("/fhir/Subscription", json=subscription(
        f"{receiver.url}/hook", header=HEADERS, extension=[{"url": HEARTBEAT_PERIOD, "valueUnsignedInt": 1}]))
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["status"] == "active" and "header" not in made["channel"]
    enqueue(api.app.state.storage, None, "cr-1")
    receiver.wait_for("event-notification", 1)
    receiver.wait_for("heartbeat", 1, timeout=10)
    for kind in ("handshake", "heartbeat", "event-notification"):
        for headers in sent_headers(receiver, kind):
            assert headers["authorization"] == SECRET and headers["x-api-key"] == "k-123", kind
            assert headers["content-type"] == "application/fhir+json"
    # Stored apart from the resource; never rendered by read or search; never logged.
    row = repo.get_subscription(api.app.state.storage, made["id"], owner=None)
    assert row is not None and row.headers == [f"Authorization: {SECRET}", "X-Api-Key: k-123"]
    assert "header" not in row.resource["channel"]
    assert "header" not in api.get(f"/fhir/Subscription/{made['id']}").json()["channel"]
    assert all("header" not in e["resource"]["channel"] for e in api.get("/fhir/Subscription").json()["entry"])
    assert "s3cr3t" not in api.get(f"/fhir/Subscription/{made['id']}/$status").text
    logged = caplog.text + " ".join(str(vars(record)) for record in caplog.records)
    assert "s3cr3t" not in logged and "k-123" not in logged


REFUSED = [
    ("CR LF", ["X-Note: a\r\nHost: evil.example.org"], 0),
    ("LF", ["X-Note: a\nX-Other: b"], 0),
    ("NUL", ["X-Note: a\x00b"], 0),
    ("Host", ["Host: internal.example.org"], 0),
    ("Content-Length", ["Authorization: Bearer ok", "Content-Length: 0"], 1),
    ("Transfer-Encoding", ["Transfer-Encoding: chunked"], 0),
    ("Connection", ["connection: close"], 0),
    ("Keep-Alive", ["Keep-Alive: timeout=5"], 0),
    ("Upgrade", ["Upgrade: h2c"], 0),
    ("Proxy-Authorization", ["Proxy-Authorization: Basic s3cr3t"], 0),
    ("TE", ["TE: trailers"], 0),
    ("Content-Type", ["Content-Type: text/plain"], 0),
    ("a duplicate", [f"Authorization: {SECRET}", f"authorization: {SECRET}"], 1),
    ("over-long", ["Authorization: Bearer " + "s3cr3t" * 1000], 0),
    ("no colon", ["Authorization Bearer s3cr3t"], 0),
    ("no value", ["X-Empty:"], 0),
    ("a name with a space", ["X Bad: s3cr3t"], 0),
    ("not ASCII", ["X-Note: s3cr3t-é"], 0),
    ("not a string", [{"name": "Authorization"}], 0),
]


@pytest.mark.parametrize("why, header, index", REFUSED, ids=[r[0] for r in REFUSED])
def test_a_header_that_could_break_the_request_is_a_422_naming_it(client, receiver, why, header, index):
    r = client.post("/fhir/Subscription", json=subscription(f"{receiver.url}/hook", header=header))
    assert r.status_code == 422, r.text
    issues = r.json()["issue"]
    assert [i["expression"] for i in issues] == [[f"Subscription.channel.header[{index}]"]]
    assert "s3cr3t" not in r.text and "evil" not in r.text and "internal" not in r.text  # never echoed
    assert receiver.received == []  # nothing stored, nothing sent


def test_header_must_be_a_short_array(client, receiver):
    for header, words in (("Authorization: x", "array"), ([f"X-H{n}: v" for n in range(17)], "at most 16")):
        r = client.post("/fhir/Subscription", json=subscription(f"{receiver.url}/hook", header=header))
        assert r.status_code == 422 and words in r.json()["issue"][0]["diagnostics"]
        assert r.json()["issue"][0]["expression"] == ["Subscription.channel.header"]
    assert receiver.received == []


def test_a_subscription_without_headers_sends_only_ours(client, receiver):
    create(client, subscription(f"{receiver.url}/hook"))
    [headers] = sent_headers(receiver, "handshake")
    assert "authorization" not in headers
