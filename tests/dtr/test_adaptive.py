"""$next-question: adaptive flow reaches the decision in no more questions than the static form."""
from __future__ import annotations

import random

import pytest

from service.dtr.questionnaire import build_questionnaire
from service.engine.evaluate import score_response
from service.policies import canonical
from service.policies.concepts import CONCEPTS
from service.policies.registry import load_policies
from tests.dtr.test_questionnaires import is_enabled, questions, to_answer

POLICIES = load_policies()


def truth(policy, rnd):
    """A random patient: a value for every concept the policy uses, within the concept's range."""
    out = {}
    for item in questions(build_questionnaire(policy)["item"]):
        c = CONCEPTS[item["linkId"]]

        def possible(values, c=c):
            return [v for v in values if (c.minimum is None or v >= c.minimum) and (c.maximum is None or v <= c.maximum)]
        out[c.code] = {"integer": lambda: rnd.choice(possible([0, 1, 6, 7, 14, 15, 17, 18, 39, 40, 64, 65, 80])),
                       "decimal": lambda: rnd.choice(possible([0.0, 4.9, 5.0, 60.0])),
                       "boolean": lambda: rnd.choice([True, False]),
                       "coding": lambda c=c: rnd.choice([o for o, _ in c.options])}[c.answer_type]()
    return out


def run_adaptive(client, policy, facts):
    qr = {"resourceType": "QuestionnaireResponse", "status": "in-progress",
          "questionnaire": canonical.questionnaire_canonical(policy), "item": []}
    for _ in range(30):
        r = client.post("/fhir/Questionnaire/$next-question", json=qr)
        assert r.status_code == 200, r.text
        qr = r.json()
        if qr["status"] == "completed":
            return qr
        asked = {i["linkId"] for i in qr["item"]}
        new = [i["linkId"] for i in qr["contained"][0]["item"] if i["linkId"] not in asked]
        assert len(new) == 1
        qr["item"].append({"linkId": new[0], "answer": [to_answer(new[0], facts[new[0]])]})
    pytest.fail("adaptive flow did not finish")


@pytest.mark.parametrize("payer", sorted(POLICIES))
def test_adaptive_decides_like_the_static_form_with_no_more_questions(client, payer):
    policy, rnd = POLICIES[payer], random.Random(payer)
    q = build_questionnaire(policy)
    for _ in range(12):
        facts = truth(policy, rnd)
        static = {}
        for item in questions(q["item"]):
            if is_enabled(item, static):
                static[item["linkId"]] = facts[item["linkId"]]
        done = run_adaptive(client, policy, facts)
        adaptive = {i["linkId"]: facts[i["linkId"]] for i in done["item"]}
        assert len(adaptive) <= len(static)
        assert score_response(policy, adaptive).decision == score_response(policy, static).decision


def test_next_question_accepts_parameters_and_rejects_garbage(client):
    policy = POLICIES["aetna"]
    qr = {"resourceType": "QuestionnaireResponse", "status": "in-progress",
          "questionnaire": canonical.questionnaire_canonical(policy), "item": []}
    r = client.post("/fhir/Questionnaire/$next-question",
                    json={"resourceType": "Parameters", "parameter": [{"name": "questionnaire-response", "resource": qr}]})
    assert r.status_code == 200 and [i["linkId"] for i in r.json()["contained"][0]["item"]] == ["age-years"]
    assert client.post("/fhir/Questionnaire/$next-question", json={"resourceType": "Patient"}).status_code == 422
    bad = {**qr, "item": [{"linkId": "age-years", "answer": [{"valueString": "old"}]}]}
    assert client.post("/fhir/Questionnaire/$next-question", json=bad).status_code == 422
