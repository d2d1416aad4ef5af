"""An EHR faked in process with httpx.MockTransport: SMART discovery and token endpoint, and a small
FHIR server (read, search by patient / _id / practitioner, paged like a real one: `page_size` entries a
page and a Bundle.link next, QuestionnaireResponse create and update).

Pass `FakeEhr(...).transport` to `create_app(settings, transport=...)`: every outbound call of the
service goes through service/fhir/client.py, so nothing here opens a socket.
"""
from __future__ import annotations

import json
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

BASE = "https://ehr.example.org/fhir"


class FakeEhr:
    def __init__(self, resources: list[dict], *, fhir_user: str = "Practitioner/dr1", patient: str = "p1",
                 fhir_context: list[str] | None = None, base: str = BASE, page_size: int = 1000):
        self.base, self.fhir_user, self.patient = base, fhir_user, patient
        self.resources = {f"{r['resourceType']}/{r['id']}": r for r in resources}
        self.fhir_context = fhir_context or []
        self.page_size = page_size
        self.tokens: set[str] = set()
        self.codes: dict[str, str] = {}
        self.requests: list[str] = []  # "GET Patient/p1", "GET Condition?patient=p1" ...
        self.transport = httpx.MockTransport(self.handle)

    def authorize(self, location: str) -> str:
        """What the EHR's authorization endpoint would do: a code for the redirect URI, with state."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        code = secrets.token_urlsafe(8)
        self.codes[code] = query["redirect_uri"]
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url == f"{self.base}/.well-known/smart-configuration":
            return httpx.Response(200, json={"authorization_endpoint": f"{self.base}/authorize",
                                             "token_endpoint": f"{self.base}/token"})
        if url == f"{self.base}/token" and request.method == "POST":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            if self.codes.pop(form.get("code", ""), None) != form.get("redirect_uri"):
                return httpx.Response(400, json={"error": "invalid_grant"})
            token = secrets.token_urlsafe(8)
            self.tokens.add(token)
            return httpx.Response(200, json={"access_token": token, "token_type": "Bearer", "patient": self.patient,
                                             "fhirUser": self.fhir_user,
                                             "fhirContext": [{"reference": r} for r in self.fhir_context]})
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return httpx.Response(401, json={"resourceType": "OperationOutcome"})
        path = url.removeprefix(self.base + "/")
        self.requests.append(f"{request.method} {path}")
        if request.method in ("POST", "PUT"):
            return self.save(request, path)
        if "?" not in path:  # a read: Type/id
            found = self.resources.get(path)
            return httpx.Response(200 if found else 404, json=found or {"resourceType": "OperationOutcome"})
        kind, _, query = path.partition("?")
        params = {k: v[0] for k, v in parse_qs(query).items()}
        found = self.search(kind, params)
        start = int(params.pop("_page", "0"))
        page = found[start:start + self.page_size]
        bundle: dict = {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                        "entry": [{"resource": r} for r in page]}
        if start + self.page_size < len(found):
            following = urlencode({**params, "_page": start + self.page_size})
            bundle["link"] = [{"relation": "next", "url": f"{self.base}/{kind}?{following}"}]
        return httpx.Response(200, json=bundle)

    def search(self, kind: str, params: dict[str, str]) -> list[dict]:
        found = [r for r in self.resources.values() if r["resourceType"] == kind]
        if "patient" in params:  # what a compartment search does: only this patient's resources
            ref = f"Patient/{params['patient']}"
            found = [r for r in found if ref in (r.get("subject", {}).get("reference"), r.get("patient", {}).get("reference"),
                                                 r.get("beneficiary", {}).get("reference"))]
        if "_id" in params:
            found = [r for r in found if r["id"] == params["_id"]]
        if "practitioner" in params:
            found = [r for r in found if r.get("practitioner", {}).get("reference") == f"Practitioner/{params['practitioner']}"]
        if kind == "Coverage" and "_include" in params:  # Coverage:payor
            found += [r for r in self.resources.values() if r["resourceType"] == "Organization"]
        return found

    def save(self, request: httpx.Request, path: str) -> httpx.Response:
        qr = json.loads(request.content)
        rid = path.rpartition("/")[2] if request.method == "PUT" else f"qr-{len(self.resources)}"
        qr["id"] = rid
        self.resources[f"QuestionnaireResponse/{rid}"] = qr
        return httpx.Response(201 if request.method == "POST" else 200, json=qr)
