"""The reviewer API for systems: a SMART backend token with system/ClaimResponse.u, no shared secret
(issue 14). Such a system reviews as a nurse reviewer would: approve, ask for information, not deny."""
from __future__ import annotations

import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth.tokens import ASSERTION_TYPE
from service.config import Settings
from tests.pas.bundles import request_bundle
from tests.pas.cases import MISSING_CD22


def token(client, key, scope: str) -> str:
    url = "http://testserver/auth/token"
    signed = jwt.encode({"iss": "um-system", "sub": "um-system", "aud": url, "exp": int(time.time()) + 120,
                         "jti": uuid.uuid4().hex}, key, algorithm="ES384", headers={"kid": "k"})
    r = client.post("/auth/token", data={"grant_type": "client_credentials", "scope": scope,
                                         "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_a_backend_system_reviews_with_a_scoped_token(tmp_path):
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())), "kid": "k"}
    clients = {"um-system": {"jwks": {"keys": [jwk]}, "scope": "system/ClaimResponse.ru system/Claim.c"}}
    settings = Settings(data_dir=tmp_path / "d", public_base_url="http://testserver", smart_clients=json.dumps(clients))
    with TestClient(create_app(settings)) as client:
        submitter = token(client, key, "system/Claim.c")
        pended = client.post("/fhir/Claim/$submit", json=request_bundle("aetna", MISSING_CD22),
                             headers={"Authorization": f"Bearer {submitter}"}).json()["entry"][0]["resource"]
        assert client.get("/pas/review/pended").status_code == 401
        narrow = {"Authorization": f"Bearer {submitter}"}
        assert client.get("/pas/review/pended", headers=narrow).status_code == 403
        reviewer = {"Authorization": f"Bearer {token(client, key, 'system/ClaimResponse.ru')}"}
        assert client.get("/pas/review/pended", headers=reviewer).status_code == 200
        deny = client.post(f"/pas/review/{pended['id']}", headers=reviewer, json={"decision": "deny", "note": "no"})
        assert deny.status_code == 403  # a denial needs a physician at the desk
        ok = client.post(f"/pas/review/{pended['id']}", headers=reviewer, json={"decision": "approve", "note": "fine"})
        assert ok.status_code == 200, ok.text
