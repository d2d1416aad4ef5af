"""SMART Backend Services on the payer API: discovery, every token error, every protected route
refused without the right token, public routes open, isolation between clients, the access trail."""
from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from service.auth.guard import PROTECTED
from service.auth.tokens import ASSERTION_TYPE
from tests.pas.bundles import request_bundle
from tests.pas.cases import BASE
from tests.support import fhir_validate

BASE_URL = "http://testserver"
TOKEN_URL = f"{BASE_URL}/auth/token"
JWKS_URI = "https://keys.example.org/jwks"
ORG = "http://hl7.org/fhir/sid/us-npi|1234567893"


def jwk(key, kid: str, alg: str) -> dict:
    algorithm = jwt.algorithms.ECAlgorithm if alg.startswith("ES") else jwt.algorithms.RSAAlgorithm
    return {**json.loads(algorithm.to_jwk(key.public_key())), "kid": kid, "alg": alg}


@pytest.fixture(scope="module")
def keys():
    return {"a": ec.generate_private_key(ec.SECP384R1()), "b": ec.generate_private_key(ec.SECP384R1()),
            "rs": rsa.generate_private_key(65537, 2048), "remote": ec.generate_private_key(ec.SECP384R1()),
            "stranger": ec.generate_private_key(ec.SECP384R1())}


class KeyServer:
    """The remote client's jwks_uri, served through the app's one outbound client (MockTransport)."""

    def __init__(self, keys):
        self.jwks, self.calls = {"keys": [jwk(keys["remote"], "r1", "ES384")]}, 0
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == JWKS_URI
        self.calls += 1
        return httpx.Response(200, json=self.jwks)


@pytest.fixture()
def key_server(keys):
    return KeyServer(keys)


@pytest.fixture()
def api(tmp_path, keys, key_server):
    from service.app import create_app
    from service.config import Settings
    clients = {
        "clinic-a": {"jwks": {"keys": [jwk(keys["a"], "a1", "ES384"), jwk(keys["rs"], "rs1", "RS384")]},
                     "scope": "system/*.cruds", "organization": ORG},
        "clinic-b": {"jwks": {"keys": [jwk(keys["b"], "b1", "ES384")]},
                     "scope": "system/Claim.c system/ClaimResponse.rs system/QuestionnaireResponse.cu"},
        "narrow": {"jwks": {"keys": [jwk(keys["b"], "n1", "ES384")]}, "scope": "system/Questionnaire.r"},
        "operator": {"jwks": {"keys": [jwk(keys["b"], "o1", "ES384")]}, "scope": "system/AuditEvent.rs",
                     "kind": "payer"},  # every organization's trail is the payer's (issue 20)
        "remote": {"jwks_uri": JWKS_URI, "scope": "system/ClaimResponse.read"},
    }
    settings = Settings(data_dir=tmp_path / "data", public_base_url=BASE_URL, smart_clients=json.dumps(clients))
    with TestClient(create_app(settings, transport=key_server.transport)) as client:
        yield client


def assertion(key, client_id: str, kid: str, alg: str = "ES384", **override) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": now + 240, "jti": uuid.uuid4().hex}
    claims.update(override)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=alg, headers={"kid": kid})


def ask(api, signed: str, scope: str = "system/Claim.c system/ClaimResponse.rs", **form):
    data = {"grant_type": "client_credentials", "scope": scope, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed, **form}
    return api.post("/auth/token", data=data)


def token_for(api, keys, client="clinic-a", key="a", kid="a1", scope="system/*.cruds") -> str:
    r = ask(api, assertion(keys[key], client, kid), scope)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_discovery_and_capability_statement(api):
    config = api.get("/.well-known/smart-configuration").json()
    assert config["token_endpoint"] == TOKEN_URL
    assert config["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert {"RS384", "ES384"} <= set(config["token_endpoint_auth_signing_alg_values_supported"])
    assert config["grant_types_supported"] == ["client_credentials"]
    assert "client-confidential-asymmetric" in config["capabilities"] and config["scopes_supported"]
    assert api.get("/fhir/.well-known/smart-configuration").json() == config
    security = api.get("/fhir/metadata").json()["rest"][0]["security"]
    uris = next(e for e in security["extension"] if e["url"].endswith("oauth-uris"))
    assert {"url": "token", "valueUri": TOKEN_URL} in uris["extension"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"


def test_a_valid_assertion_gets_a_short_token_with_the_granted_scopes(api, keys):
    r = ask(api, assertion(keys["b"], "clinic-b", "b1"), "system/Claim.c system/ClaimResponse.rs system/AuditEvent.rs")
    body = r.json()
    assert r.status_code == 200 and body["token_type"] == "bearer" and 0 < body["expires_in"] <= 300
    assert body["scope"].split() == ["system/Claim.c", "system/ClaimResponse.rs"]  # requested ∩ registered
    assert r.headers["cache-control"] == "no-store"
    rs = ask(api, assertion(keys["rs"], "clinic-a", "rs1", alg="RS384"), "system/ClaimResponse.read")
    assert rs.status_code == 200 and rs.json()["scope"] == "system/ClaimResponse.read"


def hmac_confusion(keys) -> str:
    """HS256 signed with the client's public key bytes: the classic key-confusion attack."""
    public = keys["a"].public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": "a1", "typ": "JWT"}).encode()).rstrip(b"=")
    now = int(time.time())
    payload = base64.urlsafe_b64encode(json.dumps({"iss": "clinic-a", "sub": "clinic-a", "aud": TOKEN_URL,
                                                   "exp": now + 60, "jti": "x"}).encode()).rstrip(b"=")
    import hashlib
    import hmac
    sig = base64.urlsafe_b64encode(hmac.new(public, header + b"." + payload, hashlib.sha256).digest()).rstrip(b"=")
    return (header + b"." + payload + b"." + sig).decode()


def alg_none() -> str:
    now = int(time.time())
    return jwt.encode({"iss": "clinic-a", "sub": "clinic-a", "aud": TOKEN_URL, "exp": now + 60, "jti": "n"},
                      None, algorithm="none")


@pytest.mark.parametrize("case, make, error", [
    ("unknown client", lambda k: assertion(k["a"], "nobody", "a1"), "invalid_client"),
    ("wrong key for the kid", lambda k: assertion(k["stranger"], "clinic-a", "a1"), "invalid_client"),
    ("unknown kid", lambda k: assertion(k["a"], "clinic-a", "zz"), "invalid_client"),
    ("aud is not the token url", lambda k: assertion(k["a"], "clinic-a", "a1", aud="http://testserver/fhir"),
     "invalid_client"),
    ("expired", lambda k: assertion(k["a"], "clinic-a", "a1", exp=int(time.time()) - 600), "invalid_client"),
    ("exp too far ahead", lambda k: assertion(k["a"], "clinic-a", "a1", exp=int(time.time()) + 3600),
     "invalid_client"),
    ("sub differs from iss", lambda k: assertion(k["a"], "clinic-a", "a1", sub="clinic-b"), "invalid_client"),
    ("no jti", lambda k: assertion(k["a"], "clinic-a", "a1", jti=None), "invalid_client"),
    ("ES256 is not offered", lambda k: jwt.encode({"iss": "clinic-a", "sub": "clinic-a", "aud": TOKEN_URL,
                                                  "exp": int(time.time()) + 60, "jti": "e"},
                                                 ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                                                 headers={"kid": "a1"}), "invalid_client"),
    ("alg none", lambda k: alg_none(), "invalid_client"),
    ("HMAC key confusion", hmac_confusion, "invalid_client"),
    ("not a JWT", lambda k: "not-a-jwt", "invalid_client"),
])
def test_bad_assertions_are_invalid_client(api, keys, case, make, error):
    r = ask(api, make(keys))
    assert r.status_code == 401 and r.json()["error"] == error, (case, r.text)
    assert "error_description" in r.json()


def test_a_replayed_assertion_is_refused(api, keys):
    signed = assertion(keys["a"], "clinic-a", "a1")
    assert ask(api, signed).status_code == 200
    again = ask(api, signed)
    assert again.status_code == 401 and "already used" in again.json()["error_description"]


def test_grant_type_request_and_scope_errors(api, keys):
    signed = assertion(keys["b"], "clinic-b", "b1")
    assert ask(api, signed, grant_type="authorization_code").json()["error"] == "unsupported_grant_type"
    assert ask(api, signed, client_assertion_type="password").json()["error"] == "invalid_request"
    r = api.post("/auth/token", json={"grant_type": "client_credentials"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = ask(api, assertion(keys["b"], "clinic-b", "b1"), "system/AuditEvent.rs")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


def test_token_refusals_are_rfc6749_json_not_operation_outcomes(api, keys):
    """RFC 6749 section 5.2, through the one error renderer (issue 27): exactly {error, error_description},
    application/json, no-store, and a Basic challenge only on the 401 (invalid_client)."""
    refused = ask(api, assertion(keys["a"], "nobody", "a1"))
    assert refused.status_code == 401 and set(refused.json()) == {"error", "error_description"}
    assert refused.headers["content-type"] == "application/json"
    assert refused.headers["cache-control"] == "no-store"
    assert refused.headers["www-authenticate"] == 'Basic realm="token"'
    for bad in (api.post("/auth/token", content=b"grant_type=x", headers={"content-type": "text/plain"}),
                api.post("/auth/token", content=b"grant_type=\xff", headers={
                    "content-type": "application/x-www-form-urlencoded"}),
                ask(api, assertion(keys["b"], "clinic-b", "b1"), "system/AuditEvent.rs")):
        assert bad.status_code == 400 and bad.headers["content-type"] == "application/json", bad.text
        assert set(bad.json()) == {"error", "error_description"} and "resourceType" not in bad.json()
        assert bad.headers["cache-control"] == "no-store" and "www-authenticate" not in bad.headers


def call(api, method: str, path: str, headers: dict | None = None):
    body = {"resourceType": "Parameters", "parameter": []}
    return api.request(method, path, headers=headers or {}, json=body if method == "POST" else None)


EXAMPLE_PATHS = {
    r"/fhir/Claim/\$submit": "/fhir/Claim/$submit", r"/fhir/Claim/\$inquire": "/fhir/Claim/$inquire",
    r"/fhir/ClaimResponse/(?P<id>[^/]+)(/_history/[^/]+)?": "/fhir/ClaimResponse/x1",
    r"/fhir/ClaimResponse": "/fhir/ClaimResponse?patient=p1",
    r"/fhir/Questionnaire/\$questionnaire-package": "/fhir/Questionnaire/$questionnaire-package",
    r"/fhir/Questionnaire/[^/]+/\$populate": "/fhir/Questionnaire/besponsa-aetna/$populate",
    r"/fhir/Questionnaire/\$next-question": "/fhir/Questionnaire/$next-question",
    r"/fhir/AuditEvent": "/fhir/AuditEvent",
    r"/fhir/Subscription": "/fhir/Subscription",
    r"/fhir/Subscription/(?P<id>[^/$]+)(/\$status)?": "/fhir/Subscription/s1",
    r"/fhir/Subscription/(?P<id>[^/]+)": "/fhir/Subscription/s1",
}
ROUTES = [(r.method, EXAMPLE_PATHS[r.pattern.pattern], r.resource, r.action) for r in PROTECTED]


def forge(api, **claims) -> str:
    secret = str(api.app.state.token_secret)
    now = int(time.time())
    body = {"iss": BASE_URL, "aud": BASE_URL, "sub": "clinic-a", "owner": f"org:{ORG}", "scope": "system/*.cruds",
            "iat": now, "exp": now + 60, "jti": "f", **claims}
    return jwt.encode(body, secret, algorithm="HS256")


@pytest.mark.parametrize("method, path, resource, action", ROUTES)
def test_every_protected_route_refuses_a_missing_bad_tampered_or_expired_token(api, keys, method, path, resource,
                                                                               action):
    r = call(api, method, path)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["resourceType"] == "OperationOutcome"
    good = forge(api)
    head, body, sig = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    tampered_body = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "clinic-b"}).encode()).rstrip(b"=").decode()
    for bad in ("garbage", f"{head}.{tampered_body}.{sig}", forge(api, exp=int(time.time()) - 10),
                jwt.encode({"sub": "clinic-a"}, "not-our-secret", algorithm="HS256")):
        refused = call(api, method, path, bearer(bad))
        assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]


@pytest.mark.parametrize("method, path, resource, action", ROUTES)
def test_a_token_without_the_routes_scope_is_403(api, keys, method, path, resource, action):
    narrow = token_for(api, keys, "narrow", "b", "n1", "system/Questionnaire.r")
    r = call(api, method, path, bearer(narrow))
    assert r.status_code == 403 and f"system/{resource}.{action}" in r.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize("path", [
    "/fhir/metadata", "/.well-known/smart-configuration", "/fhir/Questionnaire/besponsa-aetna",
    "/fhir/Questionnaire?url=http://example.org/fhir/Questionnaire/besponsa-aetna", "/fhir/Library/besponsa-prefill-aetna",
    "/fhir/CodeSystem/pa-criteria", "/fhir/ValueSet/pa-criteria-diagnosis/$expand", "/policies/aetna",
    "/cds-services", "/healthz", "/readyz"])
def test_canonical_artifacts_and_discovery_stay_public(api, path):
    assert api.get(path).status_code == 200


def submit(api, token: str, bundle: dict):
    return api.post("/fhir/Claim/$submit", json=bundle, headers=bearer(token))


def test_clients_see_only_their_own_determinations(api, keys):
    a = token_for(api, keys)
    b = token_for(api, keys, "clinic-b", "b", "b1", "system/Claim.c system/ClaimResponse.rs")
    bundle = request_bundle("aetna", BASE)
    mine = submit(api, a, bundle)
    assert mine.status_code == 200, mine.text
    cr = mine.json()["entry"][0]["resource"]
    assert api.get(f"/fhir/ClaimResponse/{cr['id']}", headers=bearer(a)).status_code == 200
    theirs = api.get(f"/fhir/ClaimResponse/{cr['id']}", headers=bearer(b))
    assert theirs.status_code == 404 and theirs.json()["issue"][0]["code"] == "not-found"
    assert api.get(f"/fhir/ClaimResponse/{cr['id']}/_history/1", headers=bearer(b)).status_code == 404
    assert api.get("/fhir/ClaimResponse?patient=Patient/pat1", headers=bearer(a)).json()["total"] == 1
    assert api.get("/fhir/ClaimResponse?patient=Patient/pat1", headers=bearer(b)).json()["total"] == 0
    # Re-sending A's Bundle as B is B's own new request, never a read of A's determination.
    resent = submit(api, b, bundle)
    assert resent.status_code == 200 and resent.json()["entry"][0]["resource"]["id"] != cr["id"]
    assert submit(api, a, bundle).json()["entry"][0]["resource"]["id"] == cr["id"]  # A's retry replays


def test_keys_by_jwks_uri_are_fetched_through_the_client_and_cached(api, keys, key_server):
    for _ in range(3):
        r = ask(api, assertion(keys["remote"], "remote", "r1"), "system/ClaimResponse.read")
        assert r.status_code == 200, r.text
    assert key_server.calls == 1
    # An unknown kid reads the set again, but at most every 10 s.
    assert ask(api, assertion(keys["remote"], "remote", "r2"), "system/ClaimResponse.read").status_code == 401
    assert key_server.calls == 1


def test_every_access_is_an_audit_event_without_patient_identifiers(api, keys):
    a = token_for(api, keys)
    cr = submit(api, a, request_bundle("aetna", BASE)).json()["entry"][0]["resource"]
    api.get(f"/fhir/ClaimResponse/{cr['id']}", headers=bearer(a))
    api.get("/fhir/ClaimResponse?patient=Patient/pat1", headers=bearer(a))
    call(api, "GET", "/fhir/ClaimResponse/x")  # refused: no token
    operator = token_for(api, keys, "operator", "b", "o1", "system/AuditEvent.rs")
    trail = api.get("/fhir/AuditEvent", headers=bearer(operator)).json()
    events = [e["resource"] for e in trail["entry"]]
    assert {e["resourceType"] for e in events} == {"AuditEvent"}
    who = [(e["agent"][0]["who"]["identifier"]["value"], e["action"], e["outcome"],
            e["entity"][0]["what"].get("reference")) for e in events]
    assert ("clinic-a", "E", "0", f"ClaimResponse/{cr['id']}") in who  # the $submit, naming what it made
    assert ("clinic-a", "R", "0", f"ClaimResponse/{cr['id']}") in who
    assert ("anonymous", "R", "4", "ClaimResponse/x") in who
    assert "pat1" not in json.dumps(trail) and "M123" not in json.dumps(trail)
    if fhir_validate.available():  # the searchset and each AuditEvent as base R4 (no IG profiles one)
        assert fhir_validate.validate([(trail, None)]) == [[]]
    b = token_for(api, keys, "clinic-b", "b", "b1", "system/ClaimResponse.rs")
    assert api.get("/fhir/AuditEvent", headers=bearer(b)).status_code == 403


def test_authorization_off_is_loud(tmp_path, capsys):
    from service.app import create_app
    from service.config import Settings
    with TestClient(create_app(Settings(data_dir=tmp_path / "d", auth_disabled=True))) as client:
        assert "OFF" in client.get("/readyz").json()["authorization"]
        assert client.post("/fhir/Claim/$submit", json=request_bundle("aetna", BASE)).status_code == 200
    assert "AUTHORIZATION IS OFF" in capsys.readouterr().out


def test_bad_registrations_stop_start_up(tmp_path):
    from service.app import SettingsError, load_settings
    from service.config import get_settings
    for bad in ('{"x": {"scope": "system/Claim.c"}}', '{"x": {"jwks": {"keys": []}, "scope": "read everything"}}',
                '{"x": {"jwks_uri": "http://evil.example.org/jwks", "scope": "system/Claim.c"}}', "[1]", "@/no/such/file"):
        import os
        os.environ["SMART_CLIENTS"] = bad
        get_settings.cache_clear()
        try:
            with pytest.raises(SettingsError, match="SMART_CLIENTS"):
                load_settings()
        finally:
            del os.environ["SMART_CLIENTS"]
            get_settings.cache_clear()
