"""The SMART app reads the chart through the one table of chart queries (service/fhir/chart.py),
so it prefills what CRD prefills, prescriber-oncologist included; the EHR is an httpx MockTransport."""
from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.crd.services import SERVICES_BY_ID
from service.fhir.chart import CHART_QUERIES
from tests.smart.mock_ehr import chart_for
from tests.support.fake_ehr import BASE, FakeEhr

ONCOLOGIST = {"resourceType": "PractitionerRole", "id": "role1", "practitioner": {"reference": "Practitioner/dr1"},
              "specialty": [{"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": "207RX0202X"}]}]}


def open_form(settings, ehr: FakeEhr) -> dict:
    """Launch, authorize, call back and open the form; the Questionnaire the page renders."""
    with TestClient(create_app(settings, transport=ehr.transport)) as client:
        r = client.get(f"/smart/launch?iss={BASE}&launch=L1", follow_redirects=False)
        assert r.status_code == 302, r.text
        callback = ehr.authorize(r.headers["location"]).removeprefix(settings.public_base_url)
        assert client.get(callback, follow_redirects=False).status_code == 303
        page = client.get("/smart/form")
    assert page.status_code == 200, page.text
    found = re.search(r'<script type="application/json" id="questionnaire">(.*?)</script>', page.text, re.S)
    assert found
    return json.loads(found.group(1))


def initial_of(questionnaire: dict, link_id: str) -> object:
    def walk(items):
        for item in items:
            yield item
            yield from walk(item.get("item", []))
    item = next(i for i in walk(questionnaire["item"]) if i["linkId"] == link_id)
    return [next(v for k, v in a.items() if k.startswith("value")) for a in item.get("initial", [])]


@pytest.mark.parametrize("fhir_user", ["Practitioner/dr1", "PractitionerRole/role1"])
def test_the_app_prefills_prescriber_oncologist_from_the_users_role(settings, fhir_user):
    ehr = FakeEhr(chart_for("nanthealth", ONCOLOGIST), fhir_user=fhir_user)
    questionnaire = open_form(settings, ehr)
    assert initial_of(questionnaire, "prescriber-oncologist") == [True]
    assert any(r.startswith("GET PractitionerRole?") for r in ehr.requests)


def test_without_a_role_the_question_stays_open(settings):
    ehr = FakeEhr(chart_for("nanthealth"))
    assert initial_of(open_form(settings, ehr), "prescriber-oncologist") == []


def test_crd_prefetch_and_the_app_ask_the_same_queries(settings):
    """One table: CRD discovery advertises each query the app reads (the app fills in the user)."""
    ehr = FakeEhr(chart_for("nanthealth", ONCOLOGIST), fhir_user="PractitionerRole/role1")
    open_form(settings, ehr)
    asked = {r.removeprefix("GET ") for r in ehr.requests if r.startswith("GET ")}
    prefetch = SERVICES_BY_ID["besponsa-order-sign"].prefetch
    for query in CHART_QUERIES:
        filled = query.template.replace("{{context.patientId}}", "p1").replace("{{userPractitionerRoleId}}", "role1")
        assert prefetch[query.key] == query.template
        assert filled in asked, (query.key, sorted(asked))


def test_the_form_says_which_chart_entry_each_answer_came_from(settings):
    ehr = FakeEhr(chart_for("nanthealth", ONCOLOGIST))
    questionnaire = open_form(settings, ehr)
    prefixes = {}

    def walk(items):
        for item in items:
            prefixes[item["linkId"]] = item.get("prefix")
            walk(item.get("item", []))
    walk(questionnaire["item"])
    assert prefixes["cd22-status"] == "From chart: CD22 result of 2026-10-01"
    assert prefixes["prescriber-oncologist"] == "From chart: practitioner role"
