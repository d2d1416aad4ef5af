"""Every file in examples/ is posted to its endpoint and answers what examples/README.md says.

The walk-through shows real, abridged output; these tests keep the request files and the stated
outcomes from drifting away from the service.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
WALKTHROUGH = EXAMPLES / "README.md"

PAYERS = ("aetna", "bcbst", "bcbsnc", "fepblue", "nanthealth")
PAYER_SYSTEM = "http://example.org/fhir/sid/payer-id"
HCPCS_SYSTEMS = {"http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                 "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                 "https://bluebutton.cms.gov/resources/codesystem/hcpcs"}
COVERAGE_INFO = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
REVIEW_ACTION = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewAction"
REVIEW_ACTION_CODE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewActionCode"
X12_306 = "https://codesystem.x12.org/005010/306"

# The decision each PAS example documents in examples/README.md (A1 approved, A3 denied, A4 pended),
# and the criterion a non-approval must name.
PAS_DECISIONS = {"aetna": ("A1", None), "bcbst": ("A4", "cd22-status"), "fepblue": ("A3", "cd22-status")}
PREFILL_EVIDENCE = "http://example.org/fhir/StructureDefinition/prefill-evidence"
RELATED_CLAIM = "http://terminology.hl7.org/CodeSystem/related-claim-relationship"


def questionnaire_canonical(payer: str) -> str:
    return f"http://example.org/fhir/Questionnaire/besponsa-{payer}|1.0.0"


def load(rel: str) -> dict:
    return json.loads((EXAMPLES / rel).read_text(encoding="utf-8"))


def started(data_dir: Path):
    from service.app import create_app
    from service.config import Settings
    settings = Settings(data_dir=data_dir, public_base_url="http://localhost:8080", auth_disabled=True)
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with started(tmp_path_factory.mktemp("examples") / "data") as c:
        yield c


def post(client, path: str, rel: str):
    # the bytes of the file, as `curl --data @examples/...` sends them
    return client.post(path, content=(EXAMPLES / rel).read_bytes(), headers={"Content-Type": "application/json"})


def is_besponsa(resource: dict) -> bool:
    concept = resource.get("medicationCodeableConcept") or resource.get("code") or {}
    return any(c.get("system") in HCPCS_SYSTEMS and c.get("code") == "J9229" for c in concept.get("coding", []))


def answers(qr: dict) -> dict:
    out: dict = {}

    def walk(items):
        for item in items:
            for a in item.get("answer", []):
                value = next(v for k, v in a.items() if k.startswith("value"))
                out[item["linkId"]] = value.get("code") if isinstance(value, dict) else value
            walk(item.get("item", []))
    walk(qr.get("item", []))
    return out


def payer_of(bundle: dict, coverage: dict) -> str:
    """The payer id of the Organization the Coverage's payor references, found in the same Bundle."""
    ref = coverage["payor"][0]["reference"]
    orgs = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Organization"
            and f"Organization/{e['resource']['id']}" == ref]
    assert len(orgs) == 1, f"the Coverage's payor {ref} is not in the Bundle"
    return next(i["value"] for i in orgs[0]["identifier"] if i["system"] == PAYER_SYSTEM)


def test_every_example_file_is_tested_and_walked_through():
    tested = ({f"order-sign/{p}.json" for p in PAYERS}
              | {f"pas/submit-{p}.json" for p in PAS_DECISIONS} | {"pas/update-bcbst.json"}
              | {"dtr/questionnaire-package.json", "dtr/populate.json", "dtr/questionnaire-response-aetna.json"})
    present = {str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*.json")}
    assert present == tested
    text = WALKTHROUGH.read_text(encoding="utf-8")
    for rel in sorted(tested):
        assert f"--data @examples/{rel}" in text, f"examples/README.md has no curl command for {rel}"
    for payer in PAYERS:
        assert f"| `{payer}` |" in text, f"the payer table misses {payer}"


@pytest.mark.parametrize("payer", PAYERS)
def test_order_sign(client, payer):
    rel = f"order-sign/{payer}.json"
    request = load(rel)
    assert request["hook"] == "order-sign"
    advertised = next(s for s in client.get("/cds-services").json()["services"] if s["id"] == "besponsa-order-sign")
    assert set(request["prefetch"]) == set(advertised["prefetch"]), "prefetch keys differ from GET /cds-services"
    coverage_bundle = request["prefetch"]["coverage"]
    assert coverage_bundle["type"] == "searchset"
    coverage = next(e["resource"] for e in coverage_bundle["entry"] if e["resource"]["resourceType"] == "Coverage")
    assert payer_of(coverage_bundle, coverage) == payer

    response = post(client, "/cds-services/besponsa-order-sign", rel)
    assert response.status_code == 200, response.text
    orders = [e["resource"] for e in request["context"]["draftOrders"]["entry"] if is_besponsa(e["resource"])]
    actions = response.json()["systemActions"]
    assert orders and len(actions) == len(orders)
    assert sorted(a["resource"]["id"] for a in actions) == sorted(o["id"] for o in orders)
    for action in actions:
        assert action["type"] == "update"
        ext = [e for e in action["resource"].get("extension", []) if e["url"] == COVERAGE_INFO]
        assert len(ext) == 1
        parts = {p["url"]: p for p in ext[0]["extension"]}
        assert parts["covered"]["valueCode"] == "covered" and parts["pa-needed"]["valueCode"] == "auth-needed"
        assert parts["questionnaire"]["valueCanonical"] == questionnaire_canonical(payer)


def test_questionnaire_package(client):
    response = post(client, "/fhir/Questionnaire/$questionnaire-package", "dtr/questionnaire-package.json")
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["resourceType"] == "Parameters"
    assert [p["name"] for p in out["parameter"]] == ["PackageBundle"]
    package = out["parameter"][0]["resource"]
    assert package["resourceType"] == "Bundle"
    entries = [e["resource"] for e in package["entry"]]
    assert entries[0]["resourceType"] == "Questionnaire"
    assert f"{entries[0]['url']}|{entries[0]['version']}" == questionnaire_canonical("aetna")
    draft = entries[-1]
    assert draft["resourceType"] == "QuestionnaireResponse" and draft["status"] == "in-progress"
    assert answers(draft).get("diagnosis") == "b-all"


def test_populate(client):
    response = post(client, "/fhir/Questionnaire/besponsa-aetna/$populate", "dtr/populate.json")
    assert response.status_code == 200, response.text
    out = response.json()
    if out["resourceType"] == "Parameters":  # SDC: the QuestionnaireResponse in the `response` part
        out = next(p["resource"] for p in out["parameter"] if p["name"] == "response")
    assert out["resourceType"] == "QuestionnaireResponse"
    assert out["questionnaire"] == questionnaire_canonical("aetna")
    got = answers(out)
    assert got.get("diagnosis") == "b-all" and got.get("disease-status") == "relapsed"
    assert got.get("cd22-percent") == 65 and got.get("ph-status") == "negative"
    # the chart's CD22 Observation is a bare percent: no status is read from it (README section 2)
    assert "cd22-status" not in got
    for item in out["item"]:
        for answer in item.get("answer", []):
            evidence = [e for e in answer.get("extension", []) if e["url"] == PREFILL_EVIDENCE]
            assert len(evidence) == 1 and evidence[0]["valueReference"]["reference"], item["linkId"]


@pytest.mark.parametrize("payer", sorted(PAS_DECISIONS))
def test_submit(client, payer):
    rel = f"pas/submit-{payer}.json"
    request = load(rel)
    assert request["type"] == "collection"
    claim = request["entry"][0]["resource"]
    assert claim["resourceType"] == "Claim" and claim["use"] == "preauthorization"
    by_ref = {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"] for e in request["entry"]}
    assert payer_of(request, by_ref[claim["insurance"][0]["coverage"]["reference"]]) == payer
    qr = by_ref[claim["supportingInfo"][0]["valueReference"]["reference"]]
    assert qr["status"] == "completed" and qr["questionnaire"] == questionnaire_canonical(payer)

    response = post(client, "/fhir/Claim/$submit", rel)
    assert response.status_code == 200, response.text
    cr = response.json()["entry"][0]["resource"]
    assert cr["resourceType"] == "ClaimResponse"
    action = next(e for e in cr["item"][0]["adjudication"][0]["extension"] if e["url"] == REVIEW_ACTION)
    code = next(p["valueCodeableConcept"]["coding"][0] for p in action["extension"] if p["url"] == REVIEW_ACTION_CODE)
    reasons = [p["valueCodeableConcept"]["coding"][0]["code"] for p in action["extension"] if p["url"] == "reasonCode"]
    expected, reason = PAS_DECISIONS[payer]
    assert code["system"] == X12_306 and code["code"] == expected
    if expected == "A1":
        assert cr["preAuthRef"] and cr["preAuthPeriod"]["start"] and reasons == []
    else:
        assert "preAuthRef" not in cr and reason in reasons
    # a retry (same Bundle.identifier) answers the same determination
    assert post(client, "/fhir/Claim/$submit", rel).json()["entry"][0]["resource"]["id"] == cr["id"]


def test_the_questionnaire_response_alone(client):
    qr = load("dtr/questionnaire-response-aetna.json")
    submitted = next(e["resource"] for e in load("pas/submit-aetna.json")["entry"]
                     if e["resource"]["resourceType"] == "QuestionnaireResponse")
    assert qr == submitted, "the QuestionnaireResponse alone differs from the one in pas/submit-aetna.json"
    # SDC adaptive: nothing left to ask that could change the decision, so it comes back completed
    response = post(client, "/fhir/Questionnaire/$next-question", "dtr/questionnaire-response-aetna.json")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"


def review_action(cr: dict) -> tuple[str, list[str]]:
    """The X12 306 code of the first item and the reason codes it names."""
    action = next(e for e in cr["item"][0]["adjudication"][0]["extension"] if e["url"] == REVIEW_ACTION)
    code = next(p["valueCodeableConcept"]["coding"][0]["code"] for p in action["extension"] if p["url"] == REVIEW_ACTION_CODE)
    return code, [p["valueCodeableConcept"]["coding"][0]["code"] for p in action["extension"] if p["url"] == "reasonCode"]


def test_pend_then_update(tmp_path):
    """README section 6: the pend asks for cd22-status; the claim update answers it and re-scores the
    same ClaimResponse (same id and number, version 2). A fresh service, so other tests' order cannot matter."""
    original, update = load("pas/submit-bcbst.json"), load("pas/update-bcbst.json")
    claim = update["entry"][0]["resource"]
    assert update["identifier"] != original["identifier"]
    assert claim["related"] == [{"claim": {"identifier": original["entry"][0]["resource"]["identifier"][0]},
                                 "relationship": {"coding": [{"system": RELATED_CLAIM, "code": "prior"}]}}]
    by_ref = {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"] for e in update["entry"]}
    qr = by_ref[claim["supportingInfo"][0]["valueReference"]["reference"]]
    assert answers(qr) == {**answers(next(e["resource"] for e in original["entry"]
                                          if e["resource"]["resourceType"] == "QuestionnaireResponse")),
                           "cd22-status": "positive"}

    with started(tmp_path / "data") as client:
        response = post(client, "/fhir/Claim/$submit", "pas/submit-bcbst.json")
        assert response.status_code == 200, response.text
        pended = response.json()
        cr = pended["entry"][0]["resource"]
        assert cr["meta"]["versionId"] == "1" and review_action(cr) == ("A4", ["cd22-status"])
        made = {e["fullUrl"]: e["resource"] for e in pended["entry"]}  # references are absolute (PAS kit)
        ask = made[cr["communicationRequest"][0]["reference"]]
        assert [r["coding"][0]["code"] for r in ask["reasonCode"]] == ["cd22-status"]
        assert any(r["resourceType"] == "Task" for r in made.values())

        response = post(client, "/fhir/Claim/$submit", "pas/update-bcbst.json")
        assert response.status_code == 200, response.text
        updated = response.json()["entry"][0]["resource"]
        assert updated["id"] == cr["id"] and updated["meta"]["versionId"] == "2"
        assert review_action(updated) == ("A1", [])
        assert updated["preAuthRef"] == cr["identifier"][0]["value"]
        assert "communicationRequest" not in updated
        # a retried update replays version 2
        assert post(client, "/fhir/Claim/$submit", "pas/update-bcbst.json").json()["entry"][0]["resource"]["meta"]["versionId"] == "2"
