"""Required items before submit, and the pend loop: the missing facts in plain words, "answer now" reopening
the form on them, the answers sent as a PAS update of the same request, approved; axe-core on each page."""
from __future__ import annotations

import httpx

from tests.smart.axe import assert_accessible
from tests.smart.flows import CONTEXT, answers, choose, field, launch, submit, unfocused_stops
from tests.support.browser import BROWSER_TESTS, save_screenshot
from tests.support.ehr import chart_for, running_ehr

pytestmark = BROWSER_TESTS


def test_required_items_are_listed_with_links_and_nothing_is_sent(app, browser):
    with running_ehr(chart_for("bcbst"), CONTEXT) as ehr:
        page = browser.new_page()
        launch(page, app, ehr)
        assert page.locator("#progress").inner_text() == "1 of 3 required questions answered"
        page.click("#submit")
        summary = page.locator("#missing")
        summary.wait_for()
        links = summary.locator("a")
        assert links.all_inner_texts() == ["Is this a first authorization or a renewal?",
                                           "Total treatment cycles of inotuzumab ozogamicin requested"]
        assert page.evaluate("document.activeElement.id") == "missing"
        # The BCBST policy describes no review of an incomplete request: no bypass, and the page says so.
        assert page.locator("#submit-review").count() == 0
        assert "policy describes no review of a request with required answers missing" in \
            page.locator("#missing-rule").inner_text()
        assert not any(qr["status"] == "completed" for _, qr in ehr.saved)
        assert_accessible(page, "the form with its missing-items summary")
        links.nth(1).click()
        assert page.evaluate("document.activeElement.id") == "cycles/1"
        save_screenshot(page, "smart-missing.png")


def test_pend_then_answer_now_sends_an_update_of_the_same_request_and_it_is_approved(app, browser):
    with running_ehr(chart_for("bcbst"), CONTEXT) as ehr:
        page = browser.new_page()
        launch(page, app, ehr)
        choose(page, "request-type", "Initial authorization")
        field(page, "cycles").fill("4")
        field(page, "cycles").press("Tab")
        page.locator("#progress", has_text="3 of 3").wait_for()
        submit(page)  # regimen is not a required item, but the policy needs it: a pend

        assert page.locator("h1#decision").inner_text() == "Pended for review"
        needed = page.locator("#needed > li")
        assert needed.count() == 1, needed.all_inner_texts()  # once, and no renewal-only question
        text = needed.first.inner_text()
        assert text.startswith("Regimen: How inotuzumab ozogamicin will be given.")
        assert "“The requested medication will be used as a single agent”" in text
        assert "(regimen)" not in text and " > " not in text and "[" not in text
        assert page.locator("#due").inner_text().endswith("UTC")
        assert page.locator("#contact").inner_text().startswith("BCBST utilization management, 1-800-555-0142")
        number = page.locator(".reference").inner_text().split()[1]
        page.click("#check-again")
        page.locator("#checked").wait_for()
        assert page.locator("h1#decision").inner_text() == "Pended for review"
        assert_accessible(page, "the pend page")
        reached, unfocused = unfocused_stops(page)
        assert reached[0] == "Skip to the content" and "Answer now: Regimen" in reached and "check-again" in reached
        assert unfocused == [], f"no visible focus on {unfocused}"
        save_screenshot(page, "smart-pend.png")

        page.click("a.answer-now")  # reopen the form on the items asked for
        page.wait_for_url("**/smart/form?answer=regimen")
        page.locator("body[data-form-ready=true]").wait_for()
        assert f"Update of request {number}" in page.locator("#update-notice").inner_text()
        assert "asked" in page.locator('[id="item-regimen/1"]').get_attribute("class")
        assert page.evaluate("document.activeElement.id") == "regimen/1"
        assert page.locator("#mark-cycles").inner_text().startswith("As you sent it (")
        assert field(page, "cycles").input_value() == "4"
        choose(page, "regimen", "Single agent")
        assert_accessible(page, "the update form")
        save_screenshot(page, "smart-update.png")
        submit(page, "text=Send the update to BlueCross BlueShield of Tennessee")

        assert page.locator("h1#decision").inner_text() == "Approved"
        assert "Decided on your update of the request." in page.locator("section.result").inner_text()
        assert page.locator(".reference").inner_text().split()[1] == number  # the same request
        response_id = page.evaluate("document.querySelector('section.result').dataset.response")
        current = httpx.get(f"{app.url}/fhir/ClaimResponse/{response_id}").json()
        assert current["meta"]["versionId"] == "2" and current["preAuthRef"] == number
        method, qr = ehr.saved[-1]
        assert method == "PUT" and qr["status"] == "amended"
        assert answers(qr)["regimen"][:2] == ("single-agent", "manual")
        assert_accessible(page, "the result of the update")
        save_screenshot(page, "smart-result.png")


def test_submit_anyway_for_review_where_the_payer_takes_it_then_answer_all_now(app, browser):
    chart = [r for r in chart_for("bcbsnc") if r["resourceType"] != "Condition"]  # no diagnosis on file
    with running_ehr(chart, CONTEXT) as ehr:
        page = browser.new_page()
        launch(page, app, ehr)
        page.click("#submit")
        page.locator("#missing").wait_for()
        rule = page.locator("#missing-rule").inner_text()
        assert "reviews a request with answers missing" in rule and "may request medical records" in rule
        submit(page, "#submit-review")  # stated as such: the payer reviews it and asks for the rest
        assert page.locator("h1#decision").inner_text() == "Pended for review"
        facts = [t.split(":")[0] for t in page.locator("#needed > li").all_inner_texts()]
        assert facts == ["Indication", "Disease status"]
        page.click("a.answer-all")
        page.wait_for_url("**/smart/form?answer=diagnosis%2Cdisease-status")
        page.locator("body[data-form-ready=true]").wait_for()
        choose(page, "diagnosis", "B-cell precursor acute lymphoblastic leukemia (B-ALL)")
        choose(page, "disease-status", "Relapsed")  # shown once the indication is answered, and marked as asked
        page.locator('[id="item-disease-status/1"].asked').wait_for()
        submit(page, "text=Send the update to")
        assert page.locator("h1#decision").inner_text() == "Approved"
        assert_accessible(page, "the approval after an update")
