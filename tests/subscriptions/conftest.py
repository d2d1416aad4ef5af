"""Subscription fixtures: the service (TestClient, real HTTP out) on SQLite and PostgreSQL, a loopback receiver."""
from __future__ import annotations

import copy
import json
import tarfile
import time
from contextlib import contextmanager
from functools import lru_cache

import pytest
from fastapi.testclient import TestClient

from service.subscriptions import PAS_TOPIC, PAYLOAD_CONTENT
from service.subscriptions.worker import DeliveryPolicy
from tests.subscriptions.receiver import Receiver
from tests.support.databases import empty_tables, throwaway_database
from tests.support.fhir_validate import ig_package

# The receiver is on loopback: delivery there must be listed (SUBSCRIPTION_ALLOWED_ORIGINS, issue 20).
LOOPBACK_ENDPOINTS = "https://*,http://127.0.0.1:*"
ENDPOINT_POLICY = ("https://*", "http://127.0.0.1:*")

# Short enough for tests: look every 50 ms, retry after 0.1 s, 0.2 s, ...; give up after 3 failed posts.
FAST = DeliveryPolicy(interval=0.05, first_retry=0.1, max_retry=0.4, max_attempts=3, lease=5)
IDLE = DeliveryPolicy(interval=3600)  # the worker makes one pass at start-up, then sleeps


@lru_cache(maxsize=1)
def ig_example() -> dict:
    """example/Subscription-PASSubscriptionExample.json from the PAS 2.2.1 package."""
    with tarfile.open(ig_package("davinci-pas-2.2.1.tgz")) as tar:
        member = tar.extractfile("package/example/Subscription-PASSubscriptionExample.json")
        assert member is not None
        return json.load(member)


def subscription(endpoint: str, content: str | None = "id-only", **channel_extra) -> dict:
    """A PAS Subscription to post (the IG's example, pointed at `endpoint`, without its filter)."""
    body = copy.deepcopy(ig_example())
    for key in ("id", "meta", "text", "_criteria"):
        body.pop(key, None)
    assert body["criteria"] == PAS_TOPIC
    body["channel"]["endpoint"] = endpoint
    if content is None:
        body["channel"].pop("_payload")
    else:
        body["channel"]["_payload"] = {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": content}]}
    body["channel"].update(channel_extra)
    return body


@pytest.fixture(scope="session")
def subs_pg_url():
    with throwaway_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_settings(request, tmp_path, subs_pg_url):
    """Authorization off, on a fresh SQLite file or the session's PostgreSQL database (emptied after)."""
    from service.config import Settings
    if request.param == "postgresql" and not subs_pg_url:
        pytest.skip("TEST_DATABASE_URL not set (no PostgreSQL reachable)")
    url = subs_pg_url if request.param == "postgresql" else None
    settings = Settings(data_dir=tmp_path / "data", database_url=url, public_base_url="http://testserver",
                        auth_disabled=True, subscription_allowed_origins=LOOPBACK_ENDPOINTS)
    yield settings
    if url:
        from service.storage import open_storage
        store = open_storage(settings)
        empty_tables(store.engine)
        store.close()


@pytest.fixture()
def settings(settings):
    """tests/conftest.py's settings, with the loopback receiver allowed as an endpoint."""
    return settings.model_copy(update={"subscription_allowed_origins": LOOPBACK_ENDPOINTS})


@pytest.fixture()
def receiver():
    hook = Receiver()
    yield hook
    hook.close()


@contextmanager
def running_app(settings, policy: DeliveryPolicy = FAST):
    """The service under test with its delivery worker on `policy`; leaving stops the worker."""
    from service.app import create_app
    with TestClient(create_app(settings, delivery=policy)) as client:
        yield client


@pytest.fixture()
def api(backend_settings):
    with running_app(backend_settings) as client:
        yield client


def create(client, body: dict, headers: dict | None = None) -> dict:
    r = client.post("/fhir/Subscription", json=body, headers=headers or {})
    assert r.status_code == 201, r.text
    return r.json()


def eventually(check, timeout: float = 15, step: float = 0.02):
    """check()'s first truthy value, or an assertion after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")
