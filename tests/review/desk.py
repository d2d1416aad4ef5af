"""Helpers for the reviewer desk tests: accounts made with the CLI, signing in, PAS requests with origins."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from service.policies.registry import get_policy
from tests.pas.bundles import request_bundle

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
NURSE, PHYSICIAN, OPERATOR = "nina", "phil", "opal"
PHYSICIAN_NPI = "1922334457"  # a valid NPI check digit (CMS Luhn rule)
ACCOUNTS = ((NURSE, "nurse-reviewer", None), (PHYSICIAN, "physician-reviewer", PHYSICIAN_NPI),
            (OPERATOR, "operator", None))
ORIGIN = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin"


def run_cli(data_dir: Path, database_url: str | None, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "service.cli", *args], input=stdin, env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def make_account(data_dir: Path, database_url: str | None, username: str, role: str, npi: str | None = None,
                 password: str = PASSWORD) -> subprocess.CompletedProcess:
    """`besponsa-pa create-reviewer ... --password-stdin`, as an administrator runs it."""
    args = ["create-reviewer", "--username", username, "--role", role, "--password-stdin"]
    return run_cli(data_dir, database_url, *args, *(["--npi", npi] if npi else []), stdin=password + "\n")


def make_accounts(data_dir: Path, database_url: str | None) -> None:
    for username, role, npi in ACCOUNTS:
        done = make_account(data_dir, database_url, username, role, npi)
        assert done.returncode == 0 or "already exists" in done.stderr, done.stderr


def sign_in(http: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    """The sign-in form as a browser posts it: its double-submit CSRF token from the form's cookie."""
    http.get("/review/login")
    token = http.cookies.get("pa_review_login")
    return http.post("/review/login", data={"username": username, "password": password, "csrf_token": token or ""})


def signed_in(base_url: str, username: str) -> httpx.Client:
    """A client with a session for `username`; POSTs carry the session's X-CSRF-Token."""
    http = httpx.Client(base_url=base_url, timeout=30)
    answer = sign_in(http, username)
    assert answer.status_code == 303, answer.text
    http.headers["x-csrf-token"] = http.get("/review/session").json()["csrfToken"]
    return http


def with_origins(bundle: dict, origins: dict[str, str]) -> dict:
    """Mark answers with DTR information-origin codes; answers not named keep no extension."""
    qr = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")
    for item in qr["item"]:
        if item["linkId"] in origins:
            item["answer"][0]["extension"] = [{"url": ORIGIN, "extension": [
                {"url": "source", "valueCode": origins[item["linkId"]]}]}]
    return bundle


def pas_request(payer: str, answers: dict, *, origins: dict[str, str] | None = None, expedited: bool = False,
                member: str = "M123", npi: str = "1234567893") -> dict:
    bundle = with_origins(request_bundle(payer, answers, member=member, npi=npi), origins or {})
    if expedited:  # Claim.priority stat: CMS-0057-F expedited (72 hours)
        bundle["entry"][0]["resource"]["priority"]["coding"][0]["code"] = "stat"
    return bundle


def submit(http: httpx.Client, payer: str, answers: dict, **kwargs) -> dict:
    """POST /fhir/Claim/$submit; the ClaimResponse."""
    assert get_policy(payer) is not None
    answer = http.post("/fhir/Claim/$submit", json=pas_request(payer, answers, **kwargs))
    assert answer.status_code == 200, answer.text
    return answer.json()["entry"][0]["resource"]


def inquire(http: httpx.Client, payer: str, member: str, npi: str) -> list[dict]:
    """POST /fhir/Claim/$inquire as the provider: the ClaimResponses found for member + provider."""
    inquiry = request_bundle(payer, {}, member=member, npi=npi)
    inquiry["entry"][0]["resource"]["identifier"] = [{"system": "urn:trn", "value": "inq-desk"}]
    answer = http.post("/fhir/Claim/$inquire", json=inquiry)
    assert answer.status_code == 200, answer.text
    return [p["resource"]["entry"][0]["resource"] for p in answer.json().get("parameter", []) if p["name"] == "return"]
