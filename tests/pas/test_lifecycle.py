"""PAS as payers run it (issue 13): requests without DTR, pends that ask for what is missing,
updates that re-score the same request, partial and full cancels, unknown modifiers refused, and
every response Bundle valid against the PAS 2.2.1 profiles with every reference resolved."""
from __future__ import annotations

import copy
import uuid

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.policies.registry import get_policy
from tests.pas.bundles import request_bundle
from tests.pas.cases import BASE, MISSING_CD22
from tests.support import fhir_validate

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
INFO_CANCELLED = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/modifierextension-infoCancelled"


@pytest.fixture()
def api(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path / "d", public_base_url="http://testserver",
                                        auth_disabled=True))) as client:
        yield client


def without_questionnaire(bundle: dict, *extra: dict, diagnosis: str | None = None) -> dict:
    """The IG's shape of a request a provider sends without DTR: the chart facts it holds, if any."""
    b = copy.deepcopy(bundle)
    claim = b["entry"][0]["resource"]
    claim.pop("supportingInfo")
    b["entry"] = [e for e in b["entry"] if e["resource"]["resourceType"] != "QuestionnaireResponse"]
    if diagnosis:
        claim["diagnosis"] = [{"sequence": 1, "diagnosisCodeableConcept": {"coding": [{"system": ICD10, "code": diagnosis}]}}]
    b["entry"] += [{"fullUrl": f"http://provider.example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r}
                   for r in extra]
    return b


def observation(oid: str, code: str, **value) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "subject": {"reference": "Patient/pat1"},
            "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": "2026-11-20", **value}


def update_of(original: dict, answers: dict | None = None, *, status: str = "active",
              cancel_items: tuple[int, ...] = ()) -> dict:
    """A PAS claim-update: a new Bundle whose Claim names the earlier one (Claim.related, prior)."""
    b = request_bundle("aetna", answers if answers is not None else BASE)
    first_claim = original["entry"][0]["resource"]
    claim = b["entry"][0]["resource"]
    claim["related"] = [{"claim": {"identifier": first_claim["identifier"][0]},
                         "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/related-claim-relationship",
                                                      "code": "prior"}]}}]
    claim["status"] = status
    claim["item"] = copy.deepcopy(first_claim["item"])
    for item in claim["item"]:
        if item["sequence"] in cancel_items:
            item["modifierExtension"] = [{"url": INFO_CANCELLED, "valueBoolean": True}]
    return b


def review_code(cr: dict, item: int = 0) -> str | None:
    for ext in cr["item"][item]["adjudication"][0].get("extension", []):
        for part in ext["extension"]:
            if part["url"].endswith("reviewActionCode"):
                return part["valueCodeableConcept"]["coding"][0]["code"]
    return None


def submit(api, bundle: dict) -> dict:
    r = api.post("/fhir/Claim/$submit", json=bundle)
    assert r.status_code == 200, r.text
    assert_references_resolve(r.json())
    return r.json()


def assert_references_resolve(bundle: dict) -> None:
    """Every relative reference in the response Bundle names an entry of it (PAS: self-contained)."""
    tails = {"/".join(e["fullUrl"].split("/")[-2:]) for e in bundle["entry"]}

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and not ref.startswith(("#", "urn:", "http")) and "/" in ref:
                assert ref in tails, f"{ref} does not resolve inside the response Bundle"
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    for e in bundle["entry"]:
        walk({k: v for k, v in e["resource"].items() if k != "request"})  # request names the provider's Claim


def test_a_request_without_dtr_is_decided_from_what_it_carries(api):
    chart = [observation("cd22", "14017-8", valueQuantity={"value": 62, "unit": "%", "system": "http://unitsofmeasure.org",
                                                           "code": "%"},
                         interpretation=[{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                                      "code": "POS"}]}]),
             observation("ph", "21821-4", valueCodeableConcept={"coding": [{"system": "http://snomed.info/sct",
                                                                            "code": "260385009"}]})]
    body = submit(api, without_questionnaire(request_bundle("aetna", BASE), *chart, diagnosis="C91.02"))
    cr = body["entry"][0]["resource"]
    assert review_code(cr) == "A1", cr["disposition"]  # Aetna: adult, relapsed B-ALL, CD22+ >= 5 %, Ph-negative


def test_a_bare_request_pends_and_asks_for_each_missing_item(api):
    body = submit(api, without_questionnaire(request_bundle("bcbst", BASE)))
    cr = body["entry"][0]["resource"]
    assert review_code(cr) == "A4"
    kinds = {e["resource"]["resourceType"]: e["resource"] for e in body["entry"]}
    urls = {e["resource"]["resourceType"]: e["fullUrl"] for e in body["entry"]}
    request, task = kinds["CommunicationRequest"], kinds["Task"]
    assert cr["communicationRequest"] == [{"reference": urls["CommunicationRequest"]}]
    assert urls["CommunicationRequest"].endswith(f"/fhir/CommunicationRequest/{request['id']}")
    asked = [c["coding"][0]["code"] for c in request["reasonCode"]]
    assert {"diagnosis", "cd22-status", "ph-status"} <= set(asked)
    assert all("policy:" in c["text"] for c in request["reasonCode"])  # the policy's own words
    context = next(i for i in task["input"] if i["type"]["coding"][0]["code"] == "questionnaire-context")
    assert context["valueString"] == "http://example.org/fhir/Questionnaire/besponsa-bcbst|1.0.0"
    due = next(e for e in cr["extension"] if e["url"].endswith("decision-due"))["valueDateTime"]
    assert due > cr["created"]


def test_an_update_with_the_questionnaire_rescores_the_same_request(api):
    original = request_bundle("aetna", MISSING_CD22)
    first = submit(api, original)["entry"][0]["resource"]
    assert review_code(first) == "A4"
    update = update_of(original, BASE)
    second = submit(api, update)["entry"][0]["resource"]
    assert second["id"] == first["id"] and second["meta"]["versionId"] == "2"
    assert review_code(second) == "A1" and second["preAuthRef"] == first["identifier"][0]["value"]
    assert "communicationRequest" not in second
    again = submit(api, update)["entry"][0]["resource"]  # a retried update replays, adds nothing
    assert again["meta"]["versionId"] == "2"
    history = api.get(f"/fhir/ClaimResponse/{first['id']}/_history/1").json()
    assert review_code(history) == "A4"


def test_a_partial_cancel_answers_the_cancelled_item_as_cancelled(api):
    original = request_bundle("aetna", BASE)
    claim = original["entry"][0]["resource"]
    claim["item"].append({**copy.deepcopy(claim["item"][0]), "sequence": 2})
    first = submit(api, original)["entry"][0]["resource"]
    assert [review_code(first, 0), review_code(first, 1)] == ["A1", "A1"]
    second = submit(api, update_of(original, cancel_items=(2,)))["entry"][0]["resource"]
    assert review_code(second, 0) == "A1" and review_code(second, 1) is None
    notes = {n["number"]: n["text"] for n in second["processNote"]}
    assert any("Item 2 cancelled" in notes[n] for n in second["item"][1]["noteNumber"])
    assert second["status"] == "active" and second["id"] == first["id"]


def test_cancelling_the_whole_request_ends_the_authorization(api):
    original = request_bundle("aetna", BASE)
    first = submit(api, original)["entry"][0]["resource"]
    second = submit(api, update_of(original, status="cancelled"))["entry"][0]["resource"]
    assert "preAuthPeriod" not in second and "preAuthRef" not in second and "ended" in second["disposition"]
    assert review_code(second) is None and second["status"] == "active"  # PAS fixes status to active
    later = api.post("/fhir/Claim/$submit", json=update_of(original))
    assert later.status_code == 409
    assert "cancelled" in api.get(f"/fhir/ClaimResponse/{first['id']}").json()["disposition"].lower()


def test_an_update_naming_no_earlier_request_is_refused(api):
    ghost = request_bundle("aetna", BASE)
    ghost["entry"][0]["resource"]["identifier"] = [{"system": "http://example.org/claim-id", "value": uuid.uuid4().hex}]
    r = api.post("/fhir/Claim/$submit", json=update_of(ghost))
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Claim.related.claim.identifier"]


@pytest.mark.parametrize("where", ["claim", "item", "supportingInfo"])
def test_a_modifier_extension_we_do_not_understand_is_refused(api, where):
    b = request_bundle("aetna", BASE)
    claim = b["entry"][0]["resource"]
    target = {"claim": claim, "item": claim["item"][0], "supportingInfo": claim["supportingInfo"][0]}[where]
    target["modifierExtension"] = [{"url": "http://example.org/do-not-pay", "valueBoolean": True}]
    r = api.post("/fhir/Claim/$submit", json=b)
    assert r.status_code == 422 and "not understood" in r.json()["issue"][0]["diagnostics"]
    assert r.json()["issue"][0]["expression"][0].endswith("modifierExtension[0]")


def test_an_in_progress_questionnaire_is_scored_but_not_approved(api):
    b = request_bundle("aetna", BASE)
    next(e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")["status"] = "in-progress"
    cr = submit(api, b)["entry"][0]["resource"]
    assert review_code(cr) == "A4" and "in progress" in cr["disposition"]
    assert any("in-progress" in n["text"] for n in cr["processNote"])


def test_the_practitioner_behind_a_practitioner_role_is_echoed(api):
    b = request_bundle("aetna", BASE)
    base = "http://provider.example.org/fhir"
    b["entry"].append({"fullUrl": f"{base}/PractitionerRole/role1", "resource": {
        "resourceType": "PractitionerRole", "id": "role1", "practitioner": {"reference": "Practitioner/prac1"},
        "organization": {"reference": "Organization/clinic"}}})
    b["entry"].append({"fullUrl": f"{base}/Organization/clinic", "resource": {
        "resourceType": "Organization", "id": "clinic", "name": "Clinic"}})
    b["entry"][0]["resource"]["provider"] = {"reference": "PractitionerRole/role1"}
    body = submit(api, b)
    echoed = {e["fullUrl"].split("/fhir/")[1] for e in body["entry"][1:]}
    assert {"PractitionerRole/role1", "Practitioner/prac1", "Organization/clinic"} <= echoed


@pytest.mark.node
def test_every_lifecycle_response_is_valid_against_the_pas_profiles(api):
    if not fhir_validate.available():
        pytest.skip("node tools not installed (npm ci --prefix tools/node)")
    original = request_bundle("aetna", MISSING_CD22)
    bundles = [submit(api, original), submit(api, update_of(original, BASE)),
               submit(api, without_questionnaire(request_bundle("bcbst", BASE))),
               submit(api, update_of(original, status="cancelled"))]
    items = []
    for bundle in bundles:
        items.append((bundle, "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-pas-response-bundle"))
        items += [(e["resource"], (e["resource"].get("meta", {}).get("profile") or [None])[0]) for e in bundle["entry"]]
    problems = fhir_validate.validate(items)
    known = ("Bundle.entry",)  # medplum: Bundle.entry slices by resource type (README: known false positive)
    real = [(i[0].get("resourceType"), p) for i, issues in zip(items, problems, strict=True) for p in issues
            if not p.get("expression", "").startswith(known)]
    assert real == []


def test_a_payer_with_the_licensed_x12_list_gets_its_886_codes_first(tmp_path):
    """X12 external code list 886 is licensed: a payer that holds it maps criteria (or reason kinds) to
    its codes in X12_REASON_CODES; the code then comes first, the pa-criteria code beside it."""
    settings = Settings(data_dir=tmp_path / "x", public_base_url="http://testserver", auth_disabled=True,
                        x12_reason_codes='{"cd22-status": "C1", "unknown": "U9"}')
    with TestClient(create_app(settings)) as client:
        cr = submit(client, request_bundle("aetna", MISSING_CD22))["entry"][0]["resource"]
    parts = cr["item"][0]["adjudication"][0]["extension"][0]["extension"]
    codings = {p["valueCodeableConcept"]["coding"][-1]["code"]: p["valueCodeableConcept"]["coding"]
               for p in parts if p["url"] == "reasonCode"}
    assert codings["cd22-status"][0] == {"system": "https://codesystem.x12.org/external/886", "code": "C1"}
    assert codings["disease-status"][0]["code"] == "U9"  # an unknown answer, mapped by its kind
    assert all(c[-1]["system"] == "http://example.org/fhir/CodeSystem/pa-criteria" for c in codings.values())
    with pytest.raises(ValueError, match="X12_REASON_CODES"):
        Settings(x12_reason_codes='["C1"]')


@pytest.mark.parametrize("payer, operational", [("aetna", True), ("bcbsnc", True), ("bcbst", False), ("fepblue", False)])
def test_an_operational_period_is_said_to_be_the_payers_not_the_policys(api, payer, operational):
    """Issue 21: Aetna's and BCBSNC's texts state no period; the 6 months are the payer's operational default
    (DEFAULT_AUTH_MONTHS), and the approval says so. A period the policy states is not so worded."""
    cr = submit(api, request_bundle(payer, BASE))["entry"][0]["resource"]
    assert review_code(cr) == "A1"
    words = "the payer's operational default; the"
    assert (words in cr["disposition"]) is operational, cr["disposition"]
    if operational:
        name = get_policy(payer).payer_name
        assert f"(6 months: {words} {name} policy states no period)" in cr["disposition"]
        assert any(words in n["text"] and cr["preAuthPeriod"]["end"] in n["text"] for n in cr["processNote"])
        assert cr["item"][0]["noteNumber"]
    else:
        assert not any(words in n["text"] for n in cr.get("processNote", []))
