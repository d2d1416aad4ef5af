"""End to end against a real FHIR R4 server (Medplum's FhirRouter, tests/support/medplum.py) over loopback
HTTP: CRD fetching what was not prefetched, $populate reading the chart with SDC launch context, the SMART
app's chart reads and QuestionnaireResponse saves, and publishing the DTR artifacts. Only the SMART
authorization endpoints are faked (the server has no OAuth)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.dtr.publish import build_transaction
from service.fhir.chart import CHART_QUERIES
from tests.crd.requests import coverage_info, hook_request
from tests.fixtures.charts import bundle
from tests.pas.server import running_server
from tests.support import medplum as support
from tests.support.medplum import PAYERS, TOKEN, Medplum, PatientChart

medplum = support.medplum  # the module-scoped fixture: the server with every test patient's chart
ROOT = Path(__file__).resolve().parents[1]
# Where each resource type goes in CRD's prefetch (the keys of service/fhir/chart.py CHART_QUERIES).
PREFETCH_KEY = {"Patient": "patient", "Coverage": "coverage", "Organization": "coverage",
                "PractitionerRole": "practitionerRole", "Condition": "conditions", "Observation": "observations",
                "MedicationStatement": "medicationStatements", "MedicationRequest": "medicationRequests",
                "MedicationAdministration": "medicationAdministrations", "MedicationDispense": "medicationDispenses"}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("medplum-e2e") / "data", None) as s:
        yield s


def all_pairs(medplum: Medplum) -> list[PatientChart]:
    """Every test patient with every payer (60)."""
    assert len(medplum.charts) == len(support.CASES) * len(PAYERS) == 60
    return medplum.charts


def prefetch_of(chart: PatientChart) -> dict:
    """The chart as an EHR would prefetch it for our templates: Patient, then a searchset per key."""
    out: dict = {q.key: {"resourceType": "Bundle", "type": "searchset", "entry": []} for q in CHART_QUERIES}
    for r in chart.resources:
        key = PREFETCH_KEY.get(r["resourceType"])
        if key == "patient":
            out[key] = r
        elif key:
            out[key]["entry"].append({"resource": r})
    return out


def order_sign(chart: PatientChart, **overrides) -> dict:
    order = next(r for r in chart.resources if r["resourceType"] == "MedicationRequest")
    req = hook_request([order], **overrides)
    req["context"].update(patientId=chart.ref("Patient").split("/")[1], userId=f"PractitionerRole/{chart.key}-pr1")
    return req


UUID = re.compile(r"(urn:uuid:)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def without_ids(value):
    """An answer with what differs call to call (generated uuids, timestamps) taken out; chart ids stay."""
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in value.items() if k not in ("authored", "timestamp")
                and not (isinstance(v, str) and UUID.fullmatch(v))}
    return [without_ids(v) for v in value] if isinstance(value, list) else value


def test_order_sign_fetching_from_the_server_answers_as_with_the_chart_prefetched(medplum, service):
    """Every patient x payer: no prefetch + fhirServer (the real server's searches, _include) == prefetch."""
    covered = set()
    for chart in all_pairs(medplum):
        fetched = httpx.post(f"{service.url}/cds-services/besponsa-order-sign", timeout=30, json=order_sign(
            chart, prefetch={}, fhirServer=medplum.base,
            fhirAuthorization={"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                               "scope": "patient/*.read", "subject": "crd"}))
        given = httpx.post(f"{service.url}/cds-services/besponsa-order-sign", timeout=30,
                           json=order_sign(chart, prefetch=prefetch_of(chart)))
        assert fetched.status_code == given.status_code == 200, (chart.key, fetched.text, given.text)
        assert without_ids(fetched.json()) == without_ids(given.json()), chart.key
        covered |= {tuple(coverage_info(a)["covered"]) for a in fetched.json()["systemActions"]}
    assert len(covered) > 1, covered  # the charts lead to different answers, so equality says something


def test_order_sign_with_a_wrong_token_at_the_server_is_a_412(medplum, service):
    chart = medplum.chart("adult", "aetna")
    r = httpx.post(f"{service.url}/cds-services/besponsa-order-sign", timeout=30, json=order_sign(
        chart, prefetch={}, fhirServer=medplum.base, fhirAuthorization={"access_token": "wrong", "token_type": "Bearer"}))
    assert r.status_code == 412 and "401" in r.json()["issue"][0]["diagnostics"]


def launch_context(chart: PatientChart, user: str | None) -> list[dict]:
    """SDC $populate `context` parts, as a native EHR's DTR client sends them: the user and the order."""
    parts = [("order", chart.ref("MedicationRequest"))] + ([("user", user)] if user else [])
    return [{"name": "context", "part": [{"name": "name", "valueString": name},
                                         {"name": "content", "valueReference": {"reference": ref}}]}
            for name, ref in parts]


def populate(service, chart: PatientChart, *params: dict) -> dict:
    r = httpx.post(f"{service.url}/fhir/Questionnaire/besponsa-{chart.payer}/$populate", timeout=30, json={
        "resourceType": "Parameters",
        "parameter": [{"name": "subject", "valueReference": {"reference": chart.ref("Patient")}}, *params]})
    assert r.status_code == 200, (chart.key, r.text)
    [response] = [p["resource"] for p in r.json()["parameter"] if p["name"] == "response"]
    return response


def answers(qr: dict) -> dict:
    out = {}

    def walk(items):
        for item in items:
            for a in item.get("answer", []):
                value = next(v for k, v in a.items() if k.startswith("value"))
                out[item["linkId"]] = value.get("code") if isinstance(value, dict) else value
            walk(item.get("item", []))
    walk(qr.get("item", []))
    return out


def from_server(chart: PatientChart, user: str | None) -> list[dict]:
    return [{"name": "fhirServer", "valueUrl": "SERVER"}, {"name": "fhirAuthorization", "valueString": TOKEN},
            *launch_context(chart, user)]


def with_base(params: list[dict], base: str) -> list[dict]:
    return [{**p, "valueUrl": base} if p.get("valueUrl") == "SERVER" else p for p in params]


@pytest.mark.parametrize("user_kind", ["PractitionerRole", "Practitioner"])
def test_populate_from_the_server_equals_populate_from_the_same_chart_as_content(medplum, service, user_kind):
    """Every payer, every patient: the user's role is found (PractitionerRole?_id=, or ?practitioner=)."""
    for chart in all_pairs(medplum):
        user = f"PractitionerRole/{chart.key}-pr1" if user_kind == "PractitionerRole" else chart.ref("Practitioner")
        fetched = populate(service, chart, *with_base(from_server(chart, user), medplum.base))
        given = populate(service, chart, {"name": "content", "resource": bundle(*chart.resources)})
        assert without_ids(fetched) == without_ids(given), chart.key
        if chart.payer == "nanthealth":
            # A role of another specialty is no "no": the question stays for the clinician, as without a role.
            expected = None if chart.case in ("not-oncologist", "no-role", "smart-no-role") else True
            assert answers(fetched).get("prescriber-oncologist") == expected, (chart.key, answers(fetched))


def test_populate_without_the_user_in_context_reads_no_role(medplum, service):
    """Why the launch context matters: the same call without `user` leaves the prescriber question open."""
    chart = medplum.chart("adult", "nanthealth")
    params = with_base(from_server(chart, None), medplum.base)
    assert "prescriber-oncologist" not in answers(populate(service, chart, *params))


def test_the_encounter_and_order_in_context_are_read_from_the_server(medplum, service):
    """Named in context, each is read by Type/id: present, the answers stand; absent, the EHR's 404 is said."""
    chart = medplum.chart("adult", "bcbst")
    encounter = {"resourceType": "Encounter", "id": f"{chart.key}-enc1", "status": "in-progress",
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                 "subject": {"reference": chart.ref("Patient")}}
    support.load(medplum.base, [encounter])
    params = with_base(from_server(chart, f"PractitionerRole/{chart.key}-pr1"), medplum.base)

    def context(name: str, ref: str) -> dict:
        return {"name": "context", "part": [{"name": "name", "valueString": name},
                                            {"name": "content", "valueReference": {"reference": ref}}]}
    given = populate(service, chart, {"name": "content", "resource": bundle(*chart.resources)})
    with_encounter = populate(service, chart, *params, context("encounter", f"Encounter/{encounter['id']}"))
    assert without_ids(with_encounter) == without_ids(given)
    for missing in (context("encounter", "Encounter/none"), context("order", "ServiceRequest/none")):
        r = httpx.post(f"{service.url}/fhir/Questionnaire/besponsa-bcbst/$populate", timeout=30, json={
            "resourceType": "Parameters", "parameter": [
                {"name": "subject", "valueReference": {"reference": chart.ref("Patient")}}, *params, missing]})
        assert r.status_code == 502 and "404" in r.json()["issue"][0]["diagnostics"], r.text


def test_a_chart_longer_than_a_page_is_read_to_its_last_page(medplum, service):
    """The server pages at 20 with a next link: the TKI on page 2 is found, as from the chart as content."""
    from tests.fixtures.charts import POS, medication_statement
    meds = [medication_statement("ondansetron", mid=f"m{n}") for n in range(2, 26)] + [medication_statement("dasatinib")]
    chart = PatientChart("many-meds", "aetna", support.scoped(support.crd_chart("aetna", *meds, ph_result=POS),
                                                              "many-meds-aetna"))
    support.load(medplum.base, chart.resources)
    first = medplum.get(f"MedicationStatement?patient={chart.ref('Patient').split('/')[1]}")
    assert len(first["entry"]) == 20 and any(link["relation"] == "next" for link in first["link"])
    assert not any("dasatinib" in json.dumps(e) for e in first["entry"])
    fetched = populate(service, chart, *with_base(from_server(chart, f"PractitionerRole/{chart.key}-pr1"), medplum.base))
    given = populate(service, chart, {"name": "content", "resource": bundle(*chart.resources)})
    assert without_ids(fetched) == without_ids(given) and "tki-failed" in answers(fetched), answers(fetched)


def test_a_launch_context_reference_that_is_no_fhir_id_is_a_422_naming_it(client):
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "subject", "valueReference": {"reference": "Patient/p1"}},
        {"name": "fhirServer", "valueUrl": "http://127.0.0.1:9"}, {"name": "fhirAuthorization", "valueString": "t"},
        {"name": "context", "part": [{"name": "name", "valueString": "user"},
                                     {"name": "content", "valueReference": {"reference": "PractitionerRole/x&_id=y"}}]}]}
    r = client.post("/fhir/Questionnaire/besponsa-nanthealth/$populate", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["issue"][0]["expression"] == ["Parameters.parameter[context][0].part[content].valueReference.reference"]
    body["parameter"][3]["part"][0]["valueString"] = "encounter"
    body["parameter"][3]["part"][1]["valueReference"]["reference"] = "Patient/p1"
    assert client.post("/fhir/Questionnaire/besponsa-nanthealth/$populate", json=body).status_code == 422


def open_form(client: TestClient, medplum: Medplum, settings) -> str:
    """EHR launch against the server (iss), authorize at the fake, call back, open the form page."""
    r = client.get(f"/smart/launch?iss={medplum.base}&launch=L1", follow_redirects=False)
    assert r.status_code == 302, r.text
    callback = medplum.auth.authorize(r.headers["location"]).removeprefix(settings.public_base_url)
    assert client.get(callback, follow_redirects=False).status_code == 303
    page = client.get("/smart/form")
    assert page.status_code == 200, page.text
    return page.text


def initial_answers(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="questionnaire">(.*?)</script>', page, re.S)
    assert found
    out = {}

    def walk(items):
        for item in items:
            for a in item.get("initial", []):
                value = next(v for k, v in a.items() if k.startswith("value"))
                out[item["linkId"]] = value.get("code") if isinstance(value, dict) else value
            walk(item.get("item", []))
    walk(json.loads(found.group(1))["item"])
    return out


def test_the_smart_app_reads_the_chart_and_saves_then_resumes_the_response(medplum, service, settings):
    chart = medplum.chart("smart", "nanthealth")
    pid = chart.ref("Patient").split("/")[1]
    medplum.auth.launch = {"patient": pid, "fhirUser": chart.ref("Practitioner"),
                           "fhirContext": [{"reference": chart.ref("Coverage")}, {"reference": chart.ref("MedicationRequest")}]}
    prefill = answers(populate(service, chart, {"name": "content", "resource": bundle(*chart.resources)}))
    with TestClient(create_app(settings)) as client:
        page = open_form(client, medplum, settings)
        assert "Dana Whitfield" in page and "MRN-40417" in page and "W123456789" in page  # banner, read at the server
        assert initial_answers(page) == prefill and prefill["prescriber-oncologist"] is True
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
        draft = populate(service, chart, {"name": "content", "resource": bundle(*chart.resources)})
        first = client.post("/smart/save", json=draft, headers={"x-csrf-token": csrf})
        assert first.status_code == 200, first.text
        saved_id = first.json()["saved"]
        again = client.post("/smart/save", json=draft, headers={"x-csrf-token": csrf})
        assert again.status_code == 200 and again.json()["saved"] == saved_id  # updated in place (PUT)
    stored = medplum.get(f"QuestionnaireResponse/{saved_id}")
    assert stored["status"] == "in-progress" and stored["subject"]["reference"] == f"Patient/{pid}"
    assert len(medplum.get(f"QuestionnaireResponse/{saved_id}/_history")["entry"]) == 2
    found = medplum.get(f"QuestionnaireResponse?patient={pid}&status=in-progress")["entry"]
    assert [e["resource"]["id"] for e in found] == [saved_id]
    with TestClient(create_app(settings)) as client:  # a new launch: the server's search finds the draft
        page = open_form(client, medplum, settings)
        assert re.search(r'data-saved-at="[^"]+"', page), "the draft saved at the server was not resumed"
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
        r = client.post("/smart/save", json=draft, headers={"x-csrf-token": csrf})
        assert r.status_code == 200 and r.json()["saved"] == saved_id  # resumed, not a second response
    assert len(medplum.get(f"QuestionnaireResponse/{saved_id}/_history")["entry"]) == 3

def without_meta(resource: dict) -> dict:
    """The content, less what the server assigns (id, meta.versionId, meta.lastUpdated)."""
    meta = {k: v for k, v in resource.get("meta", {}).items() if k not in ("versionId", "lastUpdated")}
    return {**{k: v for k, v in resource.items() if k not in ("id", "meta")}, **({"meta": meta} if meta else {})}


def publish(base: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service.dtr.publish", "--server", base, "--token", TOKEN],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_publish_then_republish_changes_nothing_and_finds_each_artifact_by_url_and_version(medplum):
    expected = [e["resource"] for e in build_transaction()["entry"]]
    first = publish(medplum.base)
    assert first.returncode == 0 and f"published {len(expected)} resources: 201" in first.stdout, first
    found = {}
    for resource in expected:
        kind, url, version = resource["resourceType"], resource["url"], resource["version"]
        matches = medplum.get(f"{kind}?url={url}&version={version}")["entry"]
        assert len(matches) == 1, (kind, url, version)
        stored = matches[0]["resource"]
        assert without_meta(stored) == without_meta(resource), (kind, url)
        found[(kind, url, version)] = stored["id"]
    second = publish(medplum.base)
    assert second.returncode == 0 and f"published {len(expected)} resources: 200" in second.stdout, second
    for (kind, url, _), rid in found.items():
        matches = medplum.get(f"{kind}?url={url}")["entry"]
        assert [m["resource"]["id"] for m in matches] == [rid]  # updated in place: no second copy, same id
