"""The one fake EHR of the tests (issue 27): an in-memory FHIR R4 server with SMART discovery, authorize and
token endpoints (PKCE checked), as an httpx.MockTransport handler.

In process, pass `Ehr(...).transport` to `create_app(settings, transport=...)`: every outbound call of the
service goes through service/fhir/client.py, so nothing opens a socket. Where a real URL is needed (a
uvicorn subprocess, a browser), `serve(ehr)` puts the same handler on a loopback port.

The FHIR side answers what the service sends (service/fhir/chart.py, service/crd/, service/dtr/,
service/smart/ehr.py): read by id; search with patient / subject, code, status, category, _id,
practitioner, _count and _include; pages of `page_size` linked by Bundle.link next (FHIR R4 "Paging");
QuestionnaireResponse create and update. A search parameter it does not know is a 400, as on a strict
server, so a new query shows up here instead of being silently unfiltered.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.crd.requests import besponsa_request, coverage_bundle

BASE = "https://ehr.example.org/fhir"
FHIR_JSON = "application/fhir+json"
REFERENCES = ("subject", "patient", "beneficiary")  # where a resource names its patient (compartment search)
SEARCH_PARAMETERS = {"patient", "subject", "code", "status", "category", "_id", "practitioner", "_count",
                     "_include", "_page"}


def outcome(status: int, text: str) -> httpx.Response:
    return httpx.Response(status, json={"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "processing", "diagnostics": text}]}, headers={"Content-Type": FHIR_JSON})


def s256(verifier: str) -> str:
    """RFC 7636 4.2: BASE64URL(SHA256(code_verifier)), unpadded."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def codings(value: object) -> list[dict]:
    """The codings of a CodeableConcept or of a list of them."""
    concepts = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    return [c for concept in concepts if isinstance(concept, dict) for c in concept.get("coding", [])]


def token_matches(token: str, coding: dict) -> bool:
    """FHIR R4 token search: `system|code`, `|code` (no system) or `code` (any system)."""
    if "|" not in token:
        return coding.get("code") == token
    system, _, code = token.partition("|")
    return coding.get("code") == code and (coding.get("system") or "") == system


def reference_of(resource: dict, element: str) -> list[str]:
    found = resource.get(element)
    return [r.get("reference", "") for r in (found if isinstance(found, list) else [found]) if isinstance(r, dict)]


class Ehr:
    """The EHR's state: its resources, the codes and tokens it issued, and what it was asked."""

    def __init__(self, resources: Iterable[dict] = (), *, fhir_user: str = "Practitioner/dr1", patient: str = "p1",
                 fhir_context: list[str] | None = None, base: str = BASE, page_size: int = 1000,
                 tokens: Iterable[str] = ()):
        self.base, self.fhir_user, self.patient = base, fhir_user, patient
        self.resources = {f"{r['resourceType']}/{r['id']}": r for r in resources}
        self.fhir_context = fhir_context or []
        self.page_size = page_size
        self.tokens: set[str] = set(tokens)  # bearer tokens it accepts (issued, or given by the test)
        self.codes: dict[str, dict] = {}  # code -> {"challenge", "redirect_uri"}
        self.requests: list[str] = []  # FHIR calls with a valid token: "GET Patient/p1", "GET Condition?patient=p1"
        self.refused: list[str] = []  # FHIR calls without one (answered 401)
        self.saved: list[tuple[str, dict]] = []  # (method, QuestionnaireResponse) as written
        self.no_patient = False  # an EHR that launches without patient context
        self.transport = httpx.MockTransport(self.handle)

    @property
    def url(self) -> str:
        """The FHIR base, the `iss` of a launch."""
        return self.base

    def authorize(self, location: str) -> str:
        """Follow the app's redirect to the authorization endpoint, as the browser would: the callback URL."""
        answer = self.handle(httpx.Request("GET", location))
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if not url.startswith(self.base + "/"):
            return outcome(404, "not this server")
        path = url[len(self.base) + 1:]
        if path == ".well-known/smart-configuration":
            return httpx.Response(200, json={"authorization_endpoint": f"{self.base}/authorize",
                                             "token_endpoint": f"{self.base}/token",
                                             "code_challenge_methods_supported": ["S256"],
                                             "capabilities": ["launch-ehr", "context-ehr-patient",
                                                              "sso-openid-connect"]})
        if path.startswith("authorize?") and request.method == "GET":
            return self.grant_code({k: v[0] for k, v in parse_qs(urlsplit(url).query).items()})
        if path == "token" and request.method == "POST":
            return self.issue_token({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        call = f"{request.method} {path}"
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            self.refused.append(call)
            return outcome(401, "no valid bearer token")
        self.requests.append(call)
        if request.method in ("POST", "PUT"):
            return self.save(request, path)
        if "?" not in path:  # a read: Type/id
            found = self.resources.get(path)
            return self.reply(200, found) if found else outcome(404, f"{path} is not here")
        kind, _, query = path.partition("?")
        return self.search_page(kind, {k: v[0] for k, v in parse_qs(query).items()})

    def grant_code(self, query: dict[str, str]) -> httpx.Response:
        """SMART App Launch 2.0 authorization: PKCE S256, aud = this server, `launch` only with scope launch."""
        ok = (query.get("code_challenge_method") == "S256" and query.get("aud") == self.base
              and query.get("response_type") == "code" and "code_challenge" in query and "state" in query
              and ("launch" in query.get("scope", "").split()) == ("launch" in query))  # EHR vs standalone
        if not ok:
            return httpx.Response(400, json={"error": "invalid_request"})
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": query["code_challenge"], "redirect_uri": query["redirect_uri"]}
        callback = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return httpx.Response(302, headers={"Location": callback})

    def issue_token(self, form: dict[str, str]) -> httpx.Response:
        """RFC 6749 4.1.3 with RFC 7636: the code once, the same redirect URI, the verifier of the challenge."""
        grant = self.codes.pop(form.get("code", ""), None)
        if (not grant or s256(form.get("code_verifier", "")) != grant["challenge"]
                or form.get("redirect_uri") != grant["redirect_uri"]):
            return httpx.Response(400, json={"error": "invalid_grant"})
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return httpx.Response(200, json={"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                                         "scope": "launch openid fhirUser patient/*.rs",
                                         **({} if self.no_patient else {"patient": self.patient}),
                                         "fhirUser": self.fhir_user,
                                         "fhirContext": [{"reference": r} for r in self.fhir_context]})

    def search_page(self, kind: str, params: dict[str, str]) -> httpx.Response:
        unknown = sorted(set(params) - SEARCH_PARAMETERS)
        if unknown:
            return outcome(400, f"unsupported search parameter {', '.join(unknown)}")
        found = self.search(kind, params)
        size = min(self.page_size, int(params.get("_count", self.page_size)))
        start = int(params.pop("_page", "0"))
        page = found[start:start + size]
        entries = [{"fullUrl": f"{self.base}/{kind}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                   for r in page]
        entries += [{"fullUrl": f"{self.base}/{r['resourceType']}/{r['id']}", "resource": r,
                     "search": {"mode": "include"}} for r in self.included(page, params.get("_include"))]
        bundle: dict = {"resourceType": "Bundle", "type": "searchset", "total": len(found), "entry": entries}
        if start + size < len(found):
            following = urlencode({**params, "_page": start + size})
            bundle["link"] = [{"relation": "next", "url": f"{self.base}/{kind}?{following}"}]
        return self.reply(200, bundle)

    def search(self, kind: str, params: dict[str, str]) -> list[dict]:
        """The matches, in insertion order; each parameter's comma-separated values are ORed (FHIR R4 3.1.1.4)."""
        found = [r for r in self.resources.values() if r["resourceType"] == kind]
        for name in ("patient", "subject"):
            if name in params:
                refs = {v if "/" in v else f"Patient/{v}" for v in params[name].split(",")}
                found = [r for r in found if refs & {ref for e in REFERENCES for ref in reference_of(r, e)}]
        if "practitioner" in params:
            refs = {f"Practitioner/{v}" for v in params["practitioner"].split(",")}
            found = [r for r in found if refs & set(reference_of(r, "practitioner"))]
        if "_id" in params:
            found = [r for r in found if r["id"] in params["_id"].split(",")]
        if "status" in params:
            found = [r for r in found if r.get("status") in params["status"].split(",")]
        for name in ("code", "category"):
            if name in params:
                tokens = params[name].split(",")
                found = [r for r in found if any(token_matches(t, c) for t in tokens for c in codings(r.get(name)))]
        return found

    def included(self, page: list[dict], include: str | None) -> list[dict]:
        """`_include=Type:element`: the resources the page's matches reference there (Coverage:payor)."""
        if not include:
            return []
        element = include.partition(":")[2]
        refs = dict.fromkeys(ref for r in page for ref in reference_of(r, element))
        return [self.resources[ref] for ref in refs if ref in self.resources]

    def save(self, request: httpx.Request, path: str) -> httpx.Response:
        """Create (POST QuestionnaireResponse) or update (PUT QuestionnaireResponse/id)."""
        if not path.startswith("QuestionnaireResponse"):
            return outcome(404, "only QuestionnaireResponse is written here")
        qr = json.loads(request.content)
        qr["id"] = path.rpartition("/")[2] if request.method == "PUT" else f"qr-{len(self.saved) + 1}"
        self.saved.append((request.method, qr))
        self.resources[f"QuestionnaireResponse/{qr['id']}"] = qr
        return self.reply(201 if request.method == "POST" else 200, qr,
                          {"Location": f"{self.base}/QuestionnaireResponse/{qr['id']}/_history/1"})

    @staticmethod
    def reply(status: int, body: dict, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, json=body, headers={"Content-Type": FHIR_JSON, **(headers or {})})


@contextmanager
def serve(ehr: Ehr) -> Iterator[Ehr]:
    """The same handler on a loopback port (for uvicorn subprocesses and browsers): `ehr.url` becomes
    http://127.0.0.1:<port>/fhir for as long as it runs."""

    class Socket(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = ehr.handle(httpx.Request(self.command, ehr.base.removesuffix("/fhir") + self.path,
                                              headers=dict(self.headers.items()), content=body))
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_PUT = forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Socket)
    ehr.base = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield ehr
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def running_ehr(resources: Iterable[dict], fhir_context: list[str] | None = None, **options) -> Iterator[Ehr]:
    """An Ehr with these resources (and launch context) served on loopback."""
    with serve(Ehr(resources, fhir_context=fhir_context, **options)) as ehr:
        yield ehr


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
