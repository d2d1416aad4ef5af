"""The Inferno PAS server suite's flows (inferno-framework/davinci-pas-test-kit, server/), restated with
the resources it sends: the PAS 2.2.1 IG's referral request rewritten to J9229, its four-step claim
update chain, the structure check of every response Bundle, and $inquire answering a pended request
with its current Task and CommunicationRequest. Real HTTP against a live server, SQLite and PostgreSQL."""
from __future__ import annotations

import copy
import uuid

import pytest

from tests.pas import structure
from tests.pas.test_ig_examples import action, as_besponsa, example

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition"
INFO_CHANGED, INFO_CANCELLED = f"{PAS}/extension-infoChanged", f"{PAS}/modifierextension-infoCancelled"
CERTIFICATION = f"{PAS}/extension-certificationType"
X12_1322 = "https://codesystem.x12.org/005010/1322"
DUE = "http://example.org/fhir/StructureDefinition/decision-due"
PRIOR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship", "code": "prior"}]}


def certification(code: str, display: str) -> dict:
    return {"url": CERTIFICATION, "valueCodeableConcept": {"coding": [{"system": X12_1322, "code": code,
                                                                         "display": display}]}}


def referral(tag: str) -> dict:
    """The IG's referral request as the kit sends it, made unique to one test (TRN, Claim id, member id)."""
    bundle = as_besponsa(example("ReferralAuthorizationBundleExample"))
    bundle["identifier"]["value"] = f"A12345-{tag}"
    claim = bundle["entry"][0]["resource"]
    claim["identifier"][0]["value"] = f"111099-{tag}"
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["identifier"][0]["value"] = f"MIN-{tag}"
    return bundle


def claim_of(bundle: dict) -> dict:
    return bundle["entry"][0]["resource"]


def update_of(prior: dict, claim_id: str, change) -> dict:
    """The next step of the chain as the kit builds it: a new Claim first (same TRN and Claim identifier),
    Claim.related.claim naming the Claim before it by fullUrl, that Claim included but not its own prior
    (spec-65, spec-66), every other resource as before."""
    bundle = copy.deepcopy(prior)
    before = copy.deepcopy(prior["entry"][0])
    claim = claim_of(bundle)
    claim["id"] = claim_id
    claim["related"] = [{"claim": {"reference": before["fullUrl"]}, "relationship": PRIOR}]
    for item in claim["item"]:  # only this step's changes are marked (spec-71)
        item["extension"] = [e for e in item.get("extension", []) if e["url"] != INFO_CHANGED]
    change(claim)
    bundle["entry"][0]["fullUrl"] = before["fullUrl"].rsplit("/", 1)[0] + f"/{claim_id}"
    others = [e for e in bundle["entry"][1:] if e["resource"]["resourceType"] != "Claim"]
    bundle["entry"] = [bundle["entry"][0], before, *others]
    return bundle


def add_item(claim: dict) -> None:
    item = copy.deepcopy(claim["item"][0])
    item["sequence"] = 2
    item["extension"] = [e for e in item["extension"] if e["url"] == CERTIFICATION] + [
        {"url": INFO_CHANGED, "valueCode": "added"}]
    claim["item"].append(item)


def modify_one_cancel_other(claim: dict) -> None:
    claim["item"][0]["quantity"] = {"value": 2, "unit": "visit"}
    claim["item"][0]["extension"].append({"url": INFO_CHANGED, "valueCode": "changed"})
    cancelled = claim["item"][1]
    cancelled["modifierExtension"] = [{"url": INFO_CANCELLED, "valueBoolean": True}]
    cancelled["extension"] = [e for e in cancelled["extension"] if e["url"] != CERTIFICATION] + [
        certification("3", "Cancel"), {"url": INFO_CHANGED, "valueCode": "changed"}]


def cancel_all(claim: dict) -> None:
    claim.setdefault("extension", []).append(certification("3", "Cancel"))


def kit_chain(tag: str, own_identifiers: bool = False) -> list[dict]:
    """Initial, add an item, modify one and cancel another, cancel the whole request (the kit's steps share
    one TRN and one Claim identifier; `own_identifiers` gives each Claim its own)."""
    steps = [referral(tag)]
    for n, (claim_id, change) in enumerate((("ReferralAuthorizationUpdate1", add_item),
                                            ("ReferralAuthorizationUpdate2", modify_one_cancel_other),
                                            ("ReferralAuthorizationUpdate3", cancel_all)), 1):
        steps.append(update_of(steps[-1], claim_id, change))
        if own_identifiers:
            claim_of(steps[-1])["identifier"][0]["value"] = f"111099-{tag}-{n}"
    return steps


def submit(http, bundle: dict) -> dict:
    r = http.post("/fhir/Claim/$submit", json=bundle)
    assert r.status_code == 200, r.text
    return r.json()


def notes_of(cr: dict, item: int) -> list[str]:
    notes = {n["number"]: n["text"] for n in cr.get("processNote", [])}
    return [notes[n] for n in cr["item"][item].get("noteNumber", [])]


def test_the_four_step_update_chain_is_one_claim_response(http):
    """Each step names the Claim before it; all four answer as versions 1-4 of one ClaimResponse with
    one number, items echoed and answered (spec-34, spec-46), cancelled ones said to be cancelled."""
    answers = [submit(http, step)["entry"][0]["resource"] for step in kit_chain(uuid.uuid4().hex[:8])]
    assert len({cr["id"] for cr in answers}) == 1
    assert [cr["meta"]["versionId"] for cr in answers] == ["1", "2", "3", "4"]
    assert len({cr["identifier"][0]["value"] for cr in answers}) == 1
    assert [[i["itemSequence"] for i in cr["item"]] for cr in answers] == [[1], [1, 2], [1, 2], [1, 2]]
    assert [action(answers[1], n) for n in (0, 1)] == ["A4", "A4"]  # no clinical facts sent: pended
    assert action(answers[2], 0) == "A4" and action(answers[2], 1) is None
    assert any("Item 2 cancelled" in t for t in notes_of(answers[2], 1))
    last = answers[3]
    assert [action(last, n) for n in (0, 1)] == [None, None] and "preAuthPeriod" not in last
    assert last["disposition"].startswith("Cancelled") and "communicationRequest" not in last
    assert any("whole request was cancelled" in t for t in notes_of(last, 0))


def by_identifier_only(step: dict) -> dict:
    """The step naming the Claim before it by that Claim's identifier, not carrying it."""
    out = copy.deepcopy(step)
    prior = out["entry"].pop(1)["resource"]
    claim_of(out)["related"] = [{"claim": {"identifier": prior["identifier"][0]}, "relationship": PRIOR}]
    return out


def test_an_update_may_name_any_earlier_claim_by_its_own_identifier_or_reference(http):
    """The issue's 422: each step with its own Claim.identifier, named by it; then a Claim of the chain
    that is not the latest, by reference only."""
    tag = uuid.uuid4().hex[:8]
    steps = kit_chain(tag, own_identifiers=True)
    first = submit(http, steps[0])["entry"][0]["resource"]
    for n in (1, 2):
        cr = submit(http, by_identifier_only(steps[n]))["entry"][0]["resource"]
        assert (cr["id"], cr["meta"]["versionId"]) == (first["id"], str(n + 1))
    again = update_of(steps[1], "ReferralAuthorizationUpdate9", lambda c: c["item"][0].update(
        quantity={"value": 3, "unit": "visit"}))
    again["entry"][1]["resource"].pop("identifier")  # Update1, known only by where it was sent from
    cr = submit(http, again)["entry"][0]["resource"]
    assert (cr["id"], cr["meta"]["versionId"]) == (first["id"], "4")


def test_a_retried_update_replays_and_one_naming_nothing_sent_is_refused(http):
    steps = kit_chain(uuid.uuid4().hex[:8])
    submit(http, steps[0])
    second = submit(http, steps[1])["entry"][0]["resource"]
    assert submit(http, steps[1])["entry"][0]["resource"] == second  # same TRN, same content: a retry
    stray = by_identifier_only(steps[1])
    claim_of(stray)["related"][0]["claim"]["identifier"]["value"] = "never-sent"
    r = http.post("/fhir/Claim/$submit", json=stray)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Claim.related.claim.identifier"]


@pytest.fixture(params=["sqlite", "postgresql"])
def own_storage(request, tmp_path):
    """A storage of this test's own (a throwaway PostgreSQL database: the servers' tables stay untouched)."""
    from service.config import Settings
    from service.storage import open_storage
    from tests.support.databases import throwaway_database
    with throwaway_database() as url:
        if request.param == "postgresql" and not url:
            pytest.skip("TEST_DATABASE_URL not set (no PostgreSQL reachable)")
        storage = open_storage(Settings(data_dir=tmp_path / "repo", database_url=url if request.param == "postgresql"
                                        else None))
        storage.migrate()
        yield storage
        storage.close()


def test_a_chain_is_found_by_any_of_its_claims_only_by_its_owner(own_storage):
    """Storage: the first Claim by its claims row, later ones by the version each produced; owner-scoped."""
    from service.storage import claims as repo
    storage = own_storage
    rid, mark = uuid.uuid4().hex, uuid.uuid4().hex[:8]
    repo.save_submission(storage, claim={
        "id": f"c-{rid}", "idempotency_key": f"k-{rid}", "owner": "clinic-a", "payer_id": "aetna",
        "claim_identifier": f"sys|first-{mark}", "request_ref": f"Claim/first-{mark}", "request": {},
        "response_id": rid, "decision": "pend"}, questionnaire=None,
        response={"resource": {"request": {"reference": f"http://p.example/fhir/Claim/first-{mark}"}},
                  "decision": "pend", "review_code": "A4", "auth_number": "PA-1"})
    repo.add_review(storage, rid, "clinic-a", lambda cur: {
        "resource": {"request": {"reference": f"http://p.example/fhir/Claim/second-{mark}",
                                 "identifier": {"system": "sys", "value": f"second-{mark}"}}},
        "decision": "pend", "review_code": "A4", "auth_number": "PA-1"}, human=False)
    for how in ({"identifiers": [f"sys|first-{mark}"], "references": []},
                {"identifiers": [f"sys|second-{mark}"], "references": []},
                {"identifiers": [], "references": [f"http://p.example/fhir/Claim/first-{mark}"]},
                {"identifiers": [], "references": [f"http://p.example/fhir/Claim/second-{mark}"]}):
        assert repo.find_chain(storage, **how, owner="clinic-a").response.response_id == rid, how
        assert repo.find_chain(storage, **how, owner="clinic-b") is None, how
    assert repo.find_chain(storage, identifiers=[f"other|second-{mark}"], references=[], owner="clinic-a") is None


def test_a_whole_cancel_needs_no_items(http):
    """PAS 2.2.1: certificationType 3 in Claim.extension cancels it all; no items need be sent. The answer
    still reports every item of the request (spec-46), each cancelled."""
    steps = kit_chain(uuid.uuid4().hex[:8])
    first = submit(http, steps[0])["entry"][0]["resource"]
    submit(http, steps[1])
    cancel = steps[3]
    claim_of(cancel).pop("item")
    cancel["entry"] = [e for e in cancel["entry"] if e["resource"]["resourceType"] != "Claim" or e is cancel["entry"][0]]
    cancel["entry"].insert(1, copy.deepcopy(steps[1]["entry"][0]))
    claim_of(cancel)["related"][0]["claim"]["reference"] = steps[1]["entry"][0]["fullUrl"]
    cr = submit(http, cancel)["entry"][0]["resource"]
    assert (cr["id"], cr["meta"]["versionId"]) == (first["id"], "3")
    assert [i["itemSequence"] for i in cr["item"]] == [1, 2] and [action(cr, n) for n in (0, 1)] == [None, None]
    assert http.post("/fhir/Claim/$submit", json=update_of(steps[1], "Later", add_item)).status_code == 409
    without = copy.deepcopy(steps[0])
    claim_of(without).pop("item")  # a new request (no Claim.related) still needs its items
    r = http.post("/fhir/Claim/$submit", json=without)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Claim.item"]


def test_every_referenced_resource_is_in_the_response_exactly_once(http):
    """The kit's structure check for the pended use case (insurer Organization) and for the must-support
    example (an Endpoint the insurer names): each resource once, each reference resolving."""
    bundle = referral(uuid.uuid4().hex[:8])
    insurer = next(e for e in bundle["entry"] if e["fullUrl"].endswith("/Organization/InsurerExample"))
    insurer["resource"]["endpoint"] = [{"reference": "Endpoint/payer-pas"}]
    bundle["entry"].append({"fullUrl": "http://example.org/fhir/Endpoint/payer-pas", "resource": {
        "resourceType": "Endpoint", "id": "payer-pas", "status": "active",
        "connectionType": {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                           "code": "hl7-fhir-rest"},
        "payloadType": [{"text": "PAS"}], "address": "https://payer.example.org/fhir"}})
    body = submit(http, bundle)
    assert structure.structure_problems(body) == []
    urls = [e["fullUrl"] for e in body["entry"]]
    cr = body["entry"][0]["resource"]
    assert urls.count(insurer["fullUrl"]) == 1 and cr["insurer"] == {"reference": insurer["fullUrl"]}
    assert urls.count("http://example.org/fhir/Endpoint/payer-pas") == 1
    assert body["entry"][1]["resource"]["resourceType"] == "CommunicationRequest"  # ours, then the request's
    assert body["entry"][-1]["fullUrl"].startswith("http://example.org/fhir/")


def test_the_structure_check_finds_what_is_missing():
    """The helper itself: a reference naming no entry, and one two entries answer, both fail."""
    good = {"resourceType": "Bundle", "entry": [
        {"fullUrl": "http://a.example/fhir/ClaimResponse/1", "resource": {
            "resourceType": "ClaimResponse", "id": "1", "patient": {"reference": "http://p.example/fhir/Patient/p"},
            "request": {"reference": "Claim/not-here"}}},
        {"fullUrl": "http://p.example/fhir/Patient/p", "resource": {"resourceType": "Patient", "id": "p"}}]}
    assert structure.structure_problems(good) == []
    relative = copy.deepcopy(good)
    relative["entry"][0]["resource"]["patient"] = {"reference": "Patient/p"}  # resolves against neither base
    assert any("found 0" in p for p in structure.structure_problems(relative))
    twice = copy.deepcopy(good)
    twice["entry"].append(copy.deepcopy(good["entry"][1]))
    assert any("appears 2 times" in p for p in structure.structure_problems(twice))


def test_inquire_returns_the_pended_requests_task_and_communication_request(http):
    """$inquire on a pended request answers with its current Task and CommunicationRequest as $submit
    did, the Task naming requester and owner by identifier and its due time (PAS profile-task)."""
    tag = uuid.uuid4().hex[:8]
    submitted = submit(http, referral(tag))
    inquiry = as_besponsa(example("PASClaimInquiryBundleExample"))
    claim_of(inquiry)["identifier"][0]["value"] = f"111099-{tag}"
    patient = next(e["resource"] for e in inquiry["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["identifier"][0]["value"] = f"MIN-{tag}"
    r = http.post("/fhir/Claim/$inquire", json=inquiry)
    assert r.status_code == 200, r.text
    [found] = [p["resource"] for p in r.json()["parameter"] if p["name"] == "return"]
    kinds = {e["resource"]["resourceType"]: e["resource"] for e in found["entry"]}
    sent = {e["resource"]["resourceType"]: e["resource"] for e in submitted["entry"]}
    cr, task, request = kinds["ClaimResponse"], kinds["Task"], kinds["CommunicationRequest"]
    assert cr["id"] == sent["ClaimResponse"]["id"] and cr["meta"]["profile"] == [f"{PAS}/profile-claiminquiryresponse"]
    assert task == sent["Task"] and request == sent["CommunicationRequest"]
    assert request["medium"][0]["coding"][0] == {"system": "https://codesystem.x12.org/005010/756", "code": "EL",
                                                 "display": "Electronically Only"}
    assert task["statusReason"]["text"]
    assert task["requester"] == {"identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": "8189991234"}}
    assert task["owner"] == {"identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}}
    due = next(e["valueDateTime"] for e in cr["extension"] if e["url"] == DUE)
    assert task["restriction"]["period"] == {"start": cr["created"], "end": due}
    assert task["reasonReference"] == {"identifier": claim_of(referral(tag))["identifier"][0]}


@pytest.mark.node
def test_the_kit_flows_answers_are_valid_against_pas(http):
    from tests.support import fhir_validate
    if not fhir_validate.available():
        pytest.skip("node tools not installed (npm ci --prefix tools/node)")
    items = []
    for step in kit_chain(uuid.uuid4().hex[:8]):
        body = submit(http, step)
        items.append((body, f"{PAS}/profile-pas-response-bundle"))
        items += [(e["resource"], (e["resource"].get("meta", {}).get("profile") or [None])[0]) for e in body["entry"]]
    problems = fhir_validate.validate(items)
    known = ("Bundle.entry",)  # medplum: Bundle.entry slices by resource type (README: known false positive)
    real = [(i[0].get("resourceType"), p) for i, issues in zip(items, problems, strict=True) for p in issues
            if not p.get("expression", "").startswith(known)]
    assert real == []
