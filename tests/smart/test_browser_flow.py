"""The whole SMART flow in headless Chromium: launch, prefilled form, answer, save, submit, result."""
from __future__ import annotations

import pytest

from tests.pas.server import running_server
from tests.smart.mock_ehr import chart_for, running_ehr
from tests.support.browser import BROWSER_TESTS, launch_chromium, save_screenshot

pytestmark = BROWSER_TESTS
ORIGIN = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("smart") / "data", None, SESSION_SECRET="test-secret") as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b


def field(page, concept: str, depth: str = "/1"):
    return page.locator(f'[id="{concept}{depth}"]')


def origins(qr: dict) -> dict:
    out = {}
    def walk(items):
        for item in items:
            for answer in item.get("answer", []):
                ext = next(e for e in answer["extension"] if e["url"] == ORIGIN)
                out[item["linkId"]] = ext["extension"][0]["valueCode"]
            walk(item.get("item", []))
    walk(qr["item"])
    return out


def launch(page, app, ehr):
    page.goto(f"{app.url}/smart/launch?iss={ehr.url}&launch=xyz")
    page.wait_for_url("**/smart/form")
    page.locator("#form-container input").first.wait_for()


def save_and_submit(page, ehr):
    page.click("#save")
    page.locator("#status", has_text="Saved").wait_for()
    first = ehr.saved[-1]
    page.click("#submit")
    page.wait_for_url("**/smart/result")
    return first


def test_aetna_flow_prefill_override_save_submit_approved(app, browser):
    with running_ehr(chart_for("aetna"), ["Coverage/cov1", "MedicationRequest/mr1"]) as ehr:
        page = browser.new_page()
        launch(page, app, ehr)
        assert field(page, "age-years").input_value() == "51"
        assert field(page, "diagnosis").input_value().startswith("B-cell precursor")
        assert page.get_by_text("From chart").count() >= 6
        field(page, "cd22-percent").fill("70")  # the clinician corrects a chart value
        field(page, "cd22-percent").press("Tab")
        save_screenshot(page, "smart-aetna-form.png")
        method, saved = save_and_submit(page, ehr)
        assert method == "POST" and saved["status"] == "in-progress"
        assert origins(saved)["age-years"] == "auto" and origins(saved)["cd22-percent"] == "override"
        assert ehr.saved[-1][0] == "PUT" and ehr.saved[-1][1]["status"] == "completed"
        assert page.locator("h1#decision").inner_text() == "Approved"
        assert page.locator("#auth-number").inner_text().strip()
        save_screenshot(page, "smart-aetna-result.png")


def test_fep_flow_answers_the_rest_by_keyboard_and_mouse(app, browser):
    with running_ehr(chart_for("fepblue"), ["Coverage/cov1", "MedicationRequest/mr1"]) as ehr:
        page = browser.new_page()
        launch(page, app, ehr)
        choice = field(page, "request-type")
        choice.click()
        choice.press_sequentially("Initial")
        page.get_by_role("option", name="Initial authorization").or_(
            page.locator("#completionOptions li", has_text="Initial authorization")).first.click()
        assert choice.input_value() == "Initial authorization"
        for concept in ("attest-liver-tests", "attest-vod-monitoring", "attest-no-alkylating-conditioning"):
            page.locator(f'[id="{concept}/1/1|true"]').click()
        method, saved = save_and_submit(page, ehr)
        assert origins(saved)["request-type"] == "manual" and origins(saved)["diagnosis"] == "auto"
        assert all(v == "manual" for k, v in origins(saved).items() if k.startswith("attest-"))
        assert page.locator("h1#decision").inner_text() == "Approved"
        save_screenshot(page, "smart-fepblue-result.png")


def test_keyboard_reaches_inputs_and_buttons_and_every_input_is_labelled(app, browser):
    with running_ehr(chart_for("bcbst"), ["Coverage/cov1", "MedicationRequest/mr1"]) as ehr:
        page = browser.new_page()
        launch(page, app, ehr)
        unlabelled = page.evaluate("""() => [...document.querySelectorAll('#form-container input')]
            .filter(i => i.type !== 'hidden' && i.offsetParent !== null)
            .filter(i => !(i.getAttribute('aria-label') || i.getAttribute('aria-labelledby')
                           || (i.id && document.querySelector(`label[for="${CSS.escape(i.id)}"]`))
                           || i.closest('label')))
            .map(i => i.id || i.outerHTML.slice(0, 80))""")
        assert unlabelled == []
        reached = set()
        for _ in range(80):
            page.keyboard.press("Tab")
            reached.add(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
            if "save" in reached and "submit" in reached:
                break
        assert {"save", "submit"} <= reached and any(r.endswith("/1") for r in reached)
        csrf_less = page.evaluate("""async () => (await fetch('/smart/save', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: '{}'})).status""")
        assert csrf_less == 403


def test_resume_an_in_progress_response_from_fhir_context(app, browser):
    from tests.smart.mock_ehr import running_ehr
    saved = {"resourceType": "QuestionnaireResponse", "id": "qr-old", "status": "in-progress",
             "item": [{"linkId": "request-type", "answer": [{"valueCoding": {
                 "system": "http://example.org/fhir/CodeSystem/pa-criteria", "code": "continuation"}}]}]}
    with running_ehr(chart_for("nanthealth", saved), ["Coverage/cov1", "QuestionnaireResponse/qr-old"]) as ehr:
        page = browser.new_page()
        launch(page, app, ehr)
        assert field(page, "request-type").input_value() == "Continuation (renewal)"
        page.click("#save")
        page.locator("#status", has_text="Saved").wait_for()
        method, qr = ehr.saved[-1]
        assert method == "PUT" and qr["id"] == "qr-old"


def test_launch_without_patient_context_gets_a_clear_page(app, browser):
    from tests.smart.mock_ehr import running_ehr
    with running_ehr(chart_for("aetna"), []) as ehr:
        ehr.no_patient = True
        page = browser.new_page()
        page.goto(f"{app.url}/smart/launch?iss={ehr.url}&launch=xyz")
        page.wait_for_url("**/smart/form")
        assert "without a patient" in page.locator("main").inner_text()


def young_aetna_chart() -> list[dict]:
    """A 16-year-old: Aetna covers Besponsa for adults (18 or older) only."""
    resources = chart_for("aetna")
    return [{**r, "birthDate": "2010-05-01"} if r["resourceType"] == "Patient" else r for r in resources]


def test_a_denial_page_names_each_reason_in_the_policys_words(app, browser):
    with running_ehr(young_aetna_chart(), ["Coverage/cov1", "MedicationRequest/mr1"]) as ehr:
        page = browser.new_page()
        launch(page, app, ehr)
        save_and_submit(page, ehr)
        assert page.locator("h1#decision").inner_text() == "Denied"
        reasons = page.locator("ul.reasons li").all_inner_texts()
        assert any("age" in r.lower() and "18 years of age or older" in r for r in reasons), reasons
        assert page.get_by_role("link", name="Aetna policy").get_attribute("href") == "/policies/aetna"
        save_screenshot(page, "smart-aetna-denied.png")


@pytest.fixture(scope="module")
def reviewing_app(tmp_path_factory):
    """A payer that routes every would-be denial to a clinician (DENY_REQUIRES_REVIEW)."""
    with running_server(tmp_path_factory.mktemp("smart-review") / "data", None, SESSION_SECRET="test-secret",
                        DENY_REQUIRES_REVIEW="true") as server:
        yield server


def test_a_pended_page_says_what_happens_next_and_why(reviewing_app, browser):
    with running_ehr(young_aetna_chart(), ["Coverage/cov1", "MedicationRequest/mr1"]) as ehr:
        page = browser.new_page()
        launch(page, reviewing_app, ehr)
        save_and_submit(page, ehr)
        assert page.locator("h1#decision").inner_text() == "Pended for review"
        assert "You will be notified" in page.locator("section.result").inner_text()
        assert "a denial needs a clinician's signature" in page.locator("p.disposition").inner_text()
        assert any("18 years of age or older" in r for r in page.locator("ul.reasons li").all_inner_texts())
        save_screenshot(page, "smart-aetna-pended.png")
