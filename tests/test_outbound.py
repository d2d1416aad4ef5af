"""Outbound calls only where the payer allows (issue 16): the SMART iss, $populate's and CDS Hooks'
fhirServer are checked against EHR_ALLOWED_ORIGINS before any request; the app redirects only to an
allowed http(s) authorization endpoint; context references are read only as Type/id."""
from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from tests.crd.requests import besponsa_request, hook_request
from tests.fixtures.charts import patient


class Recorder:
    """A network that records every request and answers a SMART configuration naming `auth`."""

    def __init__(self, auth: str = "https://ehr.example.org/authorize"):
        self.seen: list[str] = []
        self.auth = auth
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(str(request.url))
        if request.url.path.endswith("smart-configuration"):
            return httpx.Response(200, json={"authorization_endpoint": self.auth,
                                             "token_endpoint": "https://ehr.example.org/token"})
        return httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset", "entry": []})


def app_with(tmp_path, recorder: Recorder, origins: str = "https://ehr.example.org") -> TestClient:
    settings = Settings(data_dir=tmp_path / "d", public_base_url="http://testserver", auth_disabled=True,
                        ehr_allowed_origins=origins)
    return TestClient(create_app(settings, transport=recorder.transport))


@pytest.mark.parametrize("iss", ["https://evil.example.org/fhir", "http://127.0.0.1:9/internal-admin",
                                 "http://10.0.0.5/fhir", "https://ehr.example.org@evil.example.org/fhir"])
def test_a_launch_from_an_ehr_not_allowed_calls_nothing(tmp_path, iss):
    recorder = Recorder()
    with app_with(tmp_path, recorder) as client:
        r = client.get("/smart/launch", params={"iss": iss, "launch": "x"}, follow_redirects=False)
    assert r.status_code == 400 and recorder.seen == []


@pytest.mark.parametrize("auth", ["javascript:alert(1)", "https://phish.example.org/authorize", "http://ehr.example.org/authorize"])
def test_the_app_redirects_only_to_an_allowed_authorization_endpoint(tmp_path, auth):
    recorder = Recorder(auth)
    with app_with(tmp_path, recorder) as client:
        r = client.get("/smart/launch", params={"iss": "https://ehr.example.org/fhir", "launch": "x"},
                       follow_redirects=False)
    assert r.status_code == 502 and "location" not in r.headers


def test_an_allowed_ehr_launches(tmp_path):
    recorder = Recorder()
    with app_with(tmp_path, recorder) as client:
        r = client.get("/smart/launch", params={"iss": "https://ehr.example.org/fhir", "launch": "x"},
                       follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"].startswith("https://ehr.example.org/authorize?")


def test_populate_never_sends_the_token_to_a_server_not_allowed(tmp_path):
    recorder = Recorder()
    with app_with(tmp_path, recorder) as client:
        r = client.post("/fhir/Questionnaire/besponsa-aetna/$populate", json={"resourceType": "Parameters", "parameter": [
            {"name": "subject", "valueReference": {"reference": "Patient/p1"}},
            {"name": "fhirServer", "valueUrl": "http://127.0.0.1:9/internal-admin"},
            {"name": "fhirAuthorization", "valueString": "the-users-token"}]})
    assert r.status_code == 422 and "EHR_ALLOWED_ORIGINS" in r.json()["issue"][0]["diagnostics"]
    assert recorder.seen == []


def test_a_hook_naming_a_server_not_allowed_is_412_and_calls_nothing(tmp_path):
    recorder = Recorder()
    req = hook_request([besponsa_request()], prefetch={"patient": patient()}, fhirServer="http://169.254.169.254/latest",
                       fhirAuthorization={"access_token": "t", "token_type": "Bearer"})
    with app_with(tmp_path, recorder) as client:
        r = client.post("/cds-services/besponsa-order-sign", json=req)
    assert r.status_code == 412 and recorder.seen == []


def test_bad_allow_lists_stop_start_up():
    for bad in ("ftp://x.org", "http://ehr.example.org", "https://ehr.example.org/fhir"):
        with pytest.raises(ValueError, match="EHR_ALLOWED_ORIGINS"):
            Settings(ehr_allowed_origins=bad)


def test_an_oversized_smart_configuration_is_refused_and_nothing_is_kept(tmp_path):
    """Issue 16: a 40 MB smart-configuration once stayed in the session for an hour; now it is cut
    off at 256 KiB, and only the two endpoint URLs of a usable one are ever kept."""
    recorder = Recorder()
    huge = httpx.Response(200, content=b'{"authorization_endpoint": "https://ehr.example.org/a", "pad": "'
                          + b"x" * (2 * 1024 * 1024) + b'"}')
    recorder.transport = httpx.MockTransport(lambda request: huge)
    with app_with(tmp_path, recorder) as client:
        r = client.get("/smart/launch", params={"iss": "https://ehr.example.org/fhir", "launch": "x"},
                       follow_redirects=False)
    assert r.status_code == 502 and "set-cookie" not in r.headers
