"""CRD order-sign and the other hooks: detection, payers, coverage-information, cards, errors."""
from __future__ import annotations

import pytest

from service.policies import canonical
from service.policies.registry import load_policies
from tests.crd.requests import (
    HCPCS,
    besponsa_request,
    chart,
    coverage_bundle,
    coverage_info,
    hook_request,
)

POLICIES = load_policies()
SIGN = "/cds-services/besponsa-order-sign"


def test_discovery_lists_every_crd_hook_with_prefetch_and_configuration(client):
    services = client.get("/cds-services").json()["services"]
    assert {s["hook"] for s in services} == {"order-sign", "order-select", "order-dispatch",
                                             "appointment-book", "encounter-start", "encounter-discharge"}
    for s in services:
        assert s["prefetch"]["coverage"] == \
            "Coverage?patient={{context.patientId}}&status=active&_include=Coverage:payor"
        assert s["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        options = s["extension"]["davinci-crd.configuration-options"]
        assert {o["code"] for o in options} == {"coverage-info", "guideline", "max-cards"}
        for o in options:  # CRD 2.1: code, type, name, description and a default of that type
            assert {"code", "type", "name", "description", "default"} <= set(o)
            assert isinstance(o["default"], {"boolean": bool, "integer": int}[o["type"]])
        assert client.post(f"/cds-services/{s['id']}", json={}).status_code == 400  # routed, validated


DETECTION = [
    ("hcpcs cms http", {"coding": [{"system": HCPCS, "code": "J9229"}]}),
    ("hcpcs cms https", {"coding": [{"system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "J9229"}]}),
    ("hcpcs bluebutton", {"coding": [{"system": "https://bluebutton.cms.gov/resources/codesystem/hcpcs", "code": "J9229"}]}),
    ("legacy c9028", {"coding": [{"system": HCPCS, "code": "C9028"}]}),
    ("ndc 10", {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "0008-0100-01"}]}),
    ("ndc 11", {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "00008-0100-01"}]}),
    ("text", {"text": "Inotuzumab ozogamicin 0.9 mg vial"}),
    ("display", {"coding": [{"system": "urn:local", "code": "x", "display": "BESPONSA"}]}),
]


@pytest.mark.parametrize("name,code", DETECTION, ids=[d[0] for d in DETECTION])
def test_each_detection_route_yields_one_update(client, name, code):
    body = client.post(SIGN, json=hook_request([besponsa_request(code)])).json()
    assert [a["type"] for a in body["systemActions"]] == ["update"]


def test_medication_reference_contained_and_in_draft_orders(client):
    med = {"resourceType": "Medication", "id": "med1", "code": {"coding": [{"system": HCPCS, "code": "J9229"}]}}
    contained = besponsa_request(rid="a")
    del contained["medicationCodeableConcept"]
    contained.update(contained=[med], medicationReference={"reference": "#med1"})
    sibling = besponsa_request(rid="b")
    del sibling["medicationCodeableConcept"]
    sibling["medicationReference"] = {"reference": "Medication/med1"}
    req = hook_request([contained, sibling])
    req["context"]["draftOrders"]["entry"].append({"resource": med})
    body = client.post(SIGN, json=req).json()
    assert sorted(a["resource"]["id"] for a in body["systemActions"]) == ["a", "b"]


def test_service_request_and_non_besponsa_orders(client):
    sr = {"resourceType": "ServiceRequest", "id": "sr1", "status": "draft", "intent": "order",
          "subject": {"reference": "Patient/p1"}, "code": {"coding": [{"system": HCPCS, "code": "J9229"}]}}
    other = besponsa_request({"coding": [{"system": HCPCS, "code": "J9035"}], "text": "bevacizumab"}, rid="other")
    body = client.post(SIGN, json=hook_request([sr, other])).json()
    assert [a["resource"]["id"] for a in body["systemActions"]] == ["sr1"]
    only_other = client.post(SIGN, json=hook_request([other])).json()
    assert only_other == {"cards": [], "systemActions": []}


@pytest.mark.parametrize("payer", sorted(POLICIES))
def test_each_payer_gets_its_questionnaire_and_policy(client, payer):
    body = client.post(SIGN, json=hook_request([besponsa_request()], payer=payer)).json()
    info = coverage_info(body["systemActions"][0])
    policy = POLICIES[payer]
    if info["covered"] == ["not-covered"]:
        pytest.fail(f"{payer}: chart unexpectedly rules the order out: {info.get('reason')}")
    assert info["covered"] == ["covered"] and info["pa-needed"] == ["auth-needed"]
    assert info["doc-needed"] == ["clinical"] and info["doc-purpose"] == ["withpa"]
    assert info["questionnaire"] == [canonical.questionnaire_canonical(policy)]
    assert info["billingCode"][0]["code"] == "J9229"
    assert info["coverage"] == [{"reference": "Coverage/cov1"}]
    assert "info-needed" not in info
    labels = {c["source"]["label"] for c in body["cards"]}
    assert labels == {policy.payer_name}
    links = [link["url"] for c in body["cards"] for link in c.get("links", [])]
    assert links == [f"http://testserver/policies/{payer}"]
    assert all(len(c["summary"]) < 140 and c["uuid"] for c in body["cards"])


def test_card_uuids_are_version_4_and_never_repeat(client):
    """CDS Hooks 2.0 card.uuid: feedback names cards by it, so no two cards may share one."""
    import uuid
    seen = []
    for _ in range(50):
        seen += [c["uuid"] for c in client.post(SIGN, json=hook_request([besponsa_request()])).json()["cards"]]
    parsed = [uuid.UUID(u) for u in seen]
    assert len(set(seen)) == len(seen) == 100
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 and str(u) == s for u, s in zip(parsed, seen, strict=True))


def test_payer_found_by_organization_name(client):
    req = hook_request([besponsa_request()], prefetch={"coverage": coverage_bundle("fepblue", by="name"), **chart()})
    info = coverage_info(client.post(SIGN, json=req).json()["systemActions"][0])
    assert info["questionnaire"] == [canonical.questionnaire_canonical(POLICIES["fepblue"])]


def test_assertion_id_is_stable_for_the_same_order_and_coverage(client):
    ids = {coverage_info(client.post(SIGN, json=hook_request([besponsa_request()])).json()["systemActions"][0])
           ["coverage-assertion-id"][0] for _ in range(2)}
    other = coverage_info(client.post(SIGN, json=hook_request([besponsa_request(rid="mr2")])).json()
                          ["systemActions"][0])["coverage-assertion-id"][0]
    assert len(ids) == 1 and other not in ids


def test_chart_ruling_out_aetna_under_18_is_not_covered_with_reason(client):
    req = hook_request([besponsa_request()], prefetch={"coverage": coverage_bundle("aetna"), **chart("2012-01-01")})
    body = client.post(SIGN, json=req).json()
    info = coverage_info(body["systemActions"][0])
    assert info["covered"] == ["not-covered"] and "pa-needed" not in info and "questionnaire" not in info
    assert [r["coding"][0]["code"] for r in info["reason"]] == ["age-years"]
    assert any(c["indicator"] == "warning" for c in body["cards"])


def test_aetna_lymphoma_is_experimental(client):
    req = hook_request([besponsa_request()], prefetch={"coverage": coverage_bundle("aetna"), **chart(dx="C83.30")})
    info = coverage_info(client.post(SIGN, json=req).json()["systemActions"][0])
    assert info["covered"] == ["not-covered"]
    assert "experimental" in info["reason"][0]["text"]


def test_chart_that_meets_everything_says_so(client):
    req = hook_request([besponsa_request()], payer="bcbsnc")
    body = client.post(SIGN, json=req).json()
    assert any("meets every criterion" in c["summary"] for c in body["cards"])


def test_inactive_coverage_is_not_covered(client):
    req = hook_request([besponsa_request()], prefetch={"coverage": coverage_bundle("aetna", "cancelled"), **chart()})
    info = coverage_info(client.post(SIGN, json=req).json()["systemActions"][0])
    assert info["covered"] == ["not-covered"]
    assert info["reason"][0]["coding"][0] == {"system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp",
                                              "code": "no-active-coverage", "display": "Coverage not active"}


def test_unknown_payer_is_400(client):
    req = hook_request([besponsa_request()], prefetch={"coverage": coverage_bundle("cigna"), **chart()})
    r = client.post(SIGN, json=req)
    assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome"


def test_missing_prefetch_without_fhir_server_is_412(client):
    req = hook_request([besponsa_request()], prefetch={})
    r = client.post(SIGN, json=req)
    assert r.status_code == 412 and "coverage" in r.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize("mutate,status", [
    (lambda b: b.pop("hookInstance"), 400),
    (lambda b: b.update(hook="order-select"), 400),
    (lambda b: b["context"].pop("patientId"), 400),
    (lambda b: b["context"].update(draftOrders=[1, 2]), 422),
    (lambda b: b.update(context="nope"), 400),
])
def test_malformed_requests(client, mutate, status):
    body = hook_request([besponsa_request()])
    mutate(body)
    r = client.post(SIGN, json=body)
    assert r.status_code == status and r.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("garbage", [b"", b"not json", b"[]", b"null", b'{"hook": 5}', b"\xff\xfe"])
def test_garbage_never_500_and_service_stays_healthy(client, garbage):
    r = client.post(SIGN, content=garbage, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500
    assert client.get("/healthz").status_code == 200


def test_secondary_hooks_never_ask_for_documentation(client):
    body = client.post("/cds-services/besponsa-order-select",
                       json=hook_request([besponsa_request()], hook="order-select")).json()
    info = coverage_info(body["systemActions"][0])
    assert info["pa-needed"] == ["auth-needed"]
    assert not {"doc-needed", "doc-purpose", "questionnaire"} & set(info)
    # The Instructions card (Inferno CRD: one on every hook) states the requirement, asks nothing.
    instructions = [c for c in body["cards"] if not c.get("links") and not c.get("suggestions")]
    assert [c["summary"] for c in instructions] == ["Besponsa needs prior authorization from Aetna"]
    assert "detail" not in instructions[0]


CONFIGURATIONS = [  # davinci-crd.configuration -> (system actions, card topics)
    ({}, 1, ["coverage-info", "guideline"]),
    ({"coverage-info": False}, 0, ["guideline"]),
    ({"guideline": False}, 1, ["coverage-info"]),
    ({"coverage-info": False, "guideline": False}, 0, []),
    ({"max-cards": 1}, 1, ["coverage-info"]),
    ({"max-cards": 0}, 1, []),
    ({"coverage-info": "no", "max-cards": True}, 1, ["coverage-info", "guideline"]),  # wrong types ignored
    ({"unknown-option": False}, 1, ["coverage-info", "guideline"]),
    ({"max-cards": -1}, 1, ["coverage-info", "guideline"]),  # no count of cards is negative: ignored
]


@pytest.mark.parametrize("config,actions,topics", CONFIGURATIONS)
def test_configuration_turns_parts_off(client, config, actions, topics):
    req = hook_request([besponsa_request()], extension={"davinci-crd.configuration": config})
    body = client.post(SIGN, json=req).json()
    assert len(body["systemActions"]) == actions
    assert [c["source"]["topic"]["code"] for c in body["cards"]] == topics


def test_feedback_is_stored(client):
    r = client.post("/cds-services/besponsa-order-sign/feedback",
                    json={"feedback": [{"card": "abc", "outcome": "accepted", "outcomeTimestamp": "2026-11-23T10:00:00Z"}]})
    assert r.json() == {"stored": 1}
    assert client.post("/cds-services/besponsa-order-sign/feedback", json={"feedback": [{}]}).status_code == 400


def test_every_call_is_audited_without_patient_ids(client):
    from sqlalchemy import select

    from service.storage.tables import HookCall
    client.post(SIGN, json=hook_request([besponsa_request()], payer="fepblue"))
    client.post(SIGN, content=b"garbage")
    client.app.state.crd.audit.close()
    with client.app.state.storage.sessions() as s:
        rows = s.execute(select(HookCall)).scalars().all()
    assert [(r.payer_id, r.orders_matched, r.status_code) for r in rows] == [("fepblue", 1, 200), (None, 0, 400)]
    assert "p1" not in repr([r.answer for r in rows])


def test_an_order_already_carrying_this_assertion_gets_no_update(client):
    """CRD 2.1 cards.md: payers SHALL NOT send a system action to update the order unless something is new."""
    first = client.post(SIGN, json=hook_request([besponsa_request()])).json()["systemActions"][0]["resource"]
    again = client.post(SIGN, json=hook_request([first])).json()
    assert again["systemActions"] == [] and again["cards"]  # the cards still say what to do
    changed = client.post(SIGN, json=hook_request([first], payer="bcbst")).json()["systemActions"]
    assert len(changed) == 1  # a different payer's assertion is new information
    exts = [e for e in changed[0]["resource"]["extension"] if e["url"].endswith("ext-coverage-information")]
    assert len(exts) == 1  # replaced, not appended


def test_appointment_book_is_a_primary_hook(client):
    """CRD 2.1: order-sign, order-dispatch and appointment-book are primary (they may ask for documentation)."""
    order = besponsa_request(rid="mr-appt", status="active")
    appt = {"resourceType": "Appointment", "id": "ap1", "status": "proposed",
            "basedOn": [{"reference": "MedicationRequest/mr-appt"}],
            "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}]}
    req = hook_request([], hook="appointment-book")
    req["context"] = {"userId": "PractitionerRole/pr1", "patientId": "p1",
                      "appointments": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": appt}]}}
    req["prefetch"]["medicationRequests"] = {"resourceType": "Bundle", "type": "searchset",
                                             "entry": [{"resource": order}]}
    body = client.post("/cds-services/besponsa-appointment-book", json=req).json()
    info = coverage_info(body["systemActions"][0])
    assert body["systemActions"][0]["resource"]["id"] == "mr-appt"
    assert info["doc-needed"] == ["clinical"] and info["questionnaire"]


@pytest.mark.parametrize("service,hook", [("besponsa-order-sign", "order-sign"),
                                          ("besponsa-order-select", "order-select")])
def test_system_actions_always_present_and_every_card_has_a_topic(client, service, hook):
    """Inferno CRD: systemActions on every response of these hooks; source.topic on every card."""
    other = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1049502"}]}
    for orders, prefetch in (([besponsa_request(code=other)], None),
                             ([besponsa_request()], {"coverage": {"resourceType": "Bundle", "type": "searchset",
                                                                  "entry": []}, **chart()})):
        req = hook_request(orders, hook=hook, prefetch=prefetch)
        body = client.post(f"/cds-services/{service}", json=req).json()
        assert body["systemActions"] == []  # other drug; or Besponsa without any Coverage to cite
        assert all(c["source"]["topic"]["code"] and c["uuid"] for c in body["cards"])
    assert body["cards"][0]["summary"] == "No active coverage was found for this patient"


def test_assertion_ids_differ_across_coverages_and_payers(client):
    """Inferno CRD: extensions for differing coverage carry distinct coverage-assertion-ids."""
    ids = set()
    for payer in sorted(POLICIES):
        cov = coverage_bundle(payer)
        cov["entry"][0]["resource"]["id"] = f"cov-{payer}"
        req = hook_request([besponsa_request()], prefetch={"coverage": cov, **chart()})
        ids.add(coverage_info(client.post(SIGN, json=req).json()["systemActions"][0])["coverage-assertion-id"][0])
    assert len(ids) == len(POLICIES)


def test_a_crash_inside_a_hook_is_a_500_outcome_and_the_service_keeps_serving(client, monkeypatch):
    import service.crd.routes as routes

    async def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(routes, "answer_hook", broken)
    r = client.post(SIGN, json=hook_request([besponsa_request()]))
    assert r.status_code == 500 and r.json()["issue"][0]["code"] == "exception"
    assert "boom" not in r.text  # internals stay in the log
    monkeypatch.undo()
    assert client.post(SIGN, json=hook_request([besponsa_request()])).status_code == 200


def test_the_router_route_and_the_fast_path_answer_alike(settings):
    """Without HookFastPath the same handler answers through FastAPI's router."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.crd.fastpath import HookFastPath
    app = create_app(settings)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not HookFastPath]
    with TestClient(app) as plain:
        body = plain.post(SIGN, json=hook_request([besponsa_request()])).json()
        assert coverage_info(body["systemActions"][0])["covered"] == ["covered"]
        assert plain.post(SIGN, content=b"nope").status_code == 400
