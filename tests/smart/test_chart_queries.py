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
from tests.support.ehr import BASE, Ehr, chart_for

ONCOLOGIST = {"resourceType": "PractitionerRole", "id": "role1", "practitioner": {"reference": "Practitioner/dr1"},
              "specialty": [{"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": "207RX0202X"}]}]}


def open_form(settings, ehr: Ehr) -> dict:
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
    ehr = Ehr(chart_for("nanthealth", ONCOLOGIST), fhir_user=fhir_user)
    questionnaire = open_form(settings, ehr)
    assert initial_of(questionnaire, "prescriber-oncologist") == [True]
    assert any(r.startswith("GET PractitionerRole?") for r in ehr.requests)


def test_without_a_role_the_question_stays_open(settings):
    ehr = Ehr(chart_for("nanthealth"))
    assert initial_of(open_form(settings, ehr), "prescriber-oncologist") == []


def test_crd_prefetch_and_the_app_ask_the_same_queries(settings):
    """One table: CRD discovery advertises each query the app reads (the app fills in the user)."""
    ehr = Ehr(chart_for("nanthealth", ONCOLOGIST), fhir_user="PractitionerRole/role1")
    open_form(settings, ehr)
    asked = {r.removeprefix("GET ") for r in ehr.requests if r.startswith("GET ")}
    prefetch = SERVICES_BY_ID["besponsa-order-sign"].prefetch
    for query in CHART_QUERIES:
        filled = query.template.replace("{{context.patientId}}", "p1").replace("{{userPractitionerRoleId}}", "role1")
        assert prefetch[query.key] == query.template
        assert filled in asked, (query.key, sorted(asked))


def open_page(settings, ehr: Ehr) -> str:
    with TestClient(create_app(settings, transport=ehr.transport)) as client:
        r = client.get(f"/smart/launch?iss={BASE}&launch=L1", follow_redirects=False)
        callback = ehr.authorize(r.headers["location"]).removeprefix(settings.public_base_url)
        client.get(callback, follow_redirects=False)
        return client.get("/smart/form").text


def test_the_form_says_which_chart_entry_each_answer_came_from_beside_the_answer(settings):
    ehr = Ehr(chart_for("nanthealth", ONCOLOGIST))
    page = open_page(settings, ehr)
    questionnaire = json.loads(re.search(r'id="questionnaire">(.*?)</script>', page, re.S).group(1))
    marks = json.loads(re.search(r'id="provenance">(.*?)</script>', page, re.S).group(1))
    prefixes = []

    def walk(items):
        for item in items:
            prefixes.append(item.get("prefix"))
            walk(item.get("item", []))
    walk(questionnaire["item"])
    assert prefixes == [None] * len(prefixes)  # the question text stays the question
    assert marks["cd22-status"]["text"] == "From chart: CD22 result 2026-10-01"
    assert marks["cd22-status"]["reference"] == "Observation/o-cd22" and "64.0 %" in marks["cd22-status"]["detail"]
    assert marks["prescriber-oncologist"]["text"] == "From chart: practitioner role"
    assert marks["diagnosis"]["text"] == "From chart: Condition C91.02"
    for fact in ("Dana Whitfield", "MRN-40417", "W123456789", "0.8 mg/m2 IV"):
        assert fact in page


def test_a_new_launch_finds_the_autosaved_draft_of_this_form_only(settings):
    from service.policies import canonical
    from service.policies.registry import require_policy
    mine = {"resourceType": "QuestionnaireResponse", "id": "qr-mine", "status": "in-progress",
            "questionnaire": canonical.questionnaire_canonical(require_policy("nanthealth")),
            "subject": {"reference": "Patient/p1"}, "authored": "2026-12-01T10:00:00+00:00",
            "item": [{"linkId": "regimen", "answer": [{"valueCoding": {
                "system": "http://example.org/fhir/CodeSystem/pa-criteria", "code": "with-tki"}}]}]}
    other_form = {**mine, "id": "qr-other", "questionnaire": "http://example.org/Questionnaire/other",
                  "authored": "2026-12-02T10:00:00+00:00"}
    ehr = Ehr(chart_for("nanthealth", mine, other_form))
    marks = json.loads(re.search(r'id="provenance">(.*?)</script>', open_page(settings, ehr), re.S).group(1))
    assert marks["regimen"] == {"kind": "draft", "at": "2026-12-01T10:00:00+00:00", "text": "From your saved draft"}
    assert any(r.startswith("GET QuestionnaireResponse?patient=p1") for r in ehr.requests)
