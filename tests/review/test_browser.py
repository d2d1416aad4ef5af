"""The desk in headless Chromium: sign in, the queue in due order, a case with origins and the cited policy,
a nurse without Deny, a physician's denial the provider's $inquire shows, the report, keyboard and names."""
from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from service.config import Settings
from service.policies.concepts import CONCEPTS
from service.policies.registry import get_policy
from service.storage import open_storage
from service.storage.tables import Claim, ClaimEvent
from tests.pas.cases import CD22_NEGATIVE, MISSING_CD22
from tests.pas.read import review_action
from tests.pas.server import running_server
from tests.review.desk import NURSE, OPERATOR, PASSWORD, PHYSICIAN, PHYSICIAN_NPI, inquire, make_account, make_accounts, submit
from tests.review.seed import EXPECTED, FROM, TO, seed_rows
from tests.support.browser import BROWSER_TESTS, launch_chromium, save_screenshot

pytestmark = BROWSER_TESTS
MEMBER, PROVIDER_NPI = "M-DESK-1", "1777777776"
ORIGINS = {"age-years": "auto", "diagnosis": "auto", "cd22-status": "override", "disease-status": "manual"}
# Every visible control without an accessible name (label, aria-label/-labelledby, or a button's text).
UNNAMED = """() => [...document.querySelectorAll('input, select, textarea, button, a[href]')]
    .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
    .filter(e => !(e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')
                   || (e.id && document.querySelector(`label[for="${CSS.escape(e.id)}"]`))
                   || e.closest('label') || ((e.tagName === 'BUTTON' || e.tagName === 'A') && e.textContent.trim())))
    .map(e => e.id || e.outerHTML.slice(0, 80))"""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("desk-browser") / "data"
    with running_server(data_dir, None, DENY_REQUIRES_REVIEW="true", AUTH_DISABLED="true") as server:
        make_accounts(data_dir, None)
        seed_rows(data_dir, None)
        server.data_dir = data_dir
        yield server


@pytest.fixture(scope="module")
def cases(app):
    with httpx.Client(base_url=app.url, timeout=30) as http:
        return {"would_deny": submit(http, "fepblue", CD22_NEGATIVE, origins=ORIGINS, member=MEMBER, npi=PROVIDER_NPI),
                "missing": submit(http, "aetna", MISSING_CD22, origins=ORIGINS, expedited=True)}


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b


def sign_in(browser, app, username: str, password: str = PASSWORD):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{app.url}/review/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    return page


def tab_through(page, wanted: set[str], presses: int = 400) -> set[str]:
    """Press Tab until every wanted element id has had the focus (or give up); what was reached."""
    page.locator("body").focus()
    reached: set[str] = set()
    for _ in range(presses):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
        if wanted <= reached:
            break
    return reached


def number_of(case: dict) -> str:
    return review_action(case)["number"]


def test_sign_in_and_the_queue_in_due_order(app, browser, cases):
    login = browser.new_page()
    login.goto(f"{app.url}/review/login")
    assert login.evaluate(UNNAMED) == [] and {"username", "password", "login-submit"} <= tab_through(
        login, {"username", "password", "login-submit"})
    page = sign_in(browser, app, NURSE)
    page.wait_for_url("**/review")
    rows = page.locator("table.queue tbody tr")
    dues = [rows.nth(i).get_attribute("data-due") for i in range(rows.count())]
    assert dues and dues == sorted(dues)
    ids = [rows.nth(i).get_attribute("data-response-id") for i in range(rows.count())]
    assert ids.index(cases["missing"]["id"]) < ids.index(cases["would_deny"]["id"])  # 72 h before 7 days
    overdue = page.locator("tr.overdue")
    assert overdue.count() == 2 and overdue.first.get_by_text("Overdue").is_visible()  # the seeded pended pair
    assert page.locator(f'tr[data-response-id="{cases["missing"]["id"]}"] td.left').inner_text().endswith("left")
    assert page.evaluate(UNNAMED) == []
    first_case = f"case-{cases['missing']['id']}"
    wanted = {"f-payer", "f-status", "f-priority", "filter-submit", "signout", first_case}
    assert wanted <= tab_through(page, wanted)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    save_screenshot(page, "review-queue.png")
    page.get_by_label("Priority").select_option("expedited")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**priority=expedited**")
    assert {p.inner_text() for p in page.locator("table.queue tbody .priority").all()} == {"expedited"}


def test_the_case_shows_answers_with_origins_and_the_cited_policy(app, browser, cases):
    page = sign_in(browser, app, NURSE)
    page.get_by_role("link", name=f"Open case {number_of(cases['would_deny'])}").click()
    page.wait_for_url(f"**/review/{cases['would_deny']['id']}")
    origin = {c: page.locator(f'tr[data-concept="{c}"] .origin').inner_text()
              for c in ("age-years", "cd22-status", "disease-status", "cd22-percent")}
    assert origin == {"age-years": "auto: from the chart", "cd22-status": "override: chart value changed by the clinician",
                      "disease-status": "manual: entered by the clinician", "cd22-percent": "not stated"}
    assert "Pended for a clinician's review" in page.locator(".disposition").inner_text()
    cd22 = page.locator("li.criterion.not-met", has_text="CD22 status is Positive").first
    assert "answered: Negative" in cd22.inner_text() and "CD22-positive B-cell precursor" in cd22.inner_text()
    assert page.locator("li.criterion.met", has_text="Patient age in years is at least 1").count() == 1
    marks = page.locator(".policy-text mark")
    assert marks.count() >= 5 and any("CD22-positive B-cell precursor" in m.inner_text() for m in marks.all())
    assert "<mark" not in page.locator(".policy-text").inner_text()  # the text is escaped, only our marks are tags
    link = page.get_by_role("link", name="Show in the policy text: Patient age in years is at least 1")
    target = link.get_attribute("href")
    assert page.locator(target).inner_text() == "1 year of age or older"
    # a nurse has no Deny control, and a forged deny is refused
    assert page.get_by_role("button", name="Deny").count() == 0 and page.locator("form[action$='/deny']").count() == 0
    forged = page.evaluate("""async (id) => {
        const csrf = document.querySelector('input[name=csrf_token]').value;
        const body = new URLSearchParams({csrf_token: csrf, note: 'forged', concepts: 'cd22-status'});
        return (await fetch(`/review/${id}/deny`, {method: 'POST', body})).status; }""", cases["would_deny"]["id"])
    assert forged == 403


def test_csrf_is_refused_and_lockout_after_five_failures(app, browser, cases):
    page = sign_in(browser, app, NURSE)
    page.wait_for_url("**/review")
    statuses = page.evaluate("""async (id) => [
        (await fetch(`/review/${id}/approve`, {method: 'POST', body: new URLSearchParams({note: 'x', months: '6'})})).status,
        (await fetch(`/pas/review/${id}`, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                           body: JSON.stringify({decision: 'approve', note: 'x'})})).status]""",
                             cases["missing"]["id"])
    assert statuses == [403, 403]
    assert make_account(app.data_dir, None, "locked-out", "nurse-reviewer").returncode == 0
    for _ in range(5):
        failed = sign_in(browser, app, "locked-out", "wrong password!")
        assert "Sign-in refused" in failed.get_by_role("alert").inner_text()
    locked = sign_in(browser, app, "locked-out")
    assert locked.url.endswith("/review/login") and locked.get_by_role("alert").is_visible()


def test_keyboard_reaches_every_control_and_each_is_named(app, browser, cases):
    page = sign_in(browser, app, NURSE)
    page.goto(f"{app.url}/review/{cases['missing']['id']}")
    concepts = get_policy("aetna").concepts
    named = [page.get_by_role("spinbutton", name="Authorization period (months)"),
             page.get_by_role("textbox", name="Approval note for the provider"),
             page.get_by_role("textbox", name="Request note for the provider"),
             page.get_by_role("button", name="Approve"), page.get_by_role("button", name="Ask for information"),
             page.get_by_role("button", name="Sign out"), page.get_by_role("link", name="Queue"),
             *(page.get_by_role("checkbox", name=CONCEPTS[c].display, exact=True) for c in concepts)]
    for control in named:
        assert control.count() == 1 and control.is_visible()
    assert page.evaluate(UNNAMED) == []
    wanted = {"approve-months", "approve-note", "approve-submit", "info-note", "info-submit",
              *(f"info-{c}" for c in concepts)}
    reached = tab_through(page, wanted)
    assert wanted <= reached, wanted - reached


def test_a_physician_denies_and_the_provider_reads_the_note_on_inquiry(app, browser, cases):
    case = cases["would_deny"]
    page = sign_in(browser, app, PHYSICIAN)
    page.goto(f"{app.url}/review/{case['id']}")
    deny = page.locator("form[action$='/deny']")
    assert deny.get_by_role("checkbox", name="CD22 status").is_checked()  # the engine's reason, prefilled
    assert page.evaluate(UNNAMED) == []
    assert {"deny-note", "deny-submit", "deny-cd22-status"} <= tab_through(page, {"deny-note", "deny-submit", "deny-cd22-status"})
    page.evaluate("document.activeElement && document.activeElement.blur()")
    save_screenshot(page, "review-case.png")
    note = "CD22 is negative on the flow cytometry report; Besponsa needs CD22-positive blasts."
    deny.get_by_role("textbox", name="Denial note for the provider").fill(note)
    deny.get_by_role("button", name="Preview the denial").click()
    # Nothing is sent before the physician reads what the provider receives and signs it (issue 22).
    preview = page.locator(".preview")
    assert note in preview.inner_text() and "Peer-to-peer review and appeal" in preview.inner_text()
    assert "CD22" in preview.inner_text()
    assert page.evaluate(UNNAMED) == []
    save_screenshot(page, "review-deny-preview.png")
    page.get_by_role("button", name="Sign and send the denial").click()
    page.wait_for_url("**?done=deny")
    assert "Denied" in page.get_by_role("status").inner_text()
    page.get_by_role("link", name="The decision letter (printable)").click()
    page.wait_for_url(f"**/review/{case['id']}/letter")
    assert note in page.inner_text("main") and page.evaluate(UNNAMED) == []
    save_screenshot(page, "review-letter.png")
    page.go_back()
    assert page.locator(".case-head .status").inner_text().lower() == "denied"
    with httpx.Client(base_url=app.url, timeout=30) as provider:
        found = inquire(provider, "fepblue", MEMBER, PROVIDER_NPI)
    assert [cr["id"] for cr in found] == [case["id"]]
    cr = found[0]
    assert review_action(cr)["code"] == "A3" and "cd22-status" in review_action(cr)["reasons"]
    assert f"Reviewer: {note}" in [n["text"] for n in cr["processNote"]] and cr["meta"]["versionId"] == "2"
    reviewer = next(e for e in cr["extension"] if e["url"].endswith("extension-claimResponseReviewer"))
    assert {"url": "reviewerNPI", "valueIdentifier": {"system": "http://hl7.org/fhir/sid/us-npi",
                                                      "value": PHYSICIAN_NPI}} in reviewer["extension"]
    storage = open_storage(Settings(data_dir=app.data_dir))
    try:
        with storage.sessions() as s:
            claim_id = s.scalar(select(Claim.id).where(Claim.response_id == case["id"]))
            review = s.scalar(select(ClaimEvent).where(ClaimEvent.claim_id == claim_id, ClaimEvent.action == "review"))
    finally:
        storage.close()
    assert (review.actor, review.outcome) == (PHYSICIAN, "deny")


def test_the_report_page(app, browser):
    page = sign_in(browser, app, OPERATOR)
    page.wait_for_url("**/reports/prior-authorization")
    page.get_by_label("From", exact=True).fill(FROM)
    page.get_by_label("To", exact=True).fill(TO)
    page.get_by_role("button", name="Show report").click()
    page.wait_for_url(f"**from={FROM}**")
    for group, expected in EXPECTED.items():
        for measure in ("requests", "approved", "denied", "pended", "decided"):
            cell = page.locator(f'td[data-group="{group}"][data-measure="{measure}"]')
            assert cell.inner_text() == str(expected[measure]), (group, measure)
    assert page.locator('td[data-group="standard"][data-measure="median_hours_to_decision"]').inner_text() == "30.0 h"
    assert page.get_by_role("img", name="Requests by decision and priority").is_visible()
    assert page.get_by_role("img", name="Hours from request to decision").is_visible()
    assert "no appeal process" in page.locator("#note-approved_after_appeal").inner_text()
    assert page.evaluate(UNNAMED) == []
    wanted = {"r-from", "r-to", "r-payer", "report-submit", "download-json", "download-csv", "signout"}
    assert wanted <= tab_through(page, wanted)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    save_screenshot(page, "review-report.png")
