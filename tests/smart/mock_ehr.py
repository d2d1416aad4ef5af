"""A mock SMART EHR for tests: authorization server (PKCE checked) and a small FHIR server, on loopback."""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from tests.crd.requests import besponsa_request, coverage_bundle


class MockEhr:
    def __init__(self, resources: list[dict], fhir_context: list[str], fhir_user: str = "Practitioner/dr1"):
        self.resources = {f"{r['resourceType']}/{r['id']}": r for r in resources}
        self.fhir_context, self.fhir_user = fhir_context, fhir_user
        self.codes: dict[str, dict] = {}
        self.tokens: set[str] = set()
        self.saved: list[tuple[str, dict]] = []  # (method, QuestionnaireResponse)
        self.log: list[str] = []
        self.url = ""
        self.no_patient = False  # an EHR that launches without patient context


def handler_for(ehr: MockEhr):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, body=None, headers=None):
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def authorized(self) -> bool:
            return self.headers.get("Authorization", "").removeprefix("Bearer ") in ehr.tokens

        def do_GET(self):
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            ehr.log.append(url.path)
            if url.path == "/.well-known/smart-configuration":
                return self.reply(200, {"authorization_endpoint": f"{ehr.url}/authorize",
                                        "token_endpoint": f"{ehr.url}/token",
                                        "code_challenge_methods_supported": ["S256"],
                                        "capabilities": ["launch-ehr", "context-ehr-patient", "sso-openid-connect"]})
            if url.path == "/authorize":
                ok = (q.get("code_challenge_method") == "S256" and q.get("aud") == ehr.url
                      and q.get("response_type") == "code"
                      and ("launch" in q.get("scope", "").split()) == ("launch" in q))  # EHR vs standalone
                if not ok:
                    return self.reply(400, {"error": "invalid_request"})
                code = secrets.token_urlsafe(16)
                ehr.codes[code] = {"challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"]}
                return self.reply(302, headers={"Location": f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"})
            if not self.authorized():
                return self.reply(401, {"resourceType": "OperationOutcome"})
            kind, _, rid = url.path.strip("/").partition("/")
            if rid:
                found = ehr.resources.get(f"{kind}/{rid}")
                return self.reply(200 if found else 404, found or {"resourceType": "OperationOutcome"})
            matches = [r for r in ehr.resources.values() if r["resourceType"] == kind
                       or (kind == "Coverage" and r["resourceType"] == "Organization")]
            return self.reply(200, {"resourceType": "Bundle", "type": "searchset",
                                    "entry": [{"resource": r} for r in matches]})

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                grant = ehr.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if not grant or digest != grant["challenge"] or form.get("redirect_uri") != grant["redirect_uri"]:
                    return self.reply(400, {"error": "invalid_grant"})
                token = secrets.token_urlsafe(16)
                ehr.tokens.add(token)
                return self.reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                                        "scope": "launch openid fhirUser patient/*.rs",
                                        **({} if ehr.no_patient else {"patient": "p1"}),
                                        "fhirUser": ehr.fhir_user,
                                        "fhirContext": [{"reference": r} for r in ehr.fhir_context]})
            return self.save("POST", body, None)

        def do_PUT(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            return self.save("PUT", body, self.path.rsplit("/", 1)[-1])

        def save(self, method, body, rid):
            if not self.authorized() or not self.path.startswith("/QuestionnaireResponse"):
                return self.reply(401 if not self.authorized() else 404, {"resourceType": "OperationOutcome"})
            qr = json.loads(body)
            qr["id"] = rid or f"qr-{len(ehr.saved) + 1}"
            ehr.saved.append((method, qr))
            ehr.resources[f"QuestionnaireResponse/{qr['id']}"] = qr
            return self.reply(201 if method == "POST" else 200, qr,
                              {"Location": f"{ehr.url}/QuestionnaireResponse/{qr['id']}/_history/1"})
    return Handler


@contextmanager
def running_ehr(resources: list[dict], fhir_context: list[str]):
    ehr = MockEhr(resources, fhir_context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(ehr))
    ehr.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield ehr
    finally:
        server.shutdown()
        server.server_close()


MRN = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}


def chart_for(payer: str, *extra: dict) -> list[dict]:
    """A patient (named, with an MRN) with a Besponsa order (dose given), coverage with `payer` (member id),
    and chart facts."""
    from tests.fixtures.charts import NEG, cd22_percent, condition, patient, ph
    cov, org = [e["resource"] for e in coverage_bundle(payer)["entry"]]
    person = {**patient("1975-04-02"), "name": [{"use": "official", "given": ["Dana"], "family": "Whitfield"}],
              "identifier": [{"type": MRN, "system": "urn:oid:1.2.36.146.595.217.0.1", "value": "MRN-40417"}]}
    order = besponsa_request(dosageInstruction=[{"text": "0.8 mg/m2 IV on day 1, 0.5 mg/m2 on days 8 and 15"}])
    return [person, {**cov, "subscriberId": "W123456789"}, org, order, condition("C91.02"),
            cd22_percent(64.0, interpret=("POS",)), ph(NEG), *extra]  # the lab's own call: positive
