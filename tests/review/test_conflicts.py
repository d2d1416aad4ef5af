"""Answers that disagree with the chart in the request (issue 22): age vs birth date, answered CD22 status and
percent vs a coded CD22 result, the answered indication vs a coded Condition; flagged on the case in words."""
from __future__ import annotations

import copy
from datetime import date

import httpx

from service.review.case import summarize_request
from service.review.notes import conflicts
from tests.fixtures.charts import ICD10, NEG, POS_LOINC, bundle, cd22_coded, cd22_percent, condition, patient
from tests.pas.cases import BASE, CD22_NEGATIVE
from tests.review.desk import pas_request

RECEIVED = date(2026, 12, 1)


def flagged(answers: dict, *resources: dict) -> list[str]:
    claim = {"resourceType": "Claim", "id": "cl1", "patient": {"reference": "Patient/p1"}}
    chart = bundle(claim, patient("1980-05-17"), *resources)
    return conflicts(summarize_request(chart, answers, RECEIVED), answers)


def test_answered_cd22_against_a_coded_result():
    positive = cd22_percent(45, when="2026-11-20", interpret=("POS",))
    assert flagged({"cd22-status": "negative"}, positive) == [
        "Answered CD22 negative; the request's lab result (Observation, 2026-11-20) says positive, 45 %."]
    assert flagged({"cd22-status": "positive", "cd22-percent": 45}, positive) == []
    assert flagged({"cd22-status": "not-tested"}, positive) == []  # "not tested" is no claim about the result
    later = cd22_coded(NEG, when="2026-11-25")  # the latest call wins, as prefill reads it
    assert flagged({"cd22-status": "positive"}, positive, later) == [
        "Answered CD22 positive; the request's lab result (Observation, 2026-11-25) says negative."]
    assert flagged({"cd22-percent": 3}, positive) == [
        "Answered 3 % CD22-positive blasts; the request's lab result (Observation, 2026-11-20) says 45 %."]
    assert flagged({"cd22-status": "negative"}, cd22_percent(45, when="2026-11-20")) == []  # a percent is no call
    assert flagged({"cd22-status": "negative"}, cd22_coded(POS_LOINC, status="preliminary")) == []


def test_answered_indication_against_a_coded_condition():
    lbl = {**condition("C83.50", ICD10, cid="c-lbl"), "recordedDate": "2026-10-02"}
    assert flagged({"diagnosis": "b-all"}, lbl) == [
        "Answered indication: B-cell precursor acute lymphoblastic leukemia (B-ALL); the request's diagnosis "
        "(Condition, 2026-10-02) is coded as B-lymphoblastic lymphoma."]
    assert flagged({"diagnosis": "lbl"}, lbl) == []
    assert flagged({"diagnosis": "lbl"}, lbl, condition("C91.02", cid="c-ball")) == []  # one of its Conditions
    assert flagged({"diagnosis": "b-all"}, condition("C91.02", cid="c-x", verification="refuted")) == []


def test_the_age_conflict_still_stands():
    assert flagged({"age-years": 40}) == ["The answered age (40) differs from the age the birth date gives at "
                                          "receipt (46)."]
    assert flagged({"age-years": 46}) == []


def with_chart(request: dict, *resources: dict) -> dict:
    found = copy.deepcopy(request)
    for r in resources:
        found["entry"].append({"fullUrl": f"http://provider.example.org/fhir/{r['resourceType']}/{r['id']}",
                               "resource": {**r, "subject": {"reference": "Patient/pat1"}}})
    return found


def test_the_case_page_shows_each_conflict_beside_the_decision(nurse, anon):
    true_age = date.today().year - 1980  # the test requests' Patient is born 1980-01-01
    answers = {**CD22_NEGATIVE, "age-years": true_age}
    lab = cd22_percent(45, when="2026-11-20", oid="o-cd22-desk", interpret=("POS",))
    request = with_chart(pas_request("fepblue", answers), lab)
    answer = anon.post("/fhir/Claim/$submit", json=request)
    assert answer.status_code == 200, answer.text
    case = answer.json()["entry"][0]["resource"]
    page = nurse.get(f"/review/{case['id']}").text
    panel = page[page.index('id="actions-title"'):page.index('id="peer-title"')]
    assert "Answered CD22 negative; the request&#39;s lab result (Observation, 2026-11-20) says positive, 45 %." in panel
    assert "Data disagree" in panel and "differs from the age" not in panel
    plain = anon.post("/fhir/Claim/$submit", json=pas_request("fepblue", {**BASE, "age-years": true_age}))
    assert "Data disagree" not in nurse.get(f"/review/{plain.json()['entry'][0]['resource']['id']}").text


def test_no_conflict_box_without_a_chart(nurse: httpx.Client, anon):
    request = pas_request("aetna", {**BASE, "age-years": date.today().year - 1980, "cd22-status": "positive"})
    case = anon.post("/fhir/Claim/$submit", json=request).json()["entry"][0]["resource"]
    assert 'id="conflicts"' not in nurse.get(f"/review/{case['id']}").text
