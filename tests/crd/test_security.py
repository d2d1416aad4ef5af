"""CDS Hooks 2.0 JWT verification: accepted tokens and every rejection."""
from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from tests.crd.requests import besponsa_request, hook_request
from tests.support.settings import make_settings

ISS = "https://ehr.example.org"
AUD = "http://testserver/cds-services/besponsa-order-sign"


@pytest.fixture(scope="module")
def keys():
    return {"es": ec.generate_private_key(ec.SECP384R1()), "rs": rsa.generate_private_key(65537, 2048),
            "other": ec.generate_private_key(ec.SECP384R1())}


@pytest.fixture()
def secured(tmp_path, keys):
    from service.app import create_app
    jwks = {"keys": [
        {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(keys["es"].public_key())), "kid": "es-1", "alg": "ES384"},
        {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys["rs"].public_key())), "kid": "rs-1", "alg": "RS384"}]}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    settings = make_settings(tmp_path, cds_trusted_issuers=json.dumps({ISS: {"jwks_file": str(path)}}),
                             cds_allow_unsigned=False)
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
    from service.auth.keysources import parse_issuers
    with pytest.raises(ValueError, match="needs jwks_file, jwks or a jku allow-list"):
        parse_issuers(json.dumps({ISS: {"url": "x"}}))
    with pytest.raises(ValueError, match="must be https"):
        parse_issuers(json.dumps({ISS: {"jku": ["http://ehr.example.org/jwks"]}}))
    with pytest.raises(ValueError, match="list of URLs"):
        parse_issuers(json.dumps({ISS: {"jku": "https://ehr.example.org/jwks"}}))
    assert parse_issuers("") == {}
    assert parse_issuers(json.dumps({ISS: {"jku": ["http://127.0.0.1:9/jwks"]}}))  # loopback may be http


def test_bad_issuer_configuration_stops_start_up(tmp_path):
    from service.app import create_app
    from service.config import Settings
    with pytest.raises(ValueError, match="must be https"):  # pydantic's error is a ValueError
        create_app(Settings(data_dir=tmp_path, cds_trusted_issuers=json.dumps({ISS: {"jku": ["ftp://x"]}})))


def test_a_replay_is_refused_by_another_worker_sharing_the_database(tmp_path, keys, secured):
    """Two app instances (two workers) on one database: a jti used on one is refused on the other."""
    from service.app import create_app
    same = token(keys)
    assert call(secured, same).status_code == 200
    settings = secured.app.state.settings
    with TestClient(create_app(settings)) as other:
        r = call(other, same)
        assert r.status_code == 401 and "already used" in r.json()["issue"][0]["diagnostics"]
        assert call(other, token(keys)).status_code == 200


@contextmanager
def jwks_server(jwks: dict):
    """A loopback JWK Set endpoint; yields (url, hits) and lets the test swap the set."""
    state = {"jwks": jwks, "hits": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            state["hits"] += 1
            data = json.dumps(state["jwks"]).encode()
            self.send_response(200 if self.path == "/jwks" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()


def public_jwk(key, kid: str) -> dict:
    return {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())), "kid": kid}


def jku_token(keys, jku: str, key="es", kid="es-1"):
    now = int(time.time())
    body = {"iss": ISS, "sub": "ehr-client", "aud": AUD, "iat": now, "exp": now + 120, "jti": str(uuid.uuid4())}
    return jwt.encode(body, keys[key], algorithm="ES384", headers={"kid": kid, "jku": jku})


def test_jku_keys_are_fetched_only_from_the_allow_list_and_cached(tmp_path, keys):
    from service.app import create_app
    with jwks_server({"keys": [public_jwk(keys["es"], "es-1")]}) as (base, state):
        settings = make_settings(tmp_path, cds_trusted_issuers=json.dumps({ISS: {"jku": [f"{base}/jwks"]}}))
        with TestClient(create_app(settings)) as c:
            assert call(c, jku_token(keys, f"{base}/jwks")).status_code == 200
            assert call(c, jku_token(keys, f"{base}/jwks")).status_code == 200
            assert state["hits"] == 1  # the set is cached, not read per call
            r = call(c, jku_token(keys, f"{base}/other-jwks"))
            assert r.status_code == 401 and "allow-list" in r.json()["issue"][0]["diagnostics"]
            r = call(c, jku_token(keys, f"{base}/jwks", key="other", kid="es-2"))
            assert r.status_code == 401 and "no trusted key" in r.json()["issue"][0]["diagnostics"]
            assert state["hits"] == 1  # unknown kids re-read the set at most every 10 s (no flood)
            r = call(c, token(keys))  # no jku and no configured set: nothing to trust
            assert r.status_code == 401 and "no trusted key" in r.json()["issue"][0]["diagnostics"]


def test_jku_that_cannot_be_read_is_401_not_500(tmp_path, keys):
    from service.app import create_app
    dead = "http://127.0.0.1:9/jwks"
    settings = make_settings(tmp_path, cds_trusted_issuers=json.dumps({ISS: {"jku": [dead]}}))
    with TestClient(create_app(settings)) as c:
        r = call(c, jku_token(keys, dead))
        assert r.status_code == 401 and "could not be read" in r.json()["issue"][0]["diagnostics"]
        assert c.get("/healthz").status_code == 200


def test_key_rotation_is_picked_up_from_the_jku():
    asyncio.run(rotate_keys())


async def rotate_keys():
    from service.crd import security
    from service.errors import ApiError
    from service.fhir.client import HttpClient
    new = ec.generate_private_key(ec.SECP384R1())
    with jwks_server({"keys": []}) as (base, state):
        store = security.KeyStore({ISS: {"jku": [f"{base}/jwks"]}}, HttpClient())
        source = store.issuers[ISS]
        with pytest.raises(ApiError):
            await store.find_key(source, {"kid": "k2", "jku": f"{base}/jwks"})
        state["jwks"] = {"keys": [public_jwk(new, "k2")]}
        store.cache.fetched[f"{base}/jwks"] = (store.cache.fetched[f"{base}/jwks"][0] - 11, {"keys": []})
        assert await store.find_key(source, {"kid": "k2", "jku": f"{base}/jwks"}) is not None


def test_an_issuer_that_is_not_a_string_is_a_401_not_a_500(secured, keys):
    now = int(time.time())
    body = {"iss": [ISS], "sub": "ehr-client", "aud": AUD, "iat": now, "exp": now + 120, "jti": str(uuid.uuid4())}
    raw = jwt.PyJWS().encode(json.dumps(body).encode(), keys["es"], algorithm="ES384", headers={"kid": "es-1"})
    assert call(secured, raw).status_code == 401


def test_an_unreadable_jwks_file_stops_start_up(tmp_path):
    from service.config import Settings
    (tmp_path / "bad.json").write_text("not json")
    for path in (tmp_path / "missing.json", tmp_path / "bad.json"):
        with pytest.raises(ValueError, match="CDS_TRUSTED_ISSUERS"):
            Settings(data_dir=tmp_path, cds_trusted_issuers=json.dumps({ISS: {"jwks_file": str(path)}}))


def test_unsigned_hook_calls_are_refused_by_default(tmp_path, monkeypatch):
    """Issue 20: with no CDS_TRUSTED_ISSUERS and no CDS_ALLOW_UNSIGNED, a hook call is a 401, not served."""
    from service.app import create_app
    monkeypatch.delenv("CDS_ALLOW_UNSIGNED", raising=False)
    with TestClient(create_app(make_settings(tmp_path))) as c:
        refused = call(c, None)
        assert refused.status_code == 401 and "CDS_ALLOW_UNSIGNED" in refused.text
        assert "cdsHooks" not in c.get("/readyz").json()
        from service.storage.access import list_access
        trail = list_access(c.app.state.storage, every_owner=True)
        assert any(e.detail == "refused (401) POST" and e.route == "/cds-services/besponsa-order-sign" for e in trail)


def test_an_operator_may_allow_unsigned_calls_and_readyz_says_so(tmp_path):
    from service.app import create_app
    with TestClient(create_app(make_settings(tmp_path, cds_allow_unsigned=True))) as c:
        assert call(c, None).status_code == 200
        assert "unsigned" in c.get("/readyz").json()["cdsHooks"]


def test_a_header_alg_that_does_not_fit_the_key_is_a_401_not_a_500(secured, keys):
    """An RS384 header over the EC key's kid (and the reverse): PyJWT's TypeError must not escape."""
    crossed = token(keys, key="rs", alg="RS384", kid="es-1")
    assert call(secured, crossed).status_code == 401
    crossed = token(keys, key="es", alg="ES384", kid="rs-1")
    assert call(secured, crossed).status_code == 401
