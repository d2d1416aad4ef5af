"""Bad $submit input: 400/422 with an OperationOutcome naming each problem, nothing stored."""
from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select

from service.config import Settings
from service.storage import open_storage
from service.storage.tables import Claim
from tests.pas.bundles import request_bundle
from tests.pas.cases import BASE


def stored_claims(backend, bundle: dict) -> int:
    _, data_dir, url = backend
    storage = open_storage(Settings(data_dir=data_dir, database_url=url))
    try:
        key = f"bundle:{bundle['identifier']['system']}|{bundle['identifier']['value']}"
        with storage.sessions() as s:
            return s.scalar(select(func.count()).select_from(Claim)
                            .where(Claim.idempotency_key == key))
    finally:
        storage.close()


def entry(bundle: dict, kind: str) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)


def no_qr(b):
    b["entry"] = [e for e in b["entry"] if e["resource"]["resourceType"] != "QuestionnaireResponse"]


def wrong_type(b):
    qr = entry(b, "QuestionnaireResponse")
    qr["item"][0] = {"linkId": "age-years", "answer": [{"valueString": "forty"}]}


def bad_coding(b):
    qr = entry(b, "QuestionnaireResponse")
    qr["item"][1]["answer"][0]["valueCoding"]["code"] = "leukemia-ish"


def not_j9229(b):
    b["entry"][0]["resource"]["item"][0]["productOrService"]["coding"][0]["code"] = "J9999"


def system_not_a_string(b):
    b["entry"][0]["resource"]["item"][0]["productOrService"]["coding"][0]["system"] = ["not", "a", "string"]


def unknown_payer(b):
    org = entry(b, "Organization")
    org["identifier"][0]["value"], org["name"] = "acme", "Acme Health"


def claim_not_first(b):
    b["entry"].append(b["entry"].pop(0))


def not_preauth(b):
    b["entry"][0]["resource"]["use"] = "claim"


def several(b):
    not_j9229(b), unknown_payer(b), wrong_type(b), not_preauth(b)


# (id, mutate, HTTP status, words each expected issue contains)
CASES = [
    ("wrong-answer-type", wrong_type, 422, ["age-years"]),
    ("unknown-answer-code", bad_coding, 422, ["diagnosis"]),
    ("item-not-j9229", not_j9229, 422, ["J9999"]),
    ("item-system-not-a-string", system_not_a_string, 422, ["Claim.item[0].productOrService"]),  # was a 500
    ("unknown-payer", unknown_payer, 422, ["Coverage.payor"]),
    ("claim-not-first", claim_not_first, 422, ["first entry must be the Claim"]),
    ("use-not-preauthorization", not_preauth, 422, ["Claim.use"]),
    ("every-problem-named", several, 422, ["J9999", "Coverage.payor", "age-years", "Claim.use"]),
]


@pytest.mark.parametrize("case_id,mutate,status,words", CASES, ids=[c[0] for c in CASES])
def test_bad_request_names_each_problem(http, backend, case_id, mutate, status, words):
    bundle = request_bundle("bcbst", BASE)
    mutate(bundle)
    resp = http.post("/fhir/Claim/$submit", json=bundle)
    assert resp.status_code == status, resp.text
    outcome = resp.json()
    assert outcome["resourceType"] == "OperationOutcome"
    texts = [i["diagnostics"] for i in outcome["issue"]]
    for word in words:
        assert any(word in t for t in texts), (word, texts)
    assert stored_claims(backend, bundle) == 0


def test_other_payers_questionnaire(http, backend):
    bundle = request_bundle("bcbst", BASE, qr_payer="aetna")
    resp = http.post("/fhir/Claim/$submit", json=bundle)
    assert resp.status_code == 422
    text = resp.json()["issue"][0]["diagnostics"]
    assert "'aetna'" in text and "'bcbst'" in text
    assert stored_claims(backend, bundle) == 0


def test_not_json_is_400(http):
    resp = http.post("/fhir/Claim/$submit", content=b"{not json",
                     headers={"content-type": "application/fhir+json"})
    assert resp.status_code == 400 and resp.json()["resourceType"] == "OperationOutcome"


def garbage_shapes():
    good = request_bundle("aetna", BASE)
    shapes = [[], "text", 7, {"resourceType": "Patient"}, {"resourceType": "Bundle"},
              {"resourceType": "Bundle", "entry": "x"}, {"resourceType": "Bundle", "entry": [1]},
              {"resourceType": "Parameters", "parameter": [{"name": "resource"}]}]
    for path, value in [(("patient",), "Patient/1"), (("insurance",), "x"), (("insurance",), [1]),
                        (("item",), "x"), (("item",), [{"sequence": "1"}]),
                        (("supportingInfo",), [{"valueReference": "QuestionnaireResponse/qr1"}]),
                        (("provider",), 5), (("identifier",), "x"), (("item",), [None])]:
        b = copy.deepcopy(good)
        b["entry"][0]["resource"][path[0]] = value
        shapes.append(b)
    b = copy.deepcopy(good)
    entry(b, "QuestionnaireResponse")["item"] = [{"linkId": "age-years", "answer": "x"}, 3]
    shapes.append(b)
    b = copy.deepcopy(good)
    entry(b, "Coverage")["payor"] = "Organization/payer1"
    shapes.append(b)
    return shapes


@pytest.mark.parametrize("shape", garbage_shapes())
def test_malformed_shapes_never_500(http, shape):
    resp = http.post("/fhir/Claim/$submit", json=shape)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["resourceType"] == "OperationOutcome"
