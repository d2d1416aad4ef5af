"""Stateless workers: four uvicorn workers on PostgreSQL serve tokens, determinations and SMART app
sessions interchangeably (each response's request-id prefix names the worker that served it)."""
from __future__ import annotations

import json
import re
import time
import uuid
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from service.auth.tokens import ASSERTION_TYPE
from tests.pas.bundles import request_bundle
from tests.pas.cases import BASE
from tests.pas.server import running_server
from tests.support.databases import throwaway_database
from tests.support.ehr import chart_for, running_ehr


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with throwaway_database() as url:
        if not url:
            pytest.skip("TEST_DATABASE_URL not set (no PostgreSQL reachable)")
        key = ec.generate_private_key(ec.SECP384R1())
        public = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())), "kid": "k1"}
        clients = {"clinic": {"jwks": {"keys": [public]}, "scope": "system/*.cruds"}}
        with running_server(tmp_path_factory.mktemp("workers") / "data", url, workers=4,
                            AUTH_DISABLED="false", SMART_CLIENTS=json.dumps(clients)) as server:
            yield server, key


def worker(response: httpx.Response) -> str:
    return response.headers["x-request-id"][:16]  # RequestIdMiddleware: a random prefix per process


def get_token(server, key, jti: str | None = None) -> httpx.Response:
    url = f"{server.url}/auth/token"
    signed = jwt.encode({"iss": "clinic", "sub": "clinic", "aud": url, "exp": int(time.time()) + 200,
                         "jti": jti or uuid.uuid4().hex}, key, algorithm="ES384", headers={"kid": "k1"})
    return httpx.post(url, data={"grant_type": "client_credentials", "scope": "system/Claim.c system/ClaimResponse.rs",
                                 "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed}, timeout=30)


def test_tokens_and_determinations_cross_workers(cluster):
    server, key = cluster
    token = get_token(server, key).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    served, ids = set(), []
    with httpx.Client(base_url=server.url, timeout=30) as client:  # a new connection per call: any worker
        for _ in range(12):
            r = httpx.post(f"{server.url}/fhir/Claim/$submit", json=request_bundle("aetna", BASE), headers=headers,
                           timeout=30)
            assert r.status_code == 200, r.text
            served.add(worker(r))
            ids.append(r.json()["entry"][0]["resource"]["id"])
        for rid in ids:
            r = client.get(f"/fhir/ClaimResponse/{rid}", headers={**headers, "Connection": "close"})
            assert r.status_code == 200
            served.add(worker(r))
    assert len(served) >= 2, served  # more than one worker answered, and each read every other's


def test_an_assertion_is_good_once_across_all_workers(cluster):
    server, key = cluster
    jti = uuid.uuid4().hex
    answers = [get_token(server, key, jti).status_code for _ in range(6)]
    assert answers.count(200) == 1 and answers.count(401) == 5


def test_a_smart_session_survives_moving_between_workers(cluster):
    server, _ = cluster
    with running_ehr(chart_for("aetna"), []) as ehr:
        seen = set()
        with httpx.Client(timeout=30, headers={"Connection": "close"}) as browser:
            r = browser.get(f"{server.url}/smart/launch", params={"iss": ehr.url, "launch": "L1"})
            seen.add(worker(r))
            authorize = httpx.get(r.headers["location"], follow_redirects=False, timeout=30)
            callback = authorize.headers["location"]
            r = browser.get(callback)
            seen.add(worker(r))
            assert r.status_code == 303, r.text
            for _ in range(6):
                page = browser.get(f"{server.url}/smart/form")
                assert page.status_code == 200 and "questionnaire" in page.text
                seen.add(worker(page))
    assert len(seen) >= 2, seen
    assert urlsplit(callback).path == "/smart/callback"
    assert re.search(r'name="csrf-token" content="[^"]+"', page.text)
