"""The audit page (/review/audit): PA numbers not internal ids, one name per action, details in words and never a
patient identifier, filters by action, actor, PA number and date, 50 a page, CSV export; on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
import pytest
from sqlalchemy import select, update

from service.config import Settings
from service.review.audit import ACTIONS, action_words, actor_words, audit_csv, audit_line, detail_words
from service.storage import open_storage
from service.storage.tables import Claim, ClaimEvent, ClaimResponseRow
from tests.pas.cases import CD22_NEGATIVE, MISSING_CD22
from tests.pas.read import review_action
from tests.review.desk import NURSE, OPERATOR, PHYSICIAN, signed_in, submit
from tests.smart.axe import assert_accessible
from tests.support.browser import BROWSER_TESTS, launch_chromium, save_screenshot

SECRET = "Jane Q Patient DOB 1980-02-03"  # typed in a reviewer's note: the trail must not repeat it
PAGER, CLIENT = "pager-bot", "client-acme"  # the client cancels its own claim: same id both times


# --- pure ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("action, outcome, words", [
    ("submit", "pend", "submitted"), ("submit", "approve", "submitted"), ("update", "pend", "updated"),
    ("update", "cancel", "cancelled"), ("review", "approve", "approved"), ("review", "deny", "denied"),
    ("review", "pend", "asked for information"), ("route-to-physician", "pend", "routed to a physician reviewer"),
    ("peer-to-peer", None, "recorded a peer-to-peer step"), ("escalate-to-committee", None, "escalate to committee")])
def test_each_action_has_one_name_in_words(action, outcome, words):
    assert action_words(action, outcome) == words


def test_every_filter_slug_names_the_same_words_the_rows_show():
    for slug, (words, stored, must, _) in ACTIONS.items():
        assert action_words(stored, must or "pend") == words, slug


def test_details_are_words_without_patient_identifiers_or_note_text():
    said = detail_words({"payer": "aetna", "version": 2, "to": "physician", "note": SECRET, "patient": "Patient/9",
                         "member_id": "M999", "birthDate": "1980-02-03", "answers": {"age": 40}, "reason": "late"},
                        {"aetna": "Aetna"})
    assert said == "payer Aetna; response version 2; to a physician reviewer; with a reviewer's note (on the case); reason late"
    for leaked in ("Jane", "Patient/9", "M999", "1980", "{", "age"):
        assert leaked not in said
    assert detail_words(None, {}) == "" and detail_words({"note": ""}, {}) == "no note"
    assert actor_words("pas-client", "client-x") == "client-x" and actor_words(NURSE, None) == NURSE
    assert actor_words("pas-client", None).startswith("unidentified PAS client")


def test_the_csv_export_is_not_a_spreadsheet_formula():
    event = ClaimEvent(created_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), action="review", actor="=HYPERLINK(1)",
                       outcome="deny", detail={"version": 3})
    line = audit_line((event, "PA-1", None, "r-1"), {})
    rows = list(csv.reader(io.StringIO(audit_csv([line]))))
    assert rows == [["when", "action", "by", "outcome", "pa_number", "details"],
                    ["2025-01-02T03:04:05+00:00", "denied", "'=HYPERLINK(1)", "denied", "PA-1", "response version 3"]]


# --- over HTTP ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clients(desk):
    made = {name: signed_in(desk.url, name) for name in (NURSE, PHYSICIAN, OPERATOR)}
    made["anon"] = httpx.Client(base_url=desk.url, timeout=30)
    yield made
    for http in made.values():
        http.close()


@pytest.fixture(scope="module")
def trail(desk, clients):
    """A request asked-for-information then approved, a would-be denial routed then denied, and straight into the
    database: 55 events by one system (for paging), and a client's cancel of a seeded claim that client owns."""
    nurse, physician, anon = clients[NURSE], clients[PHYSICIAN], clients["anon"]
    asked = submit(anon, "aetna", MISSING_CD22)
    assert nurse.post(f"/pas/review/{asked['id']}", json={"decision": "request-info", "concepts": ["cd22-status"],
                                                          "note": f"Please send flow. {SECRET}"}).status_code == 200
    assert physician.post(f"/pas/review/{asked['id']}", json={"decision": "approve", "note": "CD22 ok"}).status_code == 200
    routed = submit(anon, "fepblue", CD22_NEGATIVE)
    assert nurse.post(f"/pas/review/{routed['id']}", json={"decision": "route-to-physician",
                                                           "note": f"CD22 negative {SECRET}"}).status_code == 200
    assert physician.post(f"/pas/review/{routed['id']}", json={"decision": "deny", "concepts": ["cd22-status"],
                                                               "note": "CD22 negative"}).status_code == 200
    storage = open_storage(Settings(data_dir=desk.data_dir, database_url=desk.database_url))
    try:
        with storage.sessions.begin() as s:
            claim = s.scalar(select(Claim).where(Claim.created_at == datetime(2024, 3, 4, 9, tzinfo=UTC)))
            s.execute(update(Claim).where(Claim.id == claim.id).values(owner=CLIENT))
            cancelled = s.scalar(select(ClaimResponseRow.auth_number).where(ClaimResponseRow.claim_id == claim.id))
            start = datetime(2023, 1, 1, 8, 0, tzinfo=UTC)
            s.add(ClaimEvent(created_at=start - timedelta(days=2), action="submit", claim_id=claim.id,
                             actor="pas-client", outcome="approve", detail={"payer": "aetna", "version": 1}))
            s.add(ClaimEvent(created_at=start - timedelta(days=1), action="update", claim_id=claim.id,
                             actor=CLIENT, outcome="cancel",
                             detail={"version": 2, "patient": "Patient/77", "member_id": "M-77"}))
            for i in range(55):
                s.add(ClaimEvent(created_at=start + timedelta(minutes=i), action="peer-to-peer", claim_id=None,
                                 actor=PAGER, outcome=None, detail={"step": i + 1}))
            claim_ids = {r: s.scalar(select(Claim.id).where(Claim.response_id == r)) for r in (asked["id"], routed["id"])}
    finally:
        storage.close()
    return {"asked": review_action(asked)["number"], "routed": review_action(routed)["number"],
            "cancelled": cancelled, "ids": claim_ids}


def rows_of(html: str) -> list[dict[str, str]]:
    """The audit table's rows as {column: text}."""
    body = html.split('<table class="audit">')[1].split("</table>")[0] if '<table class="audit">' in html else ""
    out = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[-1], re.S):
        cells = re.findall(r'<td data-column="(\w+)">(.*?)</td>', tr, re.S)
        out.append({k: unescape(re.sub(r"<[^>]+>", "", v)).strip() for k, v in cells})
    return out


def test_the_trail_shows_pa_numbers_actions_in_words_and_no_raw_json(clients, trail):
    html = clients[OPERATOR].get("/review/audit?number=" + trail["asked"]).text
    got = [(r["action"], r["by"]) for r in rows_of(html)]
    assert got == [("approved", PHYSICIAN), ("asked for information", NURSE), ("submitted", got[-1][1])]
    assert got[-1][1] == "unauthenticated client"  # AUTH_DISABLED: no client id was presented
    assert {r["number"] for r in rows_of(html)} == {trail["asked"]}
    for internal in trail["ids"].values():
        assert internal not in html
    assert ">pend<" not in html and "{&#34;" not in html and '{"' not in html
    details = [r["details"] for r in rows_of(html)]
    assert details[-1] == "payer Aetna; response version 1" and details[0] == "response version 3"


def test_a_reviewers_note_and_patient_details_never_reach_the_page_or_the_export(clients, trail):
    html = clients[OPERATOR].get("/review/audit").text
    exported = clients[OPERATOR].get("/review/audit?format=csv").text
    for text in (html, exported):
        assert SECRET not in text and "Patient/77" not in text and "M-77" not in text
    routed = rows_of(clients[OPERATOR].get("/review/audit?action=route-to-physician&number=" + trail["routed"]).text)
    assert routed == [{"action": "routed to a physician reviewer", "by": NURSE, "number": trail["routed"],
                       "details": "to a physician reviewer; with a reviewer's note (on the case)"}]


def test_filters_by_action_actor_and_pa_number(clients, trail):
    operator = clients[OPERATOR]
    asked = rows_of(operator.get("/review/audit?action=request-info").text)
    assert asked and {r["action"] for r in asked} == {"asked for information"} and trail["asked"] in {
        r["number"] for r in asked}
    cancelled = rows_of(operator.get("/review/audit?action=cancel").text)
    assert cancelled == [{"action": "cancelled", "by": CLIENT, "number": trail["cancelled"], "details": "response version 2"}]
    assert trail["cancelled"] not in {r["number"] for r in rows_of(operator.get("/review/audit?action=update").text)}
    # a client's own submissions are found by its id, though storage logs them as pas-client
    mine = rows_of(operator.get(f"/review/audit?actor={CLIENT}").text)
    assert [(r["action"], r["by"]) for r in mine] == [("cancelled", CLIENT), ("submitted", CLIENT)]
    nurse_only = rows_of(operator.get(f"/review/audit?actor={NURSE}").text)
    assert nurse_only and {r["by"] for r in nurse_only} == {NURSE}
    assert {r["action"] for r in nurse_only} == {"asked for information", "routed to a physician reviewer"}
    part = trail["routed"][-6:].lower()  # a fragment, any case
    found = rows_of(operator.get(f"/review/audit?number={part}").text)
    assert [r["action"] for r in found] == ["denied", "routed to a physician reviewer", "submitted"]
    page = operator.get("/review/audit").text
    assert f'<option value="{CLIENT}">' in page and f'<option value="{NURSE}">' in page
    none = operator.get("/review/audit?number=no-such-number").text
    assert "No event matches these filters." in none and rows_of(none) == []


def test_fifty_a_page_with_next_and_previous_links_and_a_date_filter(clients, trail):
    operator = clients[OPERATOR]
    first = operator.get(f"/review/audit?actor={PAGER}").text
    assert len(rows_of(first)) == 50 and "Events 1 to 50 of 55 (page 1 of 2)." in first
    assert rows_of(first)[0]["details"] == "step 55" and rows_of(first)[0]["action"] == "recorded a peer-to-peer step"
    assert 'id="audit-previous"' not in first
    nxt = unescape(re.search(r'id="audit-next" href="([^"]+)"', first).group(1))
    assert nxt == f"/review/audit?actor={PAGER}&page=2"
    second = operator.get(nxt).text
    assert [r["details"] for r in rows_of(second)] == [f"step {i}" for i in (5, 4, 3, 2, 1)]
    assert "Events 51 to 55 of 55 (page 2 of 2)." in second and 'id="audit-next"' not in second
    back = unescape(re.search(r'id="audit-previous" href="([^"]+)"', second).group(1))
    assert back == f"/review/audit?actor={PAGER}&page=1"
    day = rows_of(operator.get("/review/audit?from=2023-01-01&to=2023-01-01&page=2").text)
    assert len(day) == 5  # the 55 peer-to-peer events that day; the cancel the day before is not among them
    assert [r["action"] for r in rows_of(operator.get("/review/audit?from=2022-12-30&to=2022-12-31").text)] == [
        "cancelled", "submitted"]
    assert rows_of(operator.get(f"/review/audit?actor={PAGER}&page=3").text) == []


def test_the_csv_export_carries_every_filtered_event(clients, trail):
    answer = clients[OPERATOR].get(f"/review/audit?actor={PAGER}&format=csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 55 and list(rows[0]) == ["when", "action", "by", "outcome", "pa_number", "details"]
    assert rows[0] == {"when": "2023-01-01T08:54:00+00:00", "action": "recorded a peer-to-peer step", "by": PAGER, "outcome": "",
                       "pa_number": "", "details": "step 55"}
    page = clients[OPERATOR].get(f"/review/audit?actor={PAGER}&action=submit").text
    link = unescape(re.search(r'id="audit-csv" href="([^"]+)"', page).group(1))
    assert link == f"/review/audit?action=submit&actor={PAGER}&format=csv"
    asked = list(csv.DictReader(io.StringIO(clients[OPERATOR].get(
        f"/review/audit?format=csv&number={trail['asked']}").text)))
    assert [r["action"] for r in asked] == ["approved", "asked for information", "submitted"]
    assert {r["pa_number"] for r in asked} == {trail["asked"]}


def test_bad_filters_are_a_400_page_and_only_operators_read_it(clients):
    for query in ("action=pend", "page=0", "page=two", "from=2024-13-01", "to=yesterday", "format=xml"):
        answer = clients[OPERATOR].get(f"/review/audit?{query}")
        assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html"), query
    assert "not an action here" in clients[OPERATOR].get("/review/audit?action=pend").text
    assert clients[NURSE].get("/review/audit").status_code == 403
    assert clients[NURSE].get("/review/audit?format=csv").status_code == 403
    assert clients["anon"].get("/review/audit?format=csv").status_code in (303, 401)


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b


@BROWSER_TESTS[0]
@BROWSER_TESTS[1]
def test_the_audit_page_in_chromium_is_accessible_pages_on_and_fits_a_phone(desk_backend, desk, clients, trail, browser):
    if desk_backend[0] != "sqlite":
        pytest.skip("the page is the same on both backends; Chromium runs once")
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.add_cookies([{"name": "pa_review", "value": clients[OPERATOR].cookies.get("pa_review"), "url": desk.url}])
    page = context.new_page()
    page.goto(f"{desk.url}/review/audit")
    page.get_by_label("By").select_option(PAGER)
    page.get_by_role("button", name="Show events").click()
    page.wait_for_url(f"**actor={PAGER}**")
    assert page.locator("table.audit tbody tr").count() == 50
    assert_accessible(page, "the audit trail")
    save_screenshot(page, "review-audit.png")
    page.get_by_role("link", name="Next page (older events)").click()
    page.wait_for_url("**page=2**")
    assert page.locator("table.audit tbody tr").count() == 5
    page.get_by_label("PA number").fill(trail["asked"])
    page.get_by_label("By").select_option("")
    page.get_by_role("button", name="Show events").click()
    page.wait_for_url(f"**number={trail['asked']}**")
    assert page.locator('td[data-column="action"]').all_inner_texts() == ["approved", "asked for information", "submitted"]
    page.set_viewport_size({"width": 390, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the table scrolls inside its region
    assert_accessible(page, "the audit trail, one PA number")
