"""The desk walked in Chromium (issue 22) as a nurse, a physician and an operator, with a screenshot at each step,
axe-core on every desk page at 1366x768 and 390x844, and no horizontal scroll on a 390 px phone."""
from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.fixtures.charts import cd22_percent
from tests.pas.cases import CD22_NEGATIVE, MISSING_CD22
from tests.pas.read import review_action
from tests.review.desk import NURSE, OPERATOR, PASSWORD, PHYSICIAN, PHYSICIAN_NPI, pas_request
from tests.review.seed import FROM, TO
from tests.smart.axe import assert_accessible
from tests.support.browser import BROWSER_TESTS, launch_chromium, save_screenshot

pytestmark = BROWSER_TESTS
DESKTOP, PHONE = {"width": 1366, "height": 768}, {"width": 390, "height": 844}
# Elements whose boxes overlap a sibling's (the lay-out's own grids and flex rows), at the current width.
OVERLAPS = """() => {
  const boxes = [...document.querySelectorAll('.banner > *, .action-grid > *, .case-grid > *, .filters > *, '
                                           + '.case-head .facts > *, .downloads > *, .presets > *')]
    .filter(e => e.offsetParent !== null).map(e => [e, e.getBoundingClientRect()]);
  const found = [];
  for (const [a, ra] of boxes) for (const [b, rb] of boxes) {
    if (a === b || a.parentElement !== b.parentElement || a.compareDocumentPosition(b) & 2) continue;
    if (ra.left < rb.right - 1 && rb.left < ra.right - 1 && ra.top < rb.bottom - 1 && rb.top < ra.bottom - 1)
      found.push((a.id || a.className || a.tagName) + ' / ' + (b.id || b.className || b.tagName));
  }
  return found; }"""


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b


@pytest.fixture(scope="module")
def cases(desk):
    """A case missing CD22 (for the nurse) and a would-be denial whose own lab result contradicts its answer."""
    lab = {**cd22_percent(45, when="2026-11-20", oid="o-walk", interpret=("POS",)), "subject": {"reference": "Patient/pat1"}}
    failing = pas_request("fepblue", CD22_NEGATIVE, member="M-WALK-2", npi="1777777776")
    failing["entry"].append({"fullUrl": "http://provider.example.org/fhir/Observation/o-walk", "resource": lab})
    with httpx.Client(base_url=desk.url, timeout=30) as http:
        missing = http.post("/fhir/Claim/$submit", json=pas_request("aetna", MISSING_CD22, member="M-WALK-1"))
        would_deny = http.post("/fhir/Claim/$submit", json=failing)
    assert missing.status_code == would_deny.status_code == 200
    return {"missing": missing.json()["entry"][0]["resource"], "would_deny": would_deny.json()["entry"][0]["resource"]}


def sign_in(browser, desk, username: str):
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.goto(f"{desk.url}/review/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def check_page(page, name: str, *, phone_fits: bool = True) -> None:
    """axe-core at both widths, nothing overlapping at 1366, no horizontal scroll at 390; a shot at each width."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    assert_accessible(page, name)
    page.set_viewport_size(DESKTOP)
    assert page.evaluate(OVERLAPS) == [], name
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"], name
    save_screenshot(page, f"walk-{name}.png")
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    save_screenshot(page, f"walk-{name}-390.png")
    page.set_viewport_size(DESKTOP)
    if phone_fits:
        assert width <= PHONE["width"], f"{name} is {width} px wide on a 390 px phone"


def test_a_nurse_filters_searches_takes_a_case_and_asks_for_information(desk, browser, cases):
    login = browser.new_context(viewport=DESKTOP).new_page()
    login.goto(f"{desk.url}/review/login")
    check_page(login, "login")
    page = sign_in(browser, desk, NURSE)
    page.wait_for_url("**/review")
    check_page(page, "queue")
    page.locator("#f-state").select_option("missing")
    page.locator("#filter-submit").click()
    page.wait_for_url("**state=missing**")
    states = {s.inner_text() for s in page.locator("table.queue tbody .state").all()}
    assert states == {"Missing information"}
    save_screenshot(page, "walk-queue-missing.png")
    number = review_action(cases["missing"])["number"]
    page.goto(f"{desk.url}/review")
    page.locator("#f-q").fill(number)
    page.locator("#filter-submit").click()
    page.wait_for_url("**q=**")
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-response-id") == cases["missing"]["id"]
    save_screenshot(page, "walk-queue-search.png")
    page.get_by_role("link", name=f"Open case {number}").click()
    page.wait_for_url(f"**/review/{cases['missing']['id']}")
    page.get_by_role("button", name="Take this case").click()
    page.wait_for_url(f"**/review/{cases['missing']['id']}")
    assert page.get_by_text("You are working this case.").is_visible()
    check_page(page, "case-nurse")
    info = page.locator("form[action$='/request-info']")
    info.get_by_role("textbox", name="Request note for the provider").fill("Please send the CD22 flow cytometry report.")
    info.get_by_role("button", name="Ask for information").click()
    page.wait_for_url("**?done=request-info")
    assert "Information requested" in page.get_by_role("status").first.inner_text()
    clock = page.locator("#info-clock").inner_text()
    assert "waiting on the provider for 0 h" in clock and "The decision is still due" in clock
    assert "not paused" in clock
    check_page(page, "case-info-requested")
    page.goto(f"{desk.url}/reports/prior-authorization")  # a nurse reads no report: the problem page says so
    assert "Not allowed" in page.locator("h1").inner_text()
    check_page(page, "problem")


def test_a_physician_denies_signs_prints_and_records_a_peer_to_peer(desk, browser, cases):
    case = cases["would_deny"]
    page = sign_in(browser, desk, PHYSICIAN)
    page.goto(f"{desk.url}/review/{case['id']}")
    conflict = page.locator("#conflicts").inner_text()
    assert "Answered CD22 negative; the request's lab result (Observation, 2026-11-20) says positive, 45 %" in conflict
    reasons = page.locator("form[action$='/deny'] fieldset")
    assert reasons.locator("input[type=checkbox]").count() >= 10  # FEP's long list
    assert reasons.evaluate("f => f.scrollHeight <= f.clientHeight + 1 && getComputedStyle(f).overflowY === 'visible'")
    check_page(page, "case-physician")
    deny = page.locator("form[action$='/deny']")
    note = "CD22 negative on the flow report we hold; Besponsa needs CD22-positive blasts."
    deny.get_by_role("textbox", name="Denial note for the provider").fill(note)
    deny.get_by_role("button", name="Preview the denial").click()
    assert note in page.locator(".preview").inner_text()
    assert f"NPI {PHYSICIAN_NPI}" in page.locator("main").inner_text()
    check_page(page, "deny-preview")
    page.get_by_role("button", name="Sign and send the denial").click()
    page.wait_for_url("**?done=deny")
    page.get_by_role("link", name="The decision letter (printable)").click()
    page.wait_for_url(f"**/review/{case['id']}/letter")
    assert note in page.inner_text("main") and "Peer-to-peer review and appeal" in page.inner_text("main")
    check_page(page, "letter")
    page.goto(f"{desk.url}/review/{case['id']}")
    assert page.locator("#peer-state").inner_text() == "No peer-to-peer has been requested on this case."
    page.locator("#p2p-requested-with").fill("Dr Okafor's office")
    page.locator("#p2p-requested-submit").click()
    page.wait_for_url("**done=peer-to-peer**")
    assert page.locator("#peer-state").inner_text() == "Peer-to-peer requested by Dr Okafor's office"
    save_screenshot(page, "walk-p2p-requested.png")
    page.locator("#p2p-scheduled-when").fill("2026-12-10T15:00")
    page.locator("#p2p-scheduled-with").fill("Dr Okafor")
    page.locator("#p2p-scheduled-submit").click()
    page.wait_for_url("**done=peer-to-peer**")
    assert page.locator("#peer-state").inner_text() == "Peer-to-peer scheduled for 2026-12-10 15:00 UTC with Dr Okafor"
    save_screenshot(page, "walk-p2p-scheduled.png")
    page.locator("#p2p-held-note").fill("Discussed the flow report; no new result.")
    page.locator("#p2p-held-submit").click()
    page.wait_for_url("**done=peer-to-peer**")
    assert page.locator("#peer-state").inner_text().startswith("Peer-to-peer held on ")
    save_screenshot(page, "walk-p2p-held.png")
    page.locator("#p2p-outcome").select_option("upheld")
    page.locator("#p2p-outcome-note").fill("CD22 negative; the denial stands.")
    page.locator("#p2p-outcome-submit").click()
    page.wait_for_url("**done=peer-to-peer**")
    assert page.locator("#peer-state").inner_text() == "Peer-to-peer outcome: the decision was upheld"
    story = page.locator("ol.story li.peer-to-peer")
    assert story.count() == 4 and "CD22 negative; the denial stands." in story.last.inner_text()
    assert PHYSICIAN in story.last.inner_text()
    check_page(page, "case-p2p")


def test_an_operator_reads_the_report_filters_the_audit_and_exports_it(desk, browser, cases):
    page = sign_in(browser, desk, OPERATOR)
    page.wait_for_url("**/reports/prior-authorization**")
    page.goto(f"{desk.url}/reports/prior-authorization?from={FROM}&to={TO}")
    assert page.locator("#total-requests").inner_text() == "9"
    check_page(page, "report")
    page.goto(f"{desk.url}/review/audit")
    page.locator("#a-action").select_option("deny")
    page.locator("#audit-submit").click()
    page.wait_for_url("**action=deny**")
    actions = {c.inner_text() for c in page.locator('td[data-column="action"]').all()}
    assert actions == {"denied"}
    check_page(page, "audit")
    exported = page.request.get(desk.url + page.locator("#audit-csv").get_attribute("href"))
    assert exported.ok and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text())))
    assert rows[0] == ["when", "action", "by", "outcome", "pa_number", "details"]
    assert len(rows) > 1 and {r[1] for r in rows[1:]} == {"denied"} and PHYSICIAN in {r[2] for r in rows[1:]}
    page.goto(f"{desk.url}/review/audit?action=")
    assert "recorded a peer-to-peer step" in page.locator("main").inner_text()  # the physician's P2P steps are in the trail
    page.goto(f"{desk.url}/review/access")
    check_page(page, "access")


def test_an_operator_sees_counts_a_physician_follows_one_to_its_cases(desk, browser, cases):
    operator = sign_in(browser, desk, OPERATOR)
    operator.goto(f"{desk.url}/reports/prior-authorization?from={FROM}&to={TO}")
    cell = operator.locator('td[data-group="all"][data-timeliness="open"]')
    assert cell.inner_text().strip() == "2" and cell.locator("a").count() == 0  # no patient cases for operators
    page = sign_in(browser, desk, PHYSICIAN)
    page.goto(f"{desk.url}/reports/prior-authorization?from={FROM}&to={TO}")
    check_page(page, "report-physician")
    link = page.locator('td[data-group="all"][data-timeliness="open"] a')
    assert link.inner_text() == "2"  # the seeded pended pair (tests/review/seed.py)
    link.click()
    page.wait_for_load_state()
    save_screenshot(page, "walk-report-drilldown.png")
    assert page.locator("table.queue tbody tr").count() == 2
