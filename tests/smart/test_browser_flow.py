"""The whole SMART flow in headless Chromium: launch, banner, prefilled form with provenance beside each
answer, override, autosave and resume, submit, result; axe-core on every page at desktop and phone widths."""
from __future__ import annotations

import pytest

from tests.pas.server import running_server
from tests.smart.axe import assert_accessible
from tests.smart.flows import CONTACTS, CONTEXT, answers, field, launch, submit, wait_saved
from tests.support.browser import BROWSER_TESTS, save_screenshot
from tests.support.ehr import chart_for, running_ehr

pytestmark = BROWSER_TESTS


def test_banner_provenance_override_autosave_and_approval(app, browser):
    with running_ehr(chart_for("aetna"), CONTEXT) as ehr:
        page = browser.new_page()
        launch(page, app, ehr)
        banner = page.locator("section.context").inner_text()
        for fact in ("Dana Whitfield", "1975-04-02", "MRN-40417", "J9229", "0.8 mg/m2", "Aetna", "W123456789"):
            assert fact in banner, (fact, banner)
        assert field(page, "age-years").input_value() == "51"
        # Provenance sits beside the answer; the question text stays the question.
        assert page.locator("#mark-cd22-percent").inner_text() == "From chart: CD22 result 2026-10-01"
        assert page.locator('[id="label-cd22-percent/1"]').inner_text().strip().startswith("Percent of blasts")
        assert "From chart" not in page.locator("#form-container label").all_inner_texts().__str__()
        page.click("#mark-cd22-percent")  # opens the chart entry it came from
        assert "64.0 %" in page.locator("#evidence-cd22-percent").inner_text()
        assert page.locator("#mark-cd22-percent").get_attribute("aria-expanded") == "true"
        assert page.locator("#progress").inner_text() == "6 of 6 required questions answered"
        assert_accessible(page, "the Aetna form")
        field(page, "cd22-percent").fill("70")  # the clinician corrects a chart value
        field(page, "cd22-percent").press("Tab")
        page.locator("#mark-cd22-percent", has_text="Changed by you").wait_for()
        assert page.locator("#mark-age-years").inner_text().startswith("From chart: birth date")
        wait_saved(page)  # autosave, no button pressed
        method, draft = ehr.saved[0]
        assert method == "POST" and draft["status"] == "in-progress"
        got = answers(draft)
        assert got["cd22-percent"][:2] == (70, "override") and got["cd22-percent"][3] == "Practitioner/dr1"
        assert got["age-years"] == (51, "auto", "Patient/p1", None)
        save_screenshot(page, "smart-form.png")
        page.set_viewport_size({"width": 390, "height": 900})
        save_screenshot(page, "smart-form-phone.png")
        page.set_viewport_size({"width": 1366, "height": 900})
        submit(page)
        method, final = ehr.saved[-1]
        assert method == "PUT" and final["status"] == "completed" and final["id"] == draft["id"]
        assert page.locator("h1#decision").inner_text() == "Approved"
        assert page.locator("#auth-number").inner_text().strip()
        assert page.locator("#contact").count() == 0  # nothing to appeal
        assert_accessible(page, "the approval page")
        save_screenshot(page, "smart-aetna-result.png")


def test_a_new_launch_resumes_the_autosaved_draft(app, browser):
    with running_ehr(chart_for("aetna"), CONTEXT) as ehr:
        page = browser.new_page()
        launch(page, app, ehr)
        field(page, "cd22-percent").fill("71")
        field(page, "cd22-percent").press("Tab")
        wait_saved(page)
        saved_id = ehr.saved[-1][1]["id"]
        stamp = page.locator("#status").inner_text()[-5:]
        later = browser.new_page()  # the next day, from the chart again: no response named in context
        launch(later, app, ehr)
        assert field(later, "cd22-percent").input_value() == "71"
        assert later.locator("#mark-cd22-percent").inner_text() == f"From your saved draft ({stamp})"
        assert later.locator("#status").inner_text() == f"Resumed your draft saved at {stamp}"
        field(later, "cd22-percent").fill("72")
        field(later, "cd22-percent").press("Tab")
        later.locator("#mark-cd22-percent", has_text="Changed by you").wait_for()
        later.click("#save")
        wait_saved(later)
        method, qr = ehr.saved[-1]
        assert method == "PUT" and qr["id"] == saved_id and answers(qr)["cd22-percent"][:2] == (72, "override")


def test_fep_flow_answers_the_rest_by_keyboard_and_mouse(app, browser):
    from tests.smart.flows import choose
    with running_ehr(chart_for("fepblue"), CONTEXT) as ehr:
        page = browser.new_page()
        launch(page, app, ehr)
        choose(page, "request-type", "Initial authorization")
        for concept in ("attest-liver-tests", "attest-vod-monitoring", "attest-no-alkylating-conditioning"):
            page.locator(f'[id="{concept}/1/1|true"]').click()
        page.locator("#progress", has_text="8 of 8").wait_for()
        submit(page)
        got = answers(ehr.saved[-1][1])
        assert got["request-type"][1] == "manual" and got["diagnosis"][1] == "auto"
        assert all(v[1] == "manual" for k, v in got.items() if k.startswith("attest-"))
        assert page.locator("h1#decision").inner_text() == "Approved"
        save_screenshot(page, "smart-fepblue-result.png")


def test_keyboard_reaches_inputs_and_buttons_with_visible_focus_and_every_input_is_labelled(app, browser):
    with running_ehr(chart_for("bcbst"), CONTEXT) as ehr:
        page = browser.new_page()
        launch(page, app, ehr)
        unlabelled = page.evaluate("""() => [...document.querySelectorAll('#form-container input')]
            .filter(i => i.type !== 'hidden' && i.offsetParent !== null)
            .filter(i => !(i.getAttribute('aria-label') || i.getAttribute('aria-labelledby')
                           || (i.id && document.querySelector(`label[for="${CSS.escape(i.id)}"]`))
                           || i.closest('label')))
            .map(i => i.id || i.outerHTML.slice(0, 80))""")
        assert unlabelled == []
        reached, unfocused = set(), []
        for _ in range(80):
            page.keyboard.press("Tab")
            here = page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
                return [e.id || e.tagName, s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2
                        || s.boxShadow !== 'none'] }""")
            reached.add(here[0])
            if not here[1]:
                unfocused.append(here[0])
            if "save" in reached and "submit" in reached:
                break
        assert {"save", "submit"} <= reached and any(r.endswith("/1") for r in reached)
        assert unfocused == [], f"no visible focus on {unfocused}"
        csrf_less = page.evaluate("""async () => (await fetch('/smart/save', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: '{}'})).status""")
        assert csrf_less == 403


def test_resume_an_in_progress_response_from_fhir_context(app, browser):
    saved = {"resourceType": "QuestionnaireResponse", "id": "qr-old", "status": "in-progress",
             "authored": "2026-11-30T09:41:00+00:00",
             "item": [{"linkId": "request-type", "answer": [{"valueCoding": {
                 "system": "http://example.org/fhir/CodeSystem/pa-criteria", "code": "continuation"}}]}]}
    with running_ehr(chart_for("nanthealth", saved), ["Coverage/cov1", "QuestionnaireResponse/qr-old"]) as ehr:
        page = browser.new_page()
        launch(page, app, ehr)
        assert field(page, "request-type").input_value() == "Continuation (renewal)"
        assert page.locator("#mark-request-type").inner_text().startswith("From your saved draft (")
        # A renewal hides the initial-only questions: their chart answers are neither shown nor marked.
        assert page.locator("#mark-diagnosis").count() == 0 and page.locator("#mark-age-years").count() == 0
        page.click("#save")
        wait_saved(page)
        method, qr = ehr.saved[-1]
        assert method == "PUT" and qr["id"] == "qr-old"


def test_launch_without_patient_context_gets_a_clear_page(app, browser):
    with running_ehr(chart_for("aetna"), []) as ehr:
        ehr.no_patient = True
        page = browser.new_page()
        page.goto(f"{app.url}/smart/launch?iss={ehr.url}&launch=xyz")
        page.wait_for_url("**/smart/form")
        assert "without a patient" in page.locator("main").inner_text()
        assert_accessible(page, "the problem page")


def young_aetna_chart() -> list[dict]:
    """A 16-year-old: Aetna covers Besponsa for adults (18 or older) only."""
    resources = chart_for("aetna")
    return [{**r, "birthDate": "2010-05-01"} if r["resourceType"] == "Patient" else r for r in resources]


def test_a_denial_page_names_each_reason_in_the_policys_words_and_whom_to_ask(app, browser):
    with running_ehr(young_aetna_chart(), CONTEXT) as ehr:
        page = browser.new_page()
        launch(page, app, ehr)
        submit(page)
        assert page.locator("h1#decision").inner_text() == "Denied"
        reasons = page.locator("ul.reasons li").all_inner_texts()
        assert any("age" in r.lower() and "18 years of age or older" in r for r in reasons), reasons
        assert not any("(age-years)" in r or " > " in r for r in reasons), reasons  # no codes, no tree paths
        assert page.locator("#contact").inner_text() == "Payer provider services, 1-800-555-0100"
        assert page.get_by_role("link", name="Aetna policy").get_attribute("href") == "/policies/aetna"
        assert_accessible(page, "the denial page")
        save_screenshot(page, "smart-aetna-denied.png")


@pytest.fixture(scope="module")
def reviewing_app(tmp_path_factory):
    """A payer that routes every would-be denial to a clinician (DENY_REQUIRES_REVIEW)."""
    with running_server(tmp_path_factory.mktemp("smart-review") / "data", None, SESSION_SECRET="test-secret",
                        DENY_REQUIRES_REVIEW="true", PAYER_CONTACTS=CONTACTS) as server:
        yield server


def test_a_pended_page_says_what_happens_next_and_why(reviewing_app, browser):
    with running_ehr(young_aetna_chart(), CONTEXT) as ehr:
        page = browser.new_page()
        launch(page, reviewing_app, ehr)
        submit(page)
        assert page.locator("h1#decision").inner_text() == "Pended for review"
        assert "You will be notified" in page.locator("section.result").inner_text()
        assert "a denial needs a clinician's signature" in page.locator("p.disposition").inner_text()
        reasons = page.locator("ul.reasons li").all_inner_texts()
        assert any("18 years of age or older" in r and "clinician reviews it" in r for r in reasons), reasons
        assert page.locator("a.answer-now").count() == 0  # answered already: nothing to answer now
        assert page.locator("#due").inner_text().endswith("UTC")
        assert page.locator("#contact").inner_text() == "Payer provider services, 1-800-555-0100"
        page.click("#check-again")  # PAS $inquire: no Subscription needed
        page.locator("#checked").wait_for()
        assert page.locator("#checked").inner_text().endswith(": pended.")
        assert page.locator("h1#decision").inner_text() == "Pended for review"
        assert_accessible(page, "the pended page")
        save_screenshot(page, "smart-aetna-pended.png")
