"""CDS Hooks 2.0 JWT verification: accepted tokens and every rejection."""
from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from tests.crd.requests import besponsa_request, hook_request

ISS = "https://ehr.example.org"
AUD = "http://testserver/cds-services/besponsa-order-sign"


@pytest.fixture(scope="module")
def keys():
    return {"es": ec.generate_private_key(ec.SECP384R1()), "rs": rsa.generate_private_key(65537, 2048),
            "other": ec.generate_private_key(ec.SECP384R1())}


@pytest.fixture()
def secured(tmp_path, keys):
    from service.app import create_app
    from service.config import Settings
    jwks = {"keys": [
        {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(keys["es"].public_key())), "kid": "es-1", "alg": "ES384"},
        {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys["rs"].public_key())), "kid": "rs-1", "alg": "RS384"}]}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    settings = Settings(data_dir=tmp_path / "data", public_base_url="http://testserver",
                        cds_trusted_issuers=json.dumps({ISS: {"jwks_file": str(path)}}))
    with TestClient(create_app(settings)) as c:
        yield c


def token(keys, *, key="es", alg="ES384", kid="es-1", **claims):
    now = int(time.time())
    body = {"iss": ISS, "sub": "ehr-client", "aud": AUD, "iat": now, "exp": now + 120, "jti": str(uuid.uuid4())}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, keys[key], algorithm=alg, headers={"kid": kid})


def call(client, bearer):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return client.post("/cds-services/besponsa-order-sign", json=hook_request([besponsa_request()]), headers=headers)


def test_valid_es384_and_rs384_tokens_are_accepted(secured, keys):
    assert call(secured, token(keys)).status_code == 200
    assert call(secured, token(keys, key="rs", alg="RS384", kid="rs-1")).status_code == 200


REJECTIONS = [
    ("no token", None, "Bearer JWT is required"),
    ("hs256", lambda k: jwt.encode({"iss": ISS, "aud": AUD}, "secret-secret-secret-secret-32by", algorithm="HS256",
                                   headers={"kid": "es-1"}), "not accepted"),
    ("alg none", lambda k: jwt.encode({"iss": ISS, "aud": AUD}, None, algorithm="none"), "not accepted"),
    ("unknown kid", lambda k: token(k, kid="nope"), "no trusted key"),
    ("wrong key", lambda k: token(k, key="other"), "failed verification"),
    ("wrong aud", lambda k: token(k, aud="http://testserver/cds-services/other"), "aud"),
    ("expired", lambda k: token(k, iat=int(time.time()) - 900, exp=int(time.time()) - 600), "expired"),
    ("future iat", lambda k: token(k, iat=int(time.time()) + 600, exp=int(time.time()) + 700), "future"),
    ("too long-lived", lambda k: token(k, exp=int(time.time()) + 3600), "five minutes"),
    ("untrusted iss", lambda k: token(k, iss="https://evil.example.org"), "issuer is not trusted"),
    ("no jti", lambda k: token(k, jti=None), "failed verification"),
    ("not a jwt", lambda k: "abc.def", "not a JWT"),
]


@pytest.mark.parametrize("name,make,message", REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_rejections(secured, keys, name, make, message):
    r = call(secured, make(keys) if make else None)
    assert r.status_code == 401, r.text
    assert message in r.json()["issue"][0]["diagnostics"]


def test_replayed_jti_is_rejected(secured, keys):
    same = token(keys)
    assert call(secured, same).status_code == 200
    r = call(secured, same)
    assert r.status_code == 401 and "already used" in r.json()["issue"][0]["diagnostics"]


def test_discovery_needs_no_token(secured):
    assert secured.get("/cds-services").status_code == 200


def test_bad_issuer_configuration_is_refused():
    from service.crd.security import parse_issuers
    with pytest.raises(ValueError, match="needs jwks_file or jwks"):
        parse_issuers(json.dumps({ISS: {"url": "x"}}))
    assert parse_issuers("") == {}
