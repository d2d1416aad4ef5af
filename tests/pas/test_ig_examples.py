"""The PAS 2.2.1 IG's own example requests, as the Inferno PAS server suite sends them, rewritten
to Besponsa (J9229) and to one of our payers: approval-path, pend and update use cases, with and
without a DTR QuestionnaireResponse; every answer valid against the PAS profiles."""
from __future__ import annotations

import json
import tarfile

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.policies.registry import PAYER_ID_SYSTEM
from tests.pas.bundles import questionnaire_response
from tests.pas.cases import BASE
from tests.support import fhir_validate
from tests.support.fhir_validate import ig_package

HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
REQUESTS = ("MedicalServicesAuthorizationBundleExample", "ReferralAuthorizationBundleExample",
            "SurgicalRequestBundleExample", "HomecareAuthorizationBundleExample")


def example(name: str) -> dict:
    with tarfile.open(ig_package("davinci-pas-2.2.1.tgz")) as tar:
        return json.load(tar.extractfile(f"package/example/Bundle-{name}.json"))


def as_besponsa(bundle: dict, payer: str = "aetna", with_questionnaire: bool = False) -> dict:
    """Every item billed as J9229; the Coverage's payor Organization named by our payer id."""
    claims = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Claim"]
    for claim in claims:
        for item in claim["item"]:
            item["productOrService"] = {"coding": [{"system": HCPCS, "code": "J9229"}]}
    coverage = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Coverage")
    payor = coverage["payor"][0]["reference"].split("/")[-1]
    org = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Organization"
               and e["resource"]["id"] == payor)
    org.setdefault("identifier", []).append({"system": PAYER_ID_SYSTEM, "value": payer})
    if with_questionnaire:
        qr = questionnaire_response(payer, BASE)
        bundle["entry"].append({"fullUrl": "http://example.org/fhir/QuestionnaireResponse/qr1", "resource": qr})
        claims[0].setdefault("supportingInfo", []).append({
            "sequence": 99, "category": {"coding": [{"system": "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes",
                                                     "code": "freeFormMessage"}]},
            "valueReference": {"reference": "QuestionnaireResponse/qr1"}})
    return bundle


@pytest.fixture()
def api(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path / "d", public_base_url="http://testserver",
                                        auth_disabled=True))) as client:
        yield client


def action(cr: dict, n: int = 0) -> str | None:
    for ext in cr["item"][n]["adjudication"][0].get("extension", []):
        for part in ext["extension"]:
            if part["url"].endswith("reviewActionCode"):
                return part["valueCodeableConcept"]["coding"][0]["code"]
    return None


@pytest.mark.parametrize("name", REQUESTS)
@pytest.mark.parametrize("with_questionnaire, expected", [(False, "A4"), (True, "A1")])
def test_the_igs_requests_are_answered(api, name, with_questionnaire, expected):
    """Without DTR the examples carry no clinical facts: pended, asking for them; with the completed
    questionnaire of a patient who meets the policy: approved (kit: approval and pended use cases)."""
    r = api.post("/fhir/Claim/$submit", json=as_besponsa(example(name), with_questionnaire=with_questionnaire))
    assert r.status_code == 200, r.text
    body = r.json()
    cr = body["entry"][0]["resource"]
    assert body["entry"][0]["resource"]["resourceType"] == "ClaimResponse" and action(cr) == expected
    if expected == "A4":
        assert any(e["resource"]["resourceType"] == "CommunicationRequest" for e in body["entry"])


def test_the_igs_update_example_updates_the_homecare_request(api):
    first = api.post("/fhir/Claim/$submit", json=as_besponsa(example("HomecareAuthorizationBundleExample"),
                                                             with_questionnaire=True)).json()["entry"][0]["resource"]
    update = as_besponsa(example("HomecareAuthorizationUpdateBundleExample"), with_questionnaire=True)
    r = api.post("/fhir/Claim/$submit", json=update)
    assert r.status_code == 200, r.text
    second = r.json()["entry"][0]["resource"]
    assert second["id"] == first["id"] and second["meta"]["versionId"] == "2"
    assert [action(second, n) for n in range(3)] == ["A1", None, "A1"]  # item 2 is cancelled in the update


@pytest.mark.node
def test_the_answers_to_the_igs_requests_are_valid(api):
    if not fhir_validate.available():
        pytest.skip("node tools not installed (npm ci --prefix tools/node)")
    items = []
    for name in REQUESTS:
        for with_qr in (False, True):
            request = as_besponsa(example(name), with_questionnaire=with_qr)
            request["identifier"]["value"] += f"-{with_qr}"  # two different requests, not a retry
            body = api.post("/fhir/Claim/$submit", json=request).json()
            items += [(e["resource"], (e["resource"].get("meta", {}).get("profile") or [None])[0]) for e in body["entry"]]
    problems = [(r.get("resourceType"), p) for (r, _), issues in zip(items, fhir_validate.validate(items), strict=True)
                for p in issues]
    assert problems == []
