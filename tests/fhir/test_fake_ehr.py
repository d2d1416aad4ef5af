"""The tests' one fake EHR (tests/support/ehr.py, issue 27) filters and pages as a FHIR R4 server does, so the
tests built on it (chart paging, CRD fetch, DTR $populate, the SMART app) can fail when the service asks wrongly."""
from __future__ import annotations

import httpx

from tests.crd.requests import coverage_bundle
from tests.fixtures.charts import LOINC, cd22_percent, condition, patient, ph
from tests.support.ehr import BASE, Ehr, serve

TOKEN = {"Authorization": "Bearer t"}


def chart() -> list[dict]:
    cov, org = [e["resource"] for e in coverage_bundle("aetna")["entry"]]
    lapsed = {**cov, "id": "cov-old", "status": "cancelled", "payor": [{"reference": "Organization/org-gone"}]}
    other = {**condition("C91.00", cid="c2"), "subject": {"reference": "Patient/p2"}}
    return [patient(), cov, org, lapsed, condition("C91.02"), other, cd22_percent(64.0), ph(None, loinc="1234-5")]


def ask(ehr: Ehr, path: str, headers: dict | None = None) -> httpx.Response:
    with httpx.Client(transport=ehr.transport) as client:
        return client.get(f"{BASE}/{path}", headers=TOKEN if headers is None else headers)


def ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle["entry"]]


def test_searches_filter_by_patient_code_status_and_include_only_what_matches():
    ehr = Ehr(chart(), tokens={"t"})
    assert ids(ask(ehr, "Condition?patient=p1").json()) == ["c1"]
    assert ids(ask(ehr, f"Observation?patient=p1&code={LOINC}|14017-8,{LOINC}|21821-4").json()) == ["o-cd22"]
    coverage = ask(ehr, "Coverage?patient=p1&status=active&_include=Coverage:payor").json()
    assert ids(coverage) == ["cov1", "org-aetna"] and coverage["entry"][1]["search"]["mode"] == "include"
    assert ask(ehr, "Patient/p1").json()["id"] == "p1"
    assert ask(ehr, "Patient/p9").status_code == 404


def test_pages_follow_count_with_next_links_and_unknown_parameters_are_refused():
    ehr = Ehr(chart(), tokens={"t"})
    first = ask(ehr, "Coverage?patient=p1&_count=1").json()
    assert ids(first) == ["cov1"] and first["total"] == 2
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = ask(ehr, following.removeprefix(BASE + "/")).json()
    assert ids(second) == ["cov-old"] and "link" not in second
    assert ask(ehr, "Condition?patient=p1&onset-date=ge2020").status_code == 400


def test_without_its_token_nothing_is_read_and_the_call_is_recorded_as_refused():
    ehr = Ehr(chart(), tokens={"t"})
    assert ask(ehr, "Patient/p1", headers={"Authorization": "Bearer other"}).status_code == 401
    assert ehr.refused == ["GET Patient/p1"] and ehr.requests == []


def test_the_same_handler_answers_on_a_loopback_port():
    with serve(Ehr(chart(), tokens={"t"})) as ehr:
        assert ehr.url.startswith("http://127.0.0.1:") and ehr.url.endswith("/fhir")
        read = httpx.get(f"{ehr.url}/Condition?patient=p1", headers=TOKEN, timeout=10)
        refused = httpx.get(f"{ehr.url}/Patient/p1", timeout=10)
    assert read.status_code == 200 and ids(read.json()) == ["c1"]
    assert read.headers["content-type"] == "application/fhir+json" and refused.status_code == 401
    assert ehr.requests == ["GET Condition?patient=p1"] and ehr.refused == ["GET Patient/p1"]
