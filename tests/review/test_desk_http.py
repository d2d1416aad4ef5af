"""The desk over HTTP, on SQLite and PostgreSQL: sign-in, lockout, CSRF, roles, actions, the report's numbers."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update

from service.storage.tables import Claim, ClaimEvent, ReviewerAccount
from tests.pas.cases import CD22_NEGATIVE, MISSING_CD22
from tests.pas.read import review_action
from tests.review.desk import NURSE, PASSWORD, make_account, sign_in, signed_in, submit
from tests.review.seed import EXPECTED, FROM, REASONS, TO

REPORT = f"/reports/prior-authorization?from={FROM}&to={TO}"


def version_of(http: httpx.Client, response_id: str) -> str:
    return http.get(f"/fhir/ClaimResponse/{response_id}").json()["meta"]["versionId"]


def test_sign_in_sets_a_strict_session_cookie_and_pages_a_strict_csp(desk):
    with httpx.Client(base_url=desk.url, timeout=30) as http:
        login = http.get("/review/login")
        csp = login.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert "script-src 'self'" in csp and "<script" not in login.text and "style=" not in login.text
        answer = sign_in(http, NURSE)
        assert answer.status_code == 303 and answer.headers["location"] == "/review"
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("pa_review="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # PUBLIC_BASE_URL is http here; https turns Secure on
        assert http.get("/review/session").json()["role"] == "nurse-reviewer"


def test_sign_in_without_its_csrf_token_is_refused(anon):
    anon.get("/review/login")
    answer = anon.post("/review/login", data={"username": NURSE, "password": PASSWORD, "csrf_token": "forged"})
    assert answer.status_code == 403 and "pa_review=" not in answer.headers.get("set-cookie", "")


def test_five_failures_lock_the_account_for_fifteen_minutes(desk, storage):
    assert make_account(desk.data_dir, desk.database_url, "lockme", "nurse-reviewer").returncode == 0
    with httpx.Client(base_url=desk.url, timeout=30) as http:
        for _ in range(5):
            refused = sign_in(http, "lockme", "not the password")
            assert refused.status_code == 401 and "Sign-in refused" in refused.text
        assert sign_in(http, "lockme").status_code == 401  # the right password, but locked
        with storage.sessions() as s:
            locked = s.scalar(select(ReviewerAccount.locked_until).where(ReviewerAccount.username == "lockme"))
        assert locked is not None and timedelta(minutes=14) < locked - datetime.now(UTC) <= timedelta(minutes=15)
        with storage.sessions.begin() as s:  # fifteen minutes later
            s.execute(update(ReviewerAccount).where(ReviewerAccount.username == "lockme")
                      .values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))
        assert sign_in(http, "lockme").status_code == 303


def test_unknown_users_and_open_redirects_get_nothing(anon, desk):
    assert sign_in(anon, "nobody-here").status_code == 401
    with httpx.Client(base_url=desk.url, timeout=30) as http:
        http.get("/review/login")
        answer = http.post("/review/login", data={"username": NURSE, "password": PASSWORD, "next": "//evil.example/x",
                                                  "csrf_token": http.cookies.get("pa_review_login")})
        assert answer.headers["location"] == "/review"


def test_csrf_is_required_on_every_post(nurse, anon):
    case = submit(anon, "aetna", MISSING_CD22)
    form = nurse.post(f"/review/{case['id']}/approve", data={"note": "ok", "months": "6"})
    assert form.status_code == 403 and form.headers["content-type"].startswith("text/html")
    api = nurse.post(f"/pas/review/{case['id']}", json={"decision": "approve", "note": "ok"},
                     headers={"x-csrf-token": "wrong"})
    assert api.status_code == 403 and api.json()["resourceType"] == "OperationOutcome"
    signout = nurse.post("/review/logout", data={})
    assert signout.status_code == 403 and nurse.get("/review/session").status_code == 200
    assert version_of(anon, case["id"]) == "1"


def test_a_nurse_cannot_deny(nurse, anon):
    case = submit(anon, "fepblue", CD22_NEGATIVE)  # a would-be denial, pended for a clinician
    assert review_action(case)["code"] == "A4"
    page = nurse.get(f"/review/{case['id']}")
    assert page.status_code == 200 and 'id="deny-submit"' not in page.text and "/deny" not in page.text
    csrf = nurse.headers["x-csrf-token"]
    forged = nurse.post(f"/review/{case['id']}/deny", data={"csrf_token": csrf, "note": "no", "concepts": "cd22-status"})
    assert forged.status_code == 403
    api = nurse.post(f"/pas/review/{case['id']}", json={"decision": "deny", "note": "no"})
    assert api.status_code == 403 and api.json()["issue"][0]["code"] == "forbidden"
    assert version_of(anon, case["id"]) == "1"


def test_a_nurse_cannot_approve_over_a_not_met_criterion_and_routes_it_to_a_physician(nurse, physician, anon, storage):
    """Issue 20: the engine found CD22 not met; a nurse's approval is refused, routing is offered and recorded,
    and a physician's approval is stated as an override naming the criterion, never "meets the criteria"."""
    case = submit(anon, "fepblue", CD22_NEGATIVE)
    page = nurse.get(f"/review/{case['id']}")
    assert page.status_code == 200 and 'id="not-met-warning"' in page.text and "CD22" in page.text
    assert 'id="approve-submit"' not in page.text and 'id="route-submit"' in page.text
    csrf = nurse.headers["x-csrf-token"]
    forged = nurse.post(f"/review/{case['id']}/approve", data={"csrf_token": csrf, "note": "looks fine", "months": "3"})
    assert forged.status_code == 403 and "route the case to a physician" in forged.text
    api = nurse.post(f"/pas/review/{case['id']}", json={"decision": "approve", "note": "looks fine"})
    assert api.status_code == 403 and version_of(anon, case["id"]) == "1"
    routed = nurse.post(f"/review/{case['id']}/route-to-physician", data={"csrf_token": csrf, "note": "CD22 neg"},
                        follow_redirects=False)
    assert routed.status_code == 303
    after = nurse.get(f"/review/{case['id']}")
    assert "Routed to a physician reviewer" in after.text and 'id="route-submit"' not in after.text
    with storage.sessions() as session:
        claim = session.scalar(select(Claim).where(Claim.response_id == case["id"]))
        assert claim.routed_to == "physician"
        assert session.scalar(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id,
                                                       ClaimEvent.action == "route-to-physician")).actor == NURSE
    physician_page = physician.get(f"/review/{case['id']}")
    assert 'id="approve-submit"' in physician_page.text and "override on clinical judgement" in physician_page.text
    done = physician.post(f"/pas/review/{case['id']}", json={"decision": "approve", "note": "flow shows dim CD22"})
    assert done.status_code == 200, done.text
    told = done.json()["disposition"]
    assert told.startswith("Approved on clinical review") and "accepted on clinical judgement" in told
    assert "CD22" in told and "meets the" not in told


def test_roles_keep_to_their_pages(nurse, operator, anon):
    assert operator.get("/review").status_code == 403
    assert operator.get("/pas/review/pended").status_code == 403
    assert nurse.get(REPORT).status_code == 403
    assert nurse.get(REPORT + "&format=json").json()["resourceType"] == "OperationOutcome"
    assert nurse.get("/review/audit").status_code == 403
    bare = anon.get(REPORT + "&format=csv")
    assert bare.status_code == 401 and bare.json()["resourceType"] == "OperationOutcome"
    page = anon.get("/review")
    assert page.status_code == 303 and page.headers["location"].startswith("/review/login?next=")
    assert anon.get("/pas/review/pended").status_code == 401


def test_request_for_information_stays_pended_and_names_what_is_needed(nurse, physician, anon, storage):
    case = submit(anon, "aetna", MISSING_CD22)
    asked = nurse.post(f"/pas/review/{case['id']}", json={
        "decision": "request-info", "concepts": ["cd22-status"], "note": "Please send the flow cytometry report."})
    assert asked.status_code == 200, asked.text
    cr = asked.json()
    assert review_action(cr) == {"code": "A4", "number": review_action(case)["number"], "reasons": ["cd22-status"]}
    assert cr["meta"]["versionId"] == "2" and cr["disposition"].startswith("Pended")
    notes = [n["text"] for n in cr["processNote"]]
    assert any(n.startswith("CD22 status (cd22-status)") and "Policy:" in n for n in notes)
    assert "Reviewer: Please send the flow cytometry report." in notes
    with storage.sessions() as s:
        claim = s.scalar(select(Claim).where(Claim.response_id == case["id"]))
        assert claim.decision == "pend" and claim.decided_at is None
        actors = s.scalars(select(ClaimEvent.actor).where(ClaimEvent.claim_id == claim.id)).all()
    assert set(actors) == {"unauthenticated client", NURSE}  # the submitter (authorization is off here), the nurse
    # then approved from the case page's form, with the period the policy leaves to the default (6 months)
    page = physician.get(f"/review/{case['id']}")
    assert 'name="months"' in page.text and 'value="6"' in page.text
    done = physician.post(f"/review/{case['id']}/approve", data={
        "csrf_token": physician.headers["x-csrf-token"], "months": "6", "note": "CD22 positive on the report."})
    assert done.status_code == 303 and done.headers["location"].endswith("?done=approve")
    final = anon.get(f"/fhir/ClaimResponse/{case['id']}").json()
    assert review_action(final)["code"] == "A1" and final["meta"]["versionId"] == "3"
    assert final["preAuthPeriod"]["start"] < final["preAuthPeriod"]["end"]


def test_bad_input_is_a_4xx_never_a_500(nurse, operator, anon):
    case = submit(anon, "aetna", MISSING_CD22)
    csrf = nurse.headers["x-csrf-token"]
    assert nurse.get("/review/no-such-case").status_code == 404
    assert nurse.post(f"/review/{case['id']}/frobnicate", data={"csrf_token": csrf}).status_code == 404
    months = nurse.post(f"/review/{case['id']}/approve", data={"csrf_token": csrf, "months": "abc", "note": "x"})
    assert months.status_code == 422 and "months" in months.text and "<form" in months.text
    empty = nurse.post(f"/review/{case['id']}/request-info", data={"csrf_token": csrf, "note": " "})
    assert empty.status_code == 422 and "concepts" in empty.text
    alien = nurse.post(f"/pas/review/{case['id']}", json={"decision": "request-info", "concepts": ["no-such"], "note": "x"})
    assert alien.status_code == 422 and alien.json()["issue"][0]["expression"] == ["concepts"]
    assert nurse.post(f"/pas/review/{case['id']}", content=b"{not json").status_code == 400
    assert nurse.get("/review?priority=urgent").status_code == 400
    seeded = re.search(r'href="/review/([0-9a-f-]{36})"', nurse.get("/review").text).group(1)  # no QR, no Bundle
    assert nurse.get(f"/review/{seeded}").status_code == 200
    assert operator.get("/reports/prior-authorization?format=xml").status_code == 400
    for query in ("from=2024-13-01", "from=2024-04-01&to=2024-03-01", "payer=acme", "to=yesterday", "from=20240301"):
        as_json = operator.get(f"/reports/prior-authorization?{query}&format=json")
        assert as_json.status_code == 400 and as_json.json()["resourceType"] == "OperationOutcome", query
    page = operator.get("/reports/prior-authorization?from=2024-13-01")
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert version_of(anon, case["id"]) == "1"


def test_the_report_equals_a_hand_count_in_json_csv_and_html(operator):
    report = operator.get(REPORT + "&format=json").json()
    assert (report["from"], report["to"], report["payer"]) == (FROM, TO, None)
    for group, expected in EXPECTED.items():
        assert {k: report["groups"][group][k] for k in expected} == expected, group
        assert report["groups"][group]["reasons"] == REASONS[group], group
    assert "no appeal process" in report["notes"]["approved_after_appeal"]

    answer = operator.get(REPORT + "&format=csv")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert list(rows[0]) == ["from", "to", "payer", "priority", "measure", "value"]
    table = {(r["priority"], r["measure"]): r["value"] for r in rows}
    assert {r["payer"] for r in rows} == {"all"} and {r["from"] for r in rows} == {FROM}
    for group, expected in EXPECTED.items():
        for measure, value in expected.items():
            assert table[(group, measure)] == str(value), (group, measure)
        for code, count in REASONS[group].items():
            assert table[(group, f"reason:{code}")] == str(count)

    html = operator.get(REPORT).text
    for group, expected in EXPECTED.items():
        for measure, value in expected.items():
            unit = " %" if measure.endswith("_percent") else " h" if measure.endswith("_decision") else ""
            assert cell(html, "measure", group, measure) == f"{value}{unit}", (group, measure)
        for code, count in REASONS[group].items():
            assert cell(html, "reason", group, code) == str(count)
    assert html.count("<svg") == 3 and "no appeal process" in html and "never extends" in html


def test_the_report_for_one_payer(operator):
    report = operator.get(REPORT + "&payer=aetna&format=json").json()
    standard = report["groups"]["standard"]
    assert (standard["requests"], standard["approved"], standard["denied"], standard["pended"]) == (5, 2, 2, 1)
    assert (standard["approved_percent"], standard["mean_hours_to_decision"], standard["median_hours_to_decision"]) == (
        40.0, 37.5, 36.0)  # 24 72 48 6: mean 150/4, median (24+48)/2
    assert report["groups"]["all"]["reasons"] == {"cd22-status": 3, "disease-status": 2, "diagnosis": 1}


def test_signing_out_ends_the_session_on_the_server(desk):
    http = signed_in(desk.url, NURSE)
    token = http.cookies.get("pa_review")
    assert http.post("/review/logout", data={"csrf_token": http.headers["x-csrf-token"]}).status_code == 303
    with httpx.Client(base_url=desk.url, timeout=30, cookies={"pa_review": token}) as replay:
        assert replay.get("/review/session").status_code == 401
    http.close()


def cell(html: str, kind: str, group: str, key: str) -> str:
    found = re.search(rf'<td data-group="{group}" data-{kind}="{re.escape(key)}">([^<]*)</td>', html)
    assert found, (kind, group, key)
    return found.group(1)
