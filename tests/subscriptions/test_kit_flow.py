"""The PAS test kit's Subscription flow with the kit's own resource (issue 21): the PAS 2.2.1 example
Subscription as the kit posts it (org-identifier filter, full-resource, an Authorization channel.header),
through the handshake to a full-resource notification after the payer's reviewer decides a pend."""
from __future__ import annotations

import copy
import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from service.auth.tokens import ASSERTION_TYPE
from service.config import Settings
from tests.pas.bundles import request_bundle
from tests.pas.cases import MISSING_CD22
from tests.subscriptions.conftest import LOOPBACK_ENDPOINTS, ig_example, running_app

KEY = ec.generate_private_key(ec.SECP384R1())
JWK = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(KEY.public_key())), "kid": "k"}
CLIENTS = {"kit-ehr": {"jwks": {"keys": [JWK]}, "scope": "system/*.cruds",
                       "organization": "http://hl7.org/fhir/sid/us-npi|1234567893"},
           "um-system": {"jwks": {"keys": [JWK]}, "scope": "system/ClaimResponse.rus", "kind": "payer",
                         "organization": "urn:payer|um"}}
SUBSCRIBER_TOKEN = "Bearer kit-subscriber-9f3"


def token(client, cid: str, scope: str) -> dict:
    url = "http://testserver/auth/token"
    signed = jwt.encode({"iss": cid, "sub": cid, "aud": url, "exp": int(time.time()) + 120, "jti": uuid.uuid4().hex},
                        KEY, algorithm="ES384", headers={"kid": "k"})
    r = client.post("/auth/token", data={"grant_type": "client_credentials", "scope": scope,
                                         "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_the_kits_subscription_is_told_of_the_reviewers_decision_with_its_header(tmp_path, receiver):
    settings = Settings(data_dir=tmp_path / "d", public_base_url="http://testserver", smart_clients=json.dumps(CLIENTS),
                        subscription_allowed_origins=LOOPBACK_ENDPOINTS)
    kit = copy.deepcopy(ig_example())  # filter orgIdentifier=1234567893, full-resource, as the kit sends it
    kit.pop("id", None)
    kit["channel"]["endpoint"] = f"{receiver.url}/kit"
    kit["channel"]["header"] = [f"Authorization: {SUBSCRIBER_TOKEN}"]
    with running_app(settings) as client:
        ehr = token(client, "kit-ehr", "system/*.cruds")
        made = client.post("/fhir/Subscription", json=kit, headers=ehr)
        assert made.status_code == 201, made.text
        assert made.json()["status"] == "active" and "header" not in made.json()["channel"]
        pended = client.post("/fhir/Claim/$submit", json=request_bundle("aetna", MISSING_CD22), headers=ehr)
        claim_response = pended.json()["entry"][0]["resource"]
        payer = token(client, "um-system", "system/ClaimResponse.rus")
        decided = client.post(f"/pas/review/{claim_response['id']}", headers=payer,
                              json={"decision": "approve", "note": "CD22 positive on the attached report"})
        assert decided.status_code == 200, decided.text

        def approved() -> list:
            return [b for b in receiver.bundles("event-notification", "/kit")
                    if any(e["resource"].get("resourceType") == "Bundle" and
                           e["resource"]["entry"][0]["resource"]["meta"]["versionId"] == "2"
                           for e in b.get("entry", [])[1:])]

        deadline = time.monotonic() + 15
        while not approved() and time.monotonic() < deadline:
            time.sleep(0.05)
        notes = approved()
        assert notes, "no full-resource notification of version 2"
        inner = next(e["resource"] for e in notes[0]["entry"][1:] if e["resource"].get("resourceType") == "Bundle")
        cr = inner["entry"][0]["resource"]
        assert cr["id"] == claim_response["id"] and "payer's system review" in cr["disposition"]
        with receiver.lock:
            sent = [{k.lower(): v for k, v in h.items()} for path, _, h, _ in receiver.received if path == "/kit"]
        assert sent and all(h.get("authorization") == SUBSCRIBER_TOKEN for h in sent)  # handshake and notification
