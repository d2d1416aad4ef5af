"""The chart reader reads every page of a search (FHIR R4 "Paging", Bundle.link next) from one fake EHR
that filters by patient and pages as real servers do; a next link off the EHR's base is refused."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from service.errors import ApiError
from service.fhir.chart import CHART_QUERIES, prefetch_tokens, read_chart
from service.fhir.client import FhirServer, HttpClient
from tests.fixtures.charts import condition, patient
from tests.support.ehr import BASE, Ehr


def observations(count: int, pid: str) -> list[dict]:
    return [{"resourceType": "Observation", "id": f"{pid}-o{n}", "status": "final",
             "subject": {"reference": f"Patient/{pid}"},  # a code the chart query asks for (code=)
             "code": {"coding": [{"system": "http://loinc.org", "code": "14017-8"}], "text": f"lab {n}"}}
            for n in range(count)]


def read(ehr: Ehr, pid: str = "p1") -> list[dict]:
    token = "t"
    ehr.tokens.add(token)
    server = FhirServer(HttpClient(transport=ehr.transport), BASE, token)
    return asyncio.run(read_chart(server, prefetch_tokens(pid, None)))


def test_every_page_of_every_search_is_read_and_only_this_patients():
    mine, theirs = observations(23, "p1"), observations(5, "p2")
    ehr = Ehr([patient(), {**condition("C91.00"), "subject": {"reference": "Patient/p1"}}, *mine, *theirs],
                  page_size=5)
    chart = read(ehr)
    found = {r["id"] for r in chart if r["resourceType"] == "Observation"}
    assert found == {o["id"] for o in mine}  # five pages, none of p2's
    pages = [r for r in ehr.requests if r.startswith("GET Observation")]
    assert len(pages) >= 5 and any("_page=20" in r for r in pages)
    assert len(CHART_QUERIES) <= len(ehr.requests)


def test_a_next_link_off_the_ehrs_base_is_refused_not_followed():
    ehr = Ehr([patient(), *observations(3, "p1")], page_size=2)
    original = ehr.handle

    def hostile(request: httpx.Request) -> httpx.Response:
        answer = original(request)
        body = answer.json() if answer.headers.get("content-type", "").endswith("json") else None
        if isinstance(body, dict) and body.get("link"):
            body["link"] = [{"relation": "next", "url": "https://attacker.example/fhir/Observation?page=2"}]
            return httpx.Response(200, json=body)
        return answer

    ehr.transport = httpx.MockTransport(hostile)
    with pytest.raises(ApiError) as refused:
        read(ehr)
    assert refused.value.status == 502 and "next-page link" in refused.value.message
    assert not any("attacker" in r for r in ehr.requests)
