"""The one outbound client (service/fhir/client.py): every failure of the other side is one 502
ApiError, with a total deadline, a size cap, no redirects, and the bearer token sent only as asked."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from service.errors import ApiError
from service.fhir.client import FhirServer, HttpClient


def client_for(handler, **kw) -> HttpClient:
    return HttpClient(transport=httpx.MockTransport(handler), **kw)


def run(coro):
    return asyncio.run(coro)


def test_reads_json_with_bearer_and_fhir_accept():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(auth=request.headers.get("authorization"), accept=request.headers.get("accept"))
        return httpx.Response(200, json={"resourceType": "Patient", "id": "p1"})

    body = run(FhirServer(client_for(handler), "https://ehr.example.org/fhir/", "tok").get("Patient/p1"))
    assert body["id"] == "p1"
    assert seen == {"auth": "Bearer tok", "accept": "application/fhir+json"}


@pytest.mark.parametrize("reply, words", [
    (httpx.Response(404, json={"resourceType": "OperationOutcome"}), "HTTP 404"),
    (httpx.Response(200, content=b"<html>not json</html>"), "no JSON"),
    (httpx.Response(200, json=[1, 2]), "not answer with a FHIR resource"),
    (httpx.Response(302, headers={"Location": "http://127.0.0.1/admin"}), "HTTP 302"),  # never followed
])
def test_every_bad_answer_is_a_502(reply, words):
    with pytest.raises(ApiError) as raised:
        run(FhirServer(client_for(lambda request: reply), "https://ehr.example.org/fhir", "t").get("Patient/p1"))
    assert raised.value.status == 502 and words in raised.value.message


def test_a_network_failure_is_a_502_naming_no_url():
    def handler(request):
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ApiError) as raised:
        run(client_for(handler).get_json("https://ehr.example.org/secret-path?patient=p1", what="the EHR"))
    assert raised.value.status == 502 and "secret-path" not in raised.value.message


def test_a_slow_server_is_cut_off_by_the_total_deadline():
    async def slow(request):
        await asyncio.sleep(5)
        return httpx.Response(200, json={})

    with pytest.raises(ApiError) as raised:
        run(client_for(slow, timeout=0.2).get_json("https://ehr.example.org/x", what="the EHR"))
    assert raised.value.status == 502 and "within 0.2 s" in raised.value.message


def test_an_oversized_answer_is_refused():
    big = b'{"a": "' + b"x" * 2048 + b'"}'
    with pytest.raises(ApiError) as raised:
        run(client_for(lambda request: httpx.Response(200, content=big), max_bytes=1024).get_json("https://e.org/x"))
    assert raised.value.status == 502 and "larger than" in raised.value.message


def test_save_creates_then_updates():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.url.path))
        return httpx.Response(201, json={"resourceType": "QuestionnaireResponse", "id": "qr9"})

    server = FhirServer(client_for(handler), "https://ehr.example.org/fhir", "t")
    run(server.save("QuestionnaireResponse", {"resourceType": "QuestionnaireResponse", "id": "local"}, None))
    run(server.save("QuestionnaireResponse", {"resourceType": "QuestionnaireResponse"}, "qr9"))
    assert calls == [("POST", "/fhir/QuestionnaireResponse"), ("PUT", "/fhir/QuestionnaireResponse/qr9")]
