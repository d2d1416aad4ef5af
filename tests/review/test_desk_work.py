"""The desk as a nurse clearing forty cases a day works it (issue 22), over HTTP on SQLite and PostgreSQL:
what each case waits for, search, taking a case, a decided-meanwhile case that keeps the typed note, the
denial previewed then signed with a peer-to-peer offer, the story of the case, the next case."""
from __future__ import annotations

import re
import uuid
from datetime import date

import httpx
from sqlalchemy import select

from service.storage.tables import Claim, ClaimEvent
from tests.pas.cases import CD22_NEGATIVE, MISSING_CD22
from tests.pas.read import review_action
from tests.review.desk import NURSE, OPERATOR, PHYSICIAN, sign_in, signed_in, submit


def form(http: httpx.Client, **fields) -> dict:
    return {"csrf_token": http.headers["x-csrf-token"], **fields}


def row_of(page: str, response_id: str) -> str:
    found = re.search(rf'<tr[^>]*data-response-id="{response_id}".*?</tr>', page, re.S)
    assert found, f"{response_id} is not in the queue"
    return found.group(0)


def test_each_open_case_says_what_it_waits_for(nurse, anon):
    missing = submit(anon, "aetna", MISSING_CD22)
    failing = submit(anon, "fepblue", CD22_NEGATIVE)
    queue = nurse.get("/review").text
    assert "Missing information" in row_of(queue, missing["id"])
    assert "Criteria not met: needs a physician" in row_of(queue, failing["id"])
    nurse.post(f"/pas/review/{missing['id']}", json={"decision": "request-info", "note": "send the CD22 report",
                                                     "concepts": ["cd22-status"]})
    queue = nurse.get("/review").text
    assert "Information requested: with the provider" in row_of(queue, missing["id"])
    assert "since " in row_of(queue, missing["id"])  # the provider was asked at this time
    counts = re.search(r'<p class="counts" id="state-counts">(.*?)</p>', queue, re.S).group(1)
    listed = len(re.findall(r'data-response-id="', queue))
    assert sum(int(n) for n in re.findall(r": (\d+)</a>", counts)) == listed  # every open case counted once
    only = nurse.get("/review", params={"state": "would-deny"}).text
    assert failing["id"] in only and missing["id"] not in only
    assert "Not met: CD22" in nurse.get(f"/review/{failing['id']}").text  # the engine's finding, in one line


def test_search_finds_a_pa_number_or_a_member_id(nurse, anon):
    member = f"M-{uuid.uuid4().hex[:8]}"
    case = submit(anon, "aetna", MISSING_CD22, member=member)
    number = review_action(case)["number"]
    npi = "1999999992"
    by_npi = submit(anon, "aetna", MISSING_CD22, npi=npi)
    found = nurse.get("/review", params={"q": npi, "status": "all"}).text
    assert by_npi["id"] in found and case["id"] not in found
    for q in (number, member):
        found = nurse.get("/review", params={"q": q, "status": "all"}).text
        assert case["id"] in found and found.count("data-response-id=") == 1, q
    assert "data-response-id=" not in nurse.get("/review", params={"q": "nobody-like-this"}).text


def test_a_taken_case_is_decided_by_its_holder_only(nurse, physician, anon, storage):
    case = submit(anon, "aetna", MISSING_CD22)
    taken = physician.post(f"/review/{case['id']}/take", data=form(physician), follow_redirects=False)
    assert taken.status_code == 303
    page = nurse.get(f"/review/{case['id']}").text
    assert f"{PHYSICIAN} is working this case" in page
    refused = nurse.post(f"/review/{case['id']}/approve", data=form(nurse, note="fine by me", months="6"))
    assert refused.status_code == 409 and "fine by me" in refused.text  # the typed note is kept
    assert nurse.post(f"/review/{case['id']}/take", data=form(nurse)).status_code == 409
    mine = physician.get("/review", params={"mine": "1"}).text
    assert case["id"] in mine and row_of(mine, case["id"]).count(PHYSICIAN) == 1
    physician.post(f"/review/{case['id']}/release", data=form(physician))
    with storage.sessions() as session:  # who took and who released it, in the claim's trail
        claim_id = session.scalar(select(Claim.id).where(Claim.response_id == case["id"]))
        acts = session.execute(select(ClaimEvent.action, ClaimEvent.actor).where(ClaimEvent.claim_id == claim_id)).all()
    assert ("take", PHYSICIAN) in acts and ("release", PHYSICIAN) in acts
    assert nurse.post(f"/review/{case['id']}/take", data=form(nurse), follow_redirects=False).status_code == 303


def test_a_case_decided_meanwhile_says_so_and_keeps_the_note(nurse, physician, anon):
    case = submit(anon, "aetna", MISSING_CD22)
    physician.post(f"/pas/review/{case['id']}", json={"decision": "approve", "note": "CD22 on file"})
    late = nurse.post(f"/review/{case['id']}/request-info",
                      data=form(nurse, note="please send the flow report", concepts="cd22-status"))
    assert late.status_code == 409
    assert "already approved while you had it open" in late.text and "please send the flow report" in late.text
    assert "ClaimResponse/" not in late.text


def test_a_denial_is_previewed_then_signed_and_offers_a_peer_to_peer(physician, anon):
    case = submit(anon, "fepblue", CD22_NEGATIVE)
    fields = form(physician, note="CD22 negative on flow", concepts="cd22-status")
    preview = physician.post(f"/review/{case['id']}/deny", data=fields)
    assert preview.status_code == 200 and "Sign and send the denial" in preview.text
    assert "Peer-to-peer review and appeal" in preview.text and "CD22 negative on flow" in preview.text
    assert anon.get(f"/fhir/ClaimResponse/{case['id']}").json()["meta"]["versionId"] == "1"  # nothing sent yet
    signed = physician.post(f"/review/{case['id']}/deny", data={**fields, "confirm": "yes"}, follow_redirects=False)
    assert signed.status_code == 303
    denied = anon.get(f"/fhir/ClaimResponse/{case['id']}").json()
    assert review_action(denied)["code"] == "A3"
    assert any(n["text"].startswith("Peer-to-peer review and appeal") for n in denied["processNote"])
    page = physician.get(signed.headers["location"]).text
    assert "Decisions and notes" in page and "CD22 negative on flow" in page and PHYSICIAN in page
    letter = physician.get(f"/review/{case['id']}/letter")  # printable, for every final decision
    assert letter.status_code == 200 and denied["disposition"] in letter.text
    assert "Peer-to-peer review and appeal" in letter.text and PHYSICIAN in letter.text
    assert "CD22 negative on flow" in letter.text and "1980-01-01" not in letter.text
    open_case = submit(anon, "aetna", MISSING_CD22)
    assert physician.get(f"/review/{open_case['id']}/letter").status_code == 409
    assert 'id="next-case"' in page or "Back to the queue" in page


def test_answers_that_disagree_with_the_chart_are_flagged(nurse, anon):
    """The test requests' Patient is born 1980-01-01: an answered age that differs is flagged, a matching one not."""
    true_age = date.today().year - 1980
    wrong = submit(anon, "aetna", {**MISSING_CD22, "age-years": true_age - 6})
    page = nurse.get(f"/review/{wrong['id']}").text
    assert "Data disagree" in page and f"({true_age})" in page
    right = submit(anon, "aetna", {**MISSING_CD22, "age-years": true_age})
    assert "Data disagree" not in nurse.get(f"/review/{right['id']}").text


def test_the_operator_reads_sign_ins_tokens_decisions_and_refusals_on_the_access_trail(desk, nurse, anon):
    """Issue 20: the access trail on the operator's page, the same rows as GET /fhir/AuditEvent."""
    sign_in(anon, "no-such-user", "wrong password here")
    nurse.get("/reports/prior-authorization?format=json")  # refused: a nurse reads no report
    case = submit(anon, "aetna", MISSING_CD22)
    nurse.post(f"/pas/review/{case['id']}", json={"decision": "request-info", "note": "send it",
                                                  "concepts": ["cd22-status"]})
    operator = signed_in(desk.url, OPERATOR)
    try:
        page = operator.get("/review/access").text
        assert "desk sign-in refused" in page and "no-such-user" in page
        assert "desk sign-in (nurse-reviewer)" in page
        assert f"asked for information by nurse reviewer {NURSE}" in page
        assert "refused (403) GET" in page
        refused = operator.get("/review/access", params={"refused": "1"}).text
        assert "refused (403) GET" in refused and "asked for information by" not in refused
        assert "M123" not in page and "1980-01-01" not in page  # no patient identifiers
    finally:
        operator.close()
    assert nurse.get("/review/access").status_code == 403
