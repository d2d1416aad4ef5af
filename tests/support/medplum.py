"""A real FHIR R4 server for the end-to-end tests: Medplum's FhirRouter over its MemoryRepository
(tools/medplum/server.mjs, installed by `npm ci --prefix tools/medplum`), holding every test patient's chart.

Import the `medplum` fixture into a test module (`from tests.support.medplum import medplum`): one server a
module, on a free loopback port, every bearer checked. Only the SMART authorization endpoints stay faked
(FakeSmartAuth): the server has no OAuth, so its /.well-known/smart-configuration names this fake.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from service.fhir.bundle import flatten
from tests.crd.requests import PAYER_NAMES, besponsa_request, chart, coverage_bundle
from tests.fixtures.charts import POS, medication_statement, practitioner_role
from tests.pas.server import free_port
from tests.support.ehr import chart_for

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "medplum"
TOKEN = "medplum-e2e-token"  # the one bearer the server accepts (and the fake SMART token endpoint grants)
PAYERS = tuple(PAYER_NAMES)
PRACTITIONER = {"resourceType": "Practitioner", "id": "dr1", "name": [{"given": ["Ana"], "family": "Reyes"}],
                "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}]}


def available() -> bool:
    return bool(shutil.which("node")) and (TOOL / "node_modules" / "@medplum" / "fhir-router").is_dir()


def prefetched(prefetch: dict) -> list[dict]:
    return [r for value in prefetch.values() for r in flatten(value)]


def crd_chart(payer: str, *extra: dict, role: str | None = "207RX0202X", **kwargs) -> list[dict]:
    """tests/crd/requests.py chart(**kwargs), its Coverage and payer, the draft order, the user."""
    resources = [r for r in prefetched(chart(**kwargs)) if r["resourceType"] != "PractitionerRole"]
    roles = [practitioner_role(role)] if role else []
    return [*resources, *flatten(coverage_bundle(payer)), besponsa_request(), PRACTITIONER, *roles, *extra]


def smart_chart(payer: str, role: str | None = "207RX0202X") -> list[dict]:
    """tests/support/ehr.py chart_for(payer): named patient, MRN, member id, dosed order; and the user."""
    return [*chart_for(payer), PRACTITIONER, *([practitioner_role(role)] if role else [])]


# Each test patient's chart, payer-independent but for its Coverage (ids as the fixtures write them: p1, pr1...).
CASES = {
    "adult": lambda payer: crd_chart(payer),
    "child": lambda payer: crd_chart(payer, age_birth="2015-06-01"),
    "refractory": lambda payer: crd_chart(payer, dx="C91.00"),
    "nhl": lambda payer: crd_chart(payer, dx="C83.38"),
    "cd22-low": lambda payer: crd_chart(payer, cd22=10.0),
    "no-cd22": lambda payer: crd_chart(payer, cd22=None),
    "ph-positive": lambda payer: crd_chart(payer, ph_result=POS),
    "ph-positive-tki": lambda payer: crd_chart(payer, medication_statement("dasatinib"), ph_result=POS),
    "not-oncologist": lambda payer: crd_chart(payer, role="207R00000X"),
    "no-role": lambda payer: crd_chart(payer, role=None),
    "smart": lambda payer: smart_chart(payer),
    "smart-no-role": lambda payer: smart_chart(payer, role=None),
}


def scoped(resources: list[dict], prefix: str) -> list[dict]:
    """The chart with every id prefixed (and the references between its resources), so many patients'
    charts live on one server side by side."""
    known = {f"{r['resourceType']}/{r['id']}" for r in resources}

    def walk(value):
        if isinstance(value, dict):
            out = {k: walk(v) for k, v in value.items()}
            ref = value.get("reference")
            if isinstance(ref, str) and ref in known:
                kind, _, rid = ref.partition("/")
                out["reference"] = f"{kind}/{prefix}-{rid}"
            return out
        return [walk(v) for v in value] if isinstance(value, list) else value
    return [{**walk(r), "id": f"{prefix}-{r['id']}"} for r in copy.deepcopy(resources)]


@dataclass
class PatientChart:
    case: str
    payer: str
    resources: list[dict]

    @property
    def key(self) -> str:
        return f"{self.case}-{self.payer}"

    def ref(self, kind: str) -> str:
        """'Type/id' of the first resource of that type (the patient, the user's role, the order...)."""
        return next(f"{kind}/{r['id']}" for r in self.resources if r["resourceType"] == kind)

    def has(self, kind: str) -> bool:
        return any(r["resourceType"] == kind for r in self.resources)


def patient_charts() -> list[PatientChart]:
    """Every case for every payer: each a patient of its own on the server."""
    return [PatientChart(case, payer, scoped(build(payer), f"{case}-{payer}"))
            for case, build in CASES.items() for payer in PAYERS]


class FakeSmartAuth:
    """The SMART authorization server, faked (the FHIR server has none): codes issued on authorize(),
    the token endpoint over loopback HTTP checks the code, redirect URI and PKCE verifier (S256)."""

    def __init__(self) -> None:
        self.codes: dict[str, dict] = {}
        self.launch: dict = {}  # what the next token carries: patient, fhirUser, fhirContext
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def configuration(self) -> dict:
        return {"authorization_endpoint": f"{self.url}/authorize", "token_endpoint": f"{self.url}/token",
                "code_challenge_methods_supported": ["S256"], "capabilities": ["launch-ehr", "context-ehr-patient"]}

    def authorize(self, location: str) -> str:
        """What the authorization endpoint does after the user signs in: the redirect with a code."""
        q = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert q["code_challenge_method"] == "S256" and q["response_type"] == "code", q
        code = secrets.token_urlsafe(12)
        self.codes[code] = {"challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"]}
        return f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"

    def handler(self):
        auth = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
                grant = auth.codes.pop(form.get("code", ""), None)
                digest = base64.urlsafe_b64encode(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
                ok = self.path == "/token" and grant and digest.rstrip(b"=").decode() == grant["challenge"] \
                    and form.get("redirect_uri") == grant["redirect_uri"]
                body = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600,
                        "scope": "launch openid fhirUser patient/*.rs", **auth.launch} if ok else {"error": "invalid_grant"}
                data = json.dumps(body).encode()
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
        return Handler

    def __enter__(self) -> FakeSmartAuth:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_ready(base: str, proc: subprocess.Popen, log: IO[bytes], timeout: float = 60) -> None:
    """Until a search answers (the router has no /metadata); the server's own output if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the Medplum FHIR server exited ({proc.returncode}): {log.read()[-2000:]!r}")
        try:
            if httpx.get(f"{base}/Patient?_count=1", headers=bearer(), timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the Medplum FHIR server did not answer a search")


def bearer(token: str = TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def running_medplum(smart_configuration: dict | None = None) -> Iterator[str]:
    """The server on a free loopback port; its base URL."""
    port = free_port()
    env = {**os.environ, **({"SMART_CONFIGURATION": json.dumps(smart_configuration)} if smart_configuration else {})}
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a chatty server never blocks on it
        proc = subprocess.Popen(["node", str(TOOL / "server.mjs"), str(port), TOKEN], cwd=TOOL, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, proc, log)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def load(base: str, resources: list[dict]) -> None:
    """One transaction of PUTs by id (update as create: the ids the charts reference)."""
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}
    reply = httpx.post(base, json=bundle, headers={**bearer(), "Content-Type": "application/fhir+json"}, timeout=60)
    assert reply.status_code == 200, reply.text[:2000]
    statuses = [e["response"]["status"] for e in reply.json()["entry"]]
    assert all(s.startswith(("200", "201")) for s in statuses), statuses


@dataclass
class Medplum:
    base: str
    auth: FakeSmartAuth
    charts: list[PatientChart] = field(default_factory=list)

    def chart(self, case: str, payer: str) -> PatientChart:
        return next(c for c in self.charts if c.case == case and c.payer == payer)

    def get(self, path: str) -> dict:
        reply = httpx.get(f"{self.base}/{path}", headers=bearer(), timeout=30)
        assert reply.status_code == 200, reply.text[:2000]
        return reply.json()


@pytest.fixture(scope="module")
def medplum() -> Iterator[Medplum]:
    """The server with every test patient's chart, once a module; skipped when tools/medplum is not installed."""
    if not available():
        pytest.skip("the Medplum FHIR server is not installed (npm ci --prefix tools/medplum)")
    with FakeSmartAuth() as auth, running_medplum(auth.configuration()) as base:
        charts = patient_charts()
        load(base, [r for c in charts for r in c.resources])
        yield Medplum(base, auth, charts)


__all__ = ["CASES", "PAYERS", "TOKEN", "Medplum", "PatientChart", "available", "bearer", "load", "medplum",
           "patient_charts", "running_medplum", "scoped"]
