"""Event notifications from the outbox: shapes, exactly once per active subscription, back-off, restart, heartbeat."""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from service.fhir.client import HttpClient
from service.storage import open_storage
from service.storage import subscriptions as repo
from service.storage.subscriptions import enqueue_claim_event
from service.subscriptions import HEARTBEAT_PERIOD, PAS_TOPIC
from service.subscriptions.request import read_subscription
from service.subscriptions.worker import DeliveryWorker
from tests.pas.bundles import request_bundle
from tests.pas.cases import BASE
from tests.subscriptions.conftest import ENDPOINT_POLICY, FAST, IDLE, create, eventually, running_app, subscription
from tests.subscriptions.receiver import notification_type, parameter
from tests.support import fhir_validate

EVENT = "event-notification"


def enqueue(storage, owner: str | None, response_id: str, version: int = 1) -> int:
    """What the lead's claims repository does: the event in the same transaction as the new version."""
    with storage.write_lock, storage.sessions.begin() as session:
        return enqueue_claim_event(session, owner=owner, response_id=response_id, version=version)


def submit(client) -> str:
    r = client.post("/fhir/Claim/$submit", json=request_bundle("aetna", BASE))
    assert r.status_code == 200, r.text
    return r.json()["entry"][0]["resource"]["id"]


def subscribe_directly(storage, endpoint: str, owner: str | None, org_filter: str | None = None) -> str:
    """An active subscription of another owner, as if that client had made it."""
    wanted = replace(read_subscription(subscription(endpoint), ENDPOINT_POLICY), org_filter=org_filter)
    row = repo.create_subscription(storage, wanted, owner=owner, client_id="someone-else")
    repo.record_handshake(storage, row.id, None)
    return row.id


def event_of(bundle: dict) -> dict:
    return {p["name"]: p.get("valueString") or p.get("valueInstant") or p.get("valueReference")
            for p in parameter(bundle, "notification-event")}


def test_id_only_and_full_resource_notifications(api, receiver):
    storage = api.app.state.storage
    response_id = submit(api)
    slim = create(api, subscription(f"{receiver.url}/id-only"))
    full = create(api, subscription(f"{receiver.url}/full", content="full-resource"))
    assert enqueue(storage, None, response_id) == 2
    [id_only] = receiver.wait_for(EVENT, 1, "/id-only")
    [with_resource] = receiver.wait_for(EVENT, 1, "/full")
    focus = {"reference": f"http://testserver/fhir/ClaimResponse/{response_id}", "type": "ClaimResponse"}
    for bundle, sub in ((id_only, slim), (with_resource, full)):
        assert bundle["type"] == "history" and bundle["meta"]["profile"][0].endswith("backport-subscription-notification-r4")
        assert parameter(bundle, "subscription") == {"reference": f"http://testserver/fhir/Subscription/{sub['id']}"}
        assert parameter(bundle, "topic") == PAS_TOPIC and parameter(bundle, "status") == "active"
        assert parameter(bundle, "events-since-subscription-start") == "1"
        event = event_of(bundle)
        assert event["event-number"] == "1" and event["focus"] == focus and event["timestamp"].endswith("+00:00")
    assert len(id_only["entry"]) == 1  # id-only: the focus is a reference, nothing more
    assert len(with_resource["entry"]) == 2
    pas = with_resource["entry"][1]
    assert pas["resource"]["resourceType"] == "Bundle" and pas["fullUrl"] == f"urn:uuid:{pas['resource']['id']}"
    assert pas["resource"]["meta"]["profile"] == ["http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-pas-response-bundle"]
    assert pas["resource"]["entry"][0]["resource"]["id"] == response_id
    assert pas["request"] == {"method": "GET", "url": f"ClaimResponse/{response_id}"}
    assert event_of(with_resource)["additional-context"] == {"reference": pas["fullUrl"]}
    # The next event is number 2; one the payer cannot render is still announced, without the resource.
    assert enqueue(storage, None, "no-such-response", 2) == 2
    second = receiver.wait_for(EVENT, 2, "/full")[1]
    assert event_of(second)["event-number"] == "2" and "resource" not in second["entry"][1]
    assert second["entry"][1]["response"] == {"status": "404"}
    if fhir_validate.available():
        results = fhir_validate.validate([(id_only, None), (with_resource, None), (second, None)])
        assert results == [[], [], []]


def test_exactly_one_notification_per_active_subscription_of_the_owner(api, receiver):
    storage = api.app.state.storage
    for path in ("/a", "/b"):
        create(api, subscription(f"{receiver.url}{path}"))
    deleted = create(api, subscription(f"{receiver.url}/deleted"))
    api.delete(f"/fhir/Subscription/{deleted['id']}")
    receiver.fail_next = 1
    assert create(api, subscription(f"{receiver.url}/broken"))["status"] == "error"
    subscribe_directly(storage, f"{receiver.url}/other", "client:other")
    subscribe_directly(storage, f"{receiver.url}/org-match", "org:http://hl7.org/fhir/sid/us-npi|1234567893", "1234567893")
    subscribe_directly(storage, f"{receiver.url}/org-miss", "org:http://hl7.org/fhir/sid/us-npi|1234567893", "999")

    assert enqueue(storage, None, "cr-1") == 2
    receiver.wait_for(EVENT, 1, "/a"), receiver.wait_for(EVENT, 1, "/b")
    assert enqueue(storage, "org:http://hl7.org/fhir/sid/us-npi|1234567893", "cr-2") == 1
    receiver.wait_for(EVENT, 1, "/org-match")
    assert enqueue(storage, "client:nobody", "cr-3") == 0
    time.sleep(0.5)  # ten more worker passes: nothing else may arrive
    counts = {path: len(receiver.bundles(EVENT, path))
              for path in ("/a", "/b", "/deleted", "/broken", "/other", "/org-match", "/org-miss")}
    assert counts == {"/a": 1, "/b": 1, "/deleted": 0, "/broken": 0, "/other": 0, "/org-match": 1, "/org-miss": 0}


def test_a_rolled_back_transaction_sends_nothing(api, receiver):
    storage = api.app.state.storage
    sub = create(api, subscription(f"{receiver.url}/hook"))
    with pytest.raises(RuntimeError), storage.write_lock, storage.sessions.begin() as session:
        assert enqueue_claim_event(session, owner=None, response_id="cr-1", version=1) == 1
        raise RuntimeError("the ClaimResponse version failed to store")
    time.sleep(0.3)
    assert receiver.bundles(EVENT) == [] and repo.list_outbox(storage, sub["id"]) == []
    status = api.get(f"/fhir/Subscription/{sub['id']}/$status").json()["entry"][0]["resource"]
    assert parameter({"entry": [{"resource": status}]}, "events-since-subscription-start") == "0"


def test_failed_delivery_backs_off_then_the_subscription_is_in_error(api, receiver):
    storage = api.app.state.storage
    sub = create(api, subscription(f"{receiver.url}/hook"))
    receiver.status = 503
    assert enqueue(storage, None, "cr-1") == 1
    errored = eventually(lambda: (s := api.get(f"/fhir/Subscription/{sub['id']}").json())["status"] == "error" and s)
    assert "HTTP 503" in errored["error"]
    times = receiver.times(EVENT)
    assert len(times) == FAST.max_attempts  # 3 posts, then given up
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.18  # 0.1 s, then 0.2 s: exponential back-off
    status = api.get(f"/fhir/Subscription/{sub['id']}/$status").json()["entry"][0]["resource"]
    as_bundle = {"entry": [{"resource": status}]}
    assert parameter(as_bundle, "status") == "error" and "HTTP 503" in parameter(as_bundle, "error")["text"]
    [row] = repo.list_outbox(storage, sub["id"])
    assert (row.state, row.attempts) == ("failed", FAST.max_attempts) and "HTTP 503" in row.last_error
    assert enqueue(storage, None, "cr-2") == 0  # a subscription in error is owed nothing more


def test_a_failed_post_is_retried_until_accepted(api, receiver):
    storage = api.app.state.storage
    sub = create(api, subscription(f"{receiver.url}/hook"))
    receiver.fail_next = 2
    enqueue(storage, None, "cr-1")
    posts = receiver.wait_for(EVENT, 3)
    time.sleep(0.5)
    assert len(receiver.bundles(EVENT)) == 3 and {event_of(b)["event-number"] for b in posts} == {"1"}
    [row] = repo.list_outbox(storage, sub["id"])
    assert (row.state, row.attempts) == ("delivered", 2)
    assert api.get(f"/fhir/Subscription/{sub['id']}").json()["status"] == "active"


def test_a_restart_between_enqueue_and_delivery_still_delivers_exactly_once(backend_settings, receiver):
    with running_app(backend_settings) as first:
        sub = create(first, subscription(f"{receiver.url}/hook"))
    storage = open_storage(backend_settings)  # the service is down: the event waits in the database
    try:
        assert enqueue(storage, None, "cr-1") == 1
    finally:
        storage.close()
    time.sleep(0.2)
    assert receiver.bundles(EVENT) == []
    with running_app(backend_settings) as second:
        receiver.wait_for(EVENT, 1)
        time.sleep(0.5)
        [row] = repo.list_outbox(second.app.state.storage, sub["id"])
        assert row.state == "delivered"
    with running_app(backend_settings):  # and a further restart sends nothing again
        time.sleep(0.5)
    assert len(receiver.bundles(EVENT)) == 1


def test_an_event_leased_by_a_worker_that_died_is_sent_after_the_lease(api, receiver):
    storage = api.app.state.storage
    api.app.state.subscriptions.close()  # the app's own worker stays out of this
    create(api, subscription(f"{receiver.url}/hook"))
    enqueue(storage, None, "cr-1")
    [taken] = repo.claim_due(storage, now=time.time(), lease=0.3)  # a worker takes it, then dies
    worker = DeliveryWorker(storage, HttpClient(allowed=ENDPOINT_POLICY), "http://testserver", lambda rid: None, FAST)
    assert worker.run_once() == 0  # still leased
    time.sleep(0.35)
    assert worker.run_once() == 1 and worker.run_once() == 0
    assert [event_of(b)["event-number"] for b in receiver.bundles(EVENT)] == [str(taken.event.event_number)]


def test_two_workers_deliver_each_event_once_and_in_order(backend_settings, receiver):
    with running_app(backend_settings, IDLE) as client:
        storage = client.app.state.storage
        subs = [create(client, subscription(f"{receiver.url}/{n}"))["id"] for n in ("one", "two")]
        for n in range(10):
            assert enqueue(storage, None, f"cr-{n}") == 2
        workers = [DeliveryWorker(storage, HttpClient(allowed=ENDPOINT_POLICY), "http://testserver", lambda rid: None, FAST)
                   for _ in range(2)]

        def drain(worker):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(
                    r.state == "pending" for s in subs for r in repo.list_outbox(storage, s)):
                worker.run_once()

        threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for path in ("/one", "/two"):
            numbers = [event_of(b)["event-number"] for b in receiver.bundles(EVENT, path)]
            assert numbers == [str(n) for n in range(1, 11)], (path, numbers)


def test_a_heartbeat_is_sent_when_nothing_else_was(api, receiver):
    beating = create(api, subscription(f"{receiver.url}/beat",
                                       extension=[{"url": HEARTBEAT_PERIOD, "valueUnsignedInt": 1}]))
    create(api, subscription(f"{receiver.url}/quiet"))
    beats = receiver.wait_for("heartbeat", 2, "/beat", timeout=10)
    assert all(parameter(b, "status") == "active" and parameter(b, "events-since-subscription-start") == "0"
               and parameter(b, "notification-event") is None and len(b["entry"]) == 1 for b in beats)
    assert parameter(beats[0], "subscription")["reference"].endswith(beating["id"])
    handshake_at, first, second = receiver.times("handshake", "/beat")[0], *receiver.times("heartbeat", "/beat")[:2]
    # A heartbeat is due a period after the last post was started; arrival times also carry the post's own
    # latency, so the gaps seen here are the period give or take that.
    assert first - handshake_at >= 0.75 and second - first >= 0.75
    assert receiver.bundles("heartbeat", "/quiet") == []
    assert {notification_type(b) for b in receiver.bundles(path="/quiet")} == {"handshake"}


def test_heartbeats_that_keep_failing_put_the_subscription_in_error(api, receiver):
    sub = create(api, subscription(f"{receiver.url}/beat", extension=[{"url": HEARTBEAT_PERIOD, "valueUnsignedInt": 1}]))
    receiver.status = 500
    errored = eventually(lambda: (s := api.get(f"/fhir/Subscription/{sub['id']}").json())["status"] == "error" and s,
                         timeout=10)
    assert errored["error"].startswith("heartbeat:") and len(receiver.bundles("heartbeat")) == FAST.max_attempts
