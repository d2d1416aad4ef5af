"""Generated Questionnaires (issue 4): derived from the declarations, committed, scorable."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.dtr.generate import ROOT, build_artifacts
from service.dtr.questionnaire import build_questionnaire
from service.engine.evaluate import open_concepts, score_response
from service.fhir.responses import read_response_answers
from service.policies import canonical
from service.policies.concepts import BOOLEAN, CODING, CONCEPTS, DECIMAL, INTEGER, SYSTEM
from service.policies.model import concepts_used
from service.policies.registry import load_policies

POLICIES = load_policies()
PAYERS = sorted(POLICIES)


def questions(items):
    for item in items:
        if item["type"] not in ("display", "group"):
            yield item
        yield from questions(item.get("item", []))


def is_enabled(item: dict, answers: dict) -> bool:
    """SDC enableWhen (operator '=' on codings, behaviour any), as a renderer applies it."""
    conditions = item.get("enableWhen")
    if not conditions:
        return True
    return any(answers.get(c["question"]) == c["answerCoding"]["code"] for c in conditions)


NODE = __import__("shutil").which("node") and (ROOT.parent / "tools/node/node_modules").exists()


@pytest.mark.parametrize("name,text", sorted(build_artifacts(with_elm=bool(NODE)).items()))
def test_committed_artifacts_match_the_declarations(name, text):
    committed = ROOT / name
    assert committed.exists(), f"{name} missing: run python -m service.dtr.generate"
    assert committed.read_text(encoding="utf-8") == text, f"{name} drifted: run python -m service.dtr.generate"


@pytest.mark.parametrize("payer", PAYERS)
def test_items_are_exactly_the_policy_concepts(payer):
    q = build_questionnaire(POLICIES[payer])
    items = list(questions(q["item"]))
    assert [i["linkId"] for i in items] == concepts_used(POLICIES[payer])
    for item in items:
        assert item["code"] == [{"system": SYSTEM, "code": item["linkId"],
                                 "display": CONCEPTS[item["linkId"]].display}]
        kind = CONCEPTS[item["linkId"]].answer_type
        assert item["type"] == {INTEGER: "integer", DECIMAL: "decimal", BOOLEAN: "boolean",
                                CODING: "choice"}[kind]
        if kind == CODING:
            assert [o["valueCoding"]["code"] for o in item["answerOption"]] == \
                [c for c, _ in CONCEPTS[item["linkId"]].options]
        help_items = [c for c in item.get("item", []) if c["type"] == "display"]
        assert help_items and "“" in help_items[0]["text"], "help text quotes the policy"


@pytest.mark.parametrize("payer", PAYERS)
def test_header_canonical_and_cql_expressions(payer):
    policy = POLICIES[payer]
    q = build_questionnaire(policy)
    assert q["url"] == canonical.questionnaire_url(policy) and q["version"] == canonical.ARTIFACT_VERSION
    assert q["subjectType"] == ["Patient"] and q["status"] == "active"
    assert f"service/policies/payers/{payer}.py" in q["description"]
    assert q.get("effectivePeriod", {}).get("start") == (policy.effective.isoformat() if policy.effective else None)
    library = f"{canonical.library_url(policy)}|{canonical.ARTIFACT_VERSION}"
    assert {"url": "http://hl7.org/fhir/StructureDefinition/cqf-library", "valueCanonical": library} in q["extension"]
    for item in questions(q["item"]):
        define = CONCEPTS[item["linkId"]].cql_define
        expressions = [e["valueExpression"] for e in item.get("extension", [])
                       if e["url"].endswith("sdc-questionnaire-initialExpression")]
        if define:
            assert expressions == [{"language": "text/cql",
                                    "expression": f'"{canonical.library_name(policy)}".{define}'}]
        else:
            assert expressions == []


def test_enable_when_follows_the_policy_structure():
    def gates(payer):
        return {i["linkId"]: {(c["question"], c["answerCoding"]["code"]) for c in i.get("enableWhen", [])}
                for i in questions(build_questionnaire(POLICIES[payer])["item"])}
    assert gates("aetna")["tki-failed"] == {("ph-status", "positive")}
    assert gates("fepblue")["chemo-failed"] == {("ph-status", "positive")}
    for payer in ("bcbst", "fepblue", "nanthealth"):
        assert gates(payer)["disease-progression"] == {("request-type", "continuation")}
        assert gates(payer)["request-type"] == set()
    assert gates("aetna")["diagnosis"] == set()


def test_fep_attestations_are_grouped_under_a_required_signature():
    q = build_questionnaire(POLICIES["fepblue"])
    group = next(i for i in q["item"] if i["type"] == "group")
    assert [i["linkId"] for i in group["item"]] == [
        "attest-liver-tests", "attest-vod-monitoring", "attest-no-alkylating-conditioning"]
    assert group["extension"][0]["url"].endswith("questionnaire-signatureRequired")
    assert all(i["type"] != "group" for i in build_questionnaire(POLICIES["aetna"])["item"])


def value_for(code, draw):
    c = CONCEPTS[code]
    return {INTEGER: lambda: draw(st.integers(0, 90)), DECIMAL: lambda: draw(st.floats(0, 100)),
            BOOLEAN: lambda: draw(st.booleans()),
            CODING: lambda: draw(st.sampled_from([o for o, _ in c.options]))}[c.answer_type]()


def to_answer(code, value):
    kind = CONCEPTS[code].answer_type
    if kind == CODING:
        return {"valueCoding": {"system": SYSTEM, "code": value}}
    return {{INTEGER: "valueInteger", DECIMAL: "valueDecimal", BOOLEAN: "valueBoolean"}[kind]: value}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PAYERS), st.data())
def test_a_filled_form_scores_like_the_engine_and_hides_nothing_that_matters(payer, data):
    """Fill the form as a clinician would (only enabled items); hidden items never matter."""
    policy = POLICIES[payer]
    q = build_questionnaire(policy)
    answers, items = {}, []
    for item in questions(q["item"]):
        if is_enabled(item, answers) and data.draw(st.booleans()):
            answers[item["linkId"]] = value_for(item["linkId"], data.draw)
            items.append({"linkId": item["linkId"], "answer": [to_answer(item["linkId"], answers[item["linkId"]])]})
    response = {"resourceType": "QuestionnaireResponse", "questionnaire": canonical.questionnaire_canonical(policy),
                "status": "completed", "item": items}
    raw, problems = read_response_answers(response)
    assert problems == [] and raw == answers
    assert score_response(policy, raw) == score_response(policy, answers)
    # Hidden by a gate answered with a known value (an unanswered or "unknown" gate only
    # postpones the question until that fact is known).
    known = {c for c, v in answers.items() if v not in CONCEPTS[c].unknown_codes}
    hidden = {i["linkId"] for i in questions(q["item"]) if not is_enabled(i, answers)
              and all(c["question"] in known for c in i["enableWhen"])}
    assert not hidden & set(open_concepts(policy, answers)), "a hidden question could change the decision"


def test_questionnaire_read_and_search(client):
    r = client.get("/fhir/Questionnaire/besponsa-aetna")
    assert r.status_code == 200 and r.json()["url"].endswith("/Questionnaire/besponsa-aetna")
    assert r.headers["content-type"].startswith("application/fhir+json")
    url = canonical.questionnaire_url(POLICIES["fepblue"])
    for query in (f"url={url}", f"url={url}|1.0.0", f"url={url}&version=1.0.0"):
        bundle = client.get(f"/fhir/Questionnaire?{query}").json()
        assert bundle["type"] == "searchset" and [e["resource"]["id"] for e in bundle["entry"]] == ["besponsa-fepblue"]
    assert client.get(f"/fhir/Questionnaire?url={url}|9.9").json()["total"] == 0
    assert client.get("/fhir/Questionnaire").json()["total"] == 5
    missing = client.get("/fhir/Questionnaire/besponsa-cigna")
    assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("payer", PAYERS)
def test_served_questionnaires_parse_with_fhir_resources(payer):
    from fhir.resources.R4B.questionnaire import Questionnaire
    Questionnaire.model_validate(json.loads((ROOT / f"{payer}.json").read_text()))


@pytest.mark.parametrize("payer", PAYERS)
def test_library_checks_of_the_dtr_test_kit_kind(client, payer):
    """Library.name == CQL library name; both content types; expressions name that library."""
    import base64
    policy = POLICIES[payer]
    lib = client.get(f"/fhir/Library/{canonical.library_id(policy)}").json()
    assert lib["name"] == canonical.library_name(policy) and lib["url"] == canonical.library_url(policy)
    kinds = {c["contentType"]: base64.b64decode(c["data"]).decode() for c in lib["content"]}
    assert set(kinds) == {"text/cql", "application/elm+json"}
    assert f"library {lib['name']} version '{lib['version']}'" in kinds["text/cql"]
    elm = json.loads(kinds["application/elm+json"])
    assert elm["library"]["identifier"] == {"id": lib["name"], "version": lib["version"]}
    defined = {d["name"] for d in elm["library"]["statements"]["def"]}
    q = client.get(f"/fhir/Questionnaire/{canonical.questionnaire_id(policy)}").json()
    for item in questions(q["item"]):
        for ext in item.get("extension", []):
            if ext["url"].endswith("initialExpression"):
                library, _, define = ext["valueExpression"]["expression"].partition(".")
                assert library == f'"{lib["name"]}"' and define in defined
    from fhir.resources.R4B.library import Library
    Library.model_validate(lib)
    search = client.get(f"/fhir/Library?url={lib['url']}|{lib['version']}").json()
    assert [e["resource"]["id"] for e in search["entry"]] == [lib["id"]]
