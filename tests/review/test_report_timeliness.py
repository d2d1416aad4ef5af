"""The report's durations (never negative, minutes under an hour), CMS-0057-F timeliness (72 hours expedited,
7 days standard), per-payer columns and drill-down links: pure functions, then over HTTP on SQLite and PostgreSQL
against a hand count of the seeded May 2024 rows (sub-second decisions included)."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import select

from service.config import Settings
from service.pas.submit import DUE_WITHIN
from service.review.report import (
    TIMEFRAMES,
    Determination,
    build_report,
    duration_text,
    measure,
    report_csv,
    seconds_between,
    timeliness,
)
from service.review.reporting import presets, queue_link
from service.storage import open_storage
from service.storage.tables import Claim, ClaimResponseRow
from tests.smart.axe import assert_accessible
from tests.support.browser import BROWSER_TESTS, launch_chromium, save_screenshot

T0 = datetime(2025, 1, 1, 9, 0, 0, 700000, tzinfo=UTC)  # receipt to the microsecond, as claims.created_at
MAY = "/reports/prior-authorization?from=2024-05-01&to=2024-05-31"
MARCH = "/reports/prior-authorization?from=2024-03-01&to=2024-03-31"
# Counted by hand from the May rows of seed.SEEDED (decisions cut to the second, receipts cut the same way):
#   aetna std 0 s, aetna exp 45 s, aetna std 2700 s, bcbst exp 80 h (late), bcbst std 170 h (late),
#   fepblue std 0 s, nanthealth exp 90 s
MAY_GROUPS = {
    "all": {"requests": 7, "approved": 5, "denied": 2, "pended": 0, "decided": 7,
            "mean_hours_to_decision": 35.83,  # 902835 s / 7 = 128976.4 s
            "median_hours_to_decision": 0.03},  # 0 0 45 [90] 2700 288000 612000
    "standard": {"requests": 4, "approved": 3, "denied": 1, "pended": 0, "decided": 4,
                 "mean_hours_to_decision": 42.69,  # 614700 s / 4
                 "median_hours_to_decision": 0.38},  # 0 [0 2700] 612000: 1350 s
    "expedited": {"requests": 3, "approved": 2, "denied": 1, "pended": 0, "decided": 3,
                  "mean_hours_to_decision": 26.68,  # 288135 s / 3
                  "median_hours_to_decision": 0.03},  # 45 [90] 288000
}
MAY_TIMELINESS = {
    "all": {"timeframe_hours": None, "decided_within_timeframe": 5, "decided_within_timeframe_percent": 71.4,
            "decided_past_timeframe": 2, "mean_seconds_to_decision": 128976.4, "median_seconds_to_decision": 90,
            "open": 0, "open_past_due": 0, "oldest_open_received": None, "oldest_open_seconds": None},
    "standard": {"timeframe_hours": 168, "decided_within_timeframe": 3, "decided_within_timeframe_percent": 75.0,
                 "decided_past_timeframe": 1, "mean_seconds_to_decision": 153675, "median_seconds_to_decision": 1350,
                 "open": 0, "open_past_due": 0},
    "expedited": {"timeframe_hours": 72, "decided_within_timeframe": 2, "decided_within_timeframe_percent": 66.7,
                  "decided_past_timeframe": 1, "mean_seconds_to_decision": 96045, "median_seconds_to_decision": 90,
                  "open": 0, "open_past_due": 0},
}
# Shown in the HTML: minutes under an hour, hours (2 decimals) above.
MAY_SHOWN = {("all", "mean_hours_to_decision"): "35.83 h", ("all", "median_hours_to_decision"): "1 min",
             ("standard", "mean_hours_to_decision"): "42.69 h", ("standard", "median_hours_to_decision"): "22 min",
             ("expedited", "mean_hours_to_decision"): "26.68 h", ("expedited", "median_hours_to_decision"): "1 min"}


def row(priority: str, decision: str, received: datetime, decided: datetime | None, payer: str = "aetna"):
    return Determination(priority, decision, received, decided, (), payer)


# --- pure ---------------------------------------------------------------------------------------------

def test_an_instant_decision_stored_to_the_second_takes_zero_seconds_not_less():
    decided = T0.replace(microsecond=0)  # what claims.decided_at holds for a decision in the same second
    assert decided < T0 and seconds_between(T0, decided) == 0
    assert seconds_between(T0, decided - timedelta(minutes=5)) == 0  # clamped, whatever the clocks did
    assert seconds_between(T0, T0.replace(microsecond=0) + timedelta(seconds=45)) == 45
    assert seconds_between(T0.replace(microsecond=999999), T0.replace(microsecond=0) + timedelta(seconds=1)) == 1
    instant = [row("standard", "approve", T0, decided), row("standard", "deny", T0, decided)]
    out = measure(instant)
    assert out["mean_hours_to_decision"] == 0.0 and str(out["mean_hours_to_decision"]) == "0.0"
    assert str(out["median_hours_to_decision"]) == "0.0"
    text = report_csv(build_report(instant, T0.date(), T0.date(), None, T0))
    values = [line.rsplit(",", 1)[1] for line in text.splitlines()[1:]]
    assert not [v for v in values if v.startswith("-")]
    assert ",all,mean_hours_to_decision,0.0" in text and ",all,mean_seconds_to_decision,0.0" in text


@pytest.mark.parametrize("seconds, hours, shown", [
    (None, None, "—"), (0, None, "under 1 min"), (59.9, None, "under 1 min"), (60, None, "1 min"),
    (119, None, "1 min"), (2700, None, "45 min"), (3599, None, "59 min"), (3600, None, "1.0 h"),
    (98742.9, 27.43, "27.43 h"), (1350, 0.38, "22 min"), (108000, None, "30.0 h")])
def test_durations_read_in_minutes_under_an_hour_and_hours_above(seconds, hours, shown):
    assert duration_text(seconds, hours) == shown


def test_the_timeframes_are_the_rules_and_the_queue_clock():
    assert TIMEFRAMES == DUE_WITHIN == {"expedited": timedelta(hours=72), "standard": timedelta(days=7)}


def test_timeliness_counts_the_timeframe_boundary_as_in_time_and_open_requests_as_of_now():
    base = T0.replace(microsecond=0)
    rows = [row("expedited", "approve", T0, base + timedelta(hours=72)),  # exactly 72 h: in time
            row("expedited", "deny", T0, base + timedelta(hours=72, seconds=1)),  # one second late
            row("standard", "approve", T0, base + timedelta(days=7)),
            row("standard", "deny", T0, base + timedelta(days=7, seconds=1)),
            row("standard", "pend", T0 - timedelta(days=9), None),  # open, past 7 days
            row("standard", "pend", T0 - timedelta(days=2), None),  # open, in time
            row("expedited", "pend", T0 - timedelta(hours=73), None)]  # open, past 72 h
    now = T0 + timedelta(hours=1)
    expedited = timeliness([r for r in rows if r.priority == "expedited"], now, "expedited")
    assert (expedited["timeframe_hours"], expedited["decided_within_timeframe"], expedited["decided_past_timeframe"],
            expedited["decided_within_timeframe_percent"]) == (72, 1, 1, 50.0)
    assert (expedited["open"], expedited["open_past_due"]) == (1, 1)
    assert expedited["oldest_open_seconds"] == 74 * 3600
    every = timeliness(rows, now)
    assert (every["timeframe_hours"], every["decided_within_timeframe"], every["open"], every["open_past_due"]) == (
        None, 2, 3, 2)
    assert every["oldest_open_received"] == (T0 - timedelta(days=9)).isoformat()
    assert every["oldest_open_hours"] == 9 * 24 + 1 and every["oldest_open_seconds"] == (9 * 24 + 1) * 3600
    none = timeliness([], now, "standard")
    assert none["decided_within_timeframe_percent"] is None and none["oldest_open_seconds"] is None


def test_each_payer_named_gets_its_column_even_with_no_requests_and_the_csv_can_carry_them():
    rows = [row("standard", "approve", T0, T0 + timedelta(hours=2), "aetna"),
            row("expedited", "deny", T0, T0 + timedelta(minutes=30), "bcbst")]
    report = build_report(rows, T0.date(), T0.date(), None, T0, ["aetna", "bcbst", "fepblue"])
    assert list(report["payers"]) == ["aetna", "bcbst", "fepblue"]
    assert report["payers"]["fepblue"]["groups"]["all"]["requests"] == 0
    assert report["payers"]["bcbst"]["groups"]["expedited"]["denied"] == 1
    assert report["payers"]["bcbst"]["timeliness"]["expedited"]["median_seconds_to_decision"] == 1800
    assert report["timeliness"]["all"]["decided_within_timeframe"] == 2
    plain = list(csv.DictReader(io.StringIO(report_csv(report))))
    assert {r["payer"] for r in plain} == {"all"}
    wide = list(csv.DictReader(io.StringIO(report_csv(report, by_payer=True))))
    assert {r["payer"] for r in wide} == {"all", "aetna", "bcbst", "fepblue"}
    cells = {(r["payer"], r["priority"], r["measure"]): r["value"] for r in wide}
    assert cells[("aetna", "standard", "mean_hours_to_decision")] == "2.0"
    assert cells[("fepblue", "all", "mean_hours_to_decision")] == ""
    assert cells[("bcbst", "expedited", "decided_within_timeframe")] == "1"


def test_queue_links_name_the_period_payer_priority_and_decision_and_presets_cover_quarters_and_years():
    assert queue_link("aetna", "pended", "expedited") == "/review?payer=aetna&status=pended&priority=expedited"
    assert queue_link(None, "all", "all") == "/review?status=all"
    assert queue_link("", "pended", None) == "/review?status=pended"
    assert queue_link("bcbst", "all", "standard", start=date(2024, 5, 1), end="2024-05-31", decision="deny") == (
        "/review?payer=bcbst&status=all&priority=standard&decision=deny&from=2024-05-01&to=2024-05-31")
    assert queue_link(None, "pended", "all", start="2024-03-01", end="2024-03-31", overdue=True) == (
        "/review?status=pended&from=2024-03-01&to=2024-03-31&overdue=1")
    got = {label: (start, end) for label, start, end in presets(date(2025, 5, 14))}
    assert got == {"This quarter": (date(2025, 4, 1), date(2025, 5, 14)),
                   "Last quarter": (date(2025, 1, 1), date(2025, 3, 31)),
                   "This year": (date(2025, 1, 1), date(2025, 5, 14)),
                   "Last year": (date(2024, 1, 1), date(2024, 12, 31))}
    assert {label: (s, e) for label, s, e in presets(date(2025, 2, 3))}["Last quarter"] == (
        date(2024, 10, 1), date(2024, 12, 31))


# --- over HTTP ------------------------------------------------------------------------------------------


def cell(html: str, attrs: str) -> str:
    """The text of the <td> with exactly these attributes (tags inside stripped)."""
    found = re.search(rf"<td {attrs}>(.*?)</td>", html, re.S)
    assert found, attrs
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def link_in(html: str, attrs: str) -> str | None:
    found = re.search(rf"<td {attrs}>(.*?)</td>", html, re.S)
    assert found, attrs
    href = re.search(r'href="([^"]+)"', found.group(1))
    return unescape(href.group(1)) if href else None


def test_may_durations_and_timeliness_equal_the_hand_count_in_json(operator):
    report = operator.get(MAY + "&format=json").json()
    for group, expected in MAY_GROUPS.items():
        assert {k: report["groups"][group][k] for k in expected} == expected, group
    for group, expected in MAY_TIMELINESS.items():
        assert {k: report["timeliness"][group][k] for k in expected} == expected, group
    each = report["payers"]
    assert list(each) == ["aetna", "bcbsnc", "bcbst", "fepblue", "nanthealth"]
    assert each["fepblue"]["groups"]["all"]["mean_hours_to_decision"] == 0.0  # decided 0.999999 s "before" receipt
    assert each["aetna"]["timeliness"]["all"]["mean_seconds_to_decision"] == 915  # (0 + 45 + 2700) / 3
    assert each["bcbst"]["timeliness"]["all"]["decided_past_timeframe"] == 2
    assert each["bcbsnc"]["groups"]["all"]["requests"] == 0


def test_may_csv_never_says_minus_zero_and_keeps_hours(operator):
    text = operator.get(MAY + "&format=csv").text
    assert not [r for r in csv.DictReader(io.StringIO(text)) if r["value"].startswith("-")]
    table = {(r["priority"], r["measure"]): r["value"] for r in csv.DictReader(io.StringIO(text))}
    for group, expected in MAY_GROUPS.items():
        for name, value in expected.items():
            assert table[(group, name)] == str(value), (group, name)
    assert table[("standard", "decided_within_timeframe_percent")] == "75.0"
    assert table[("expedited", "open_past_due")] == "0"
    fep = {(r["priority"], r["measure"]): r["value"]
           for r in csv.DictReader(io.StringIO(operator.get(MAY + "&payer=fepblue&format=csv").text))}
    assert fep[("all", "mean_hours_to_decision")] == "0.0" and fep[("all", "median_hours_to_decision")] == "0.0"
    wide = list(csv.DictReader(io.StringIO(operator.get(MAY + "&format=csv&by=payer").text)))
    by = {(r["payer"], r["priority"], r["measure"]): r["value"] for r in wide}
    assert by[("nanthealth", "expedited", "mean_seconds_to_decision")] == "90.0"
    assert by[("all", "all", "requests")] == "7" and by[("aetna", "all", "requests")] == "3"
    bad = operator.get(MAY + "&format=csv&by=plan")
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["by"]


def test_may_html_shows_minutes_timeliness_and_payers_side_by_side(physician):
    html = physician.get(MAY).text
    for (group, key), shown in MAY_SHOWN.items():
        assert cell(html, f'data-group="{group}" data-measure="{key}"') == shown, (group, key)
    assert "-0.0" not in html
    assert cell(html, 'data-group="standard" data-timeliness="decided_within_timeframe_percent"') == "75.0 %"
    assert cell(html, 'data-group="expedited" data-timeliness="decided_within_timeframe"') == "2 of 3"
    assert cell(html, 'data-group="all" data-timeliness="decided_past_timeframe"') == "2"
    headers = re.findall(r'<th scope="col">([^<]+)</th>', html.split('class="by-payer"')[1].split("</thead>")[0])
    assert headers == ["Measure", "Aetna", "Blue Cross and Blue Shield of North Carolina",
                       "BlueCross BlueShield of Tennessee", "FEP Blue (Federal Employee Program)", "NantHealth",
                       "All payers"]
    assert cell(html, 'data-payer="fepblue" data-group="all" data-key="mean"') == "under 1 min"
    assert cell(html, 'data-payer="aetna" data-group="all" data-key="mean"') == "15 min"  # 915 s
    assert cell(html, 'data-payer="bcbst" data-group="expedited" data-key="within"') == "0.0 %"
    assert cell(html, 'data-payer="all" data-group="all" data-key="requests"') == "7"
    assert link_in(html, 'data-payer="bcbst" data-group="standard" data-key="requests"') == (
        "/review?payer=bcbst&status=all&priority=standard&from=2024-05-01&to=2024-05-31")
    assert link_in(html, 'data-payer="bcbsnc" data-group="all" data-key="requests"') is None  # 0: nothing to open
    times = html.split('id="chart-2"')[1].split("</svg>")[0]  # the times chart words its values the same way
    assert ">1 min</text>" in times and ">22 min</text>" in times and ">42.69 h</text>" in times


def test_march_open_requests_past_due_link_to_their_cases_in_the_queue(physician, nurse, desk):
    html = physician.get(MARCH).text
    assert cell(html, 'data-group="all" data-timeliness="open_past_due"') == "2"
    assert cell(html, 'data-group="standard" data-timeliness="decided_within_timeframe_percent"') == "100.0 %"
    href = link_in(html, 'data-payer="aetna" data-group="standard" data-key="open_past_due"')
    assert href == "/review?payer=aetna&status=pended&priority=standard&from=2024-03-01&to=2024-03-31&overdue=1"
    assert link_in(html, 'data-group="expedited" data-timeliness="open_past_due"') == (
        "/review?status=pended&priority=expedited&from=2024-03-01&to=2024-03-31&overdue=1")
    report = physician.get(MARCH + "&format=json").json()["timeliness"]
    assert (report["standard"]["open_past_due"], report["expedited"]["open_past_due"]) == (1, 1)
    assert report["all"]["oldest_open_received"] == "2024-03-12T12:00:00+00:00"
    age = (datetime.now(UTC) - datetime(2024, 3, 12, 12, tzinfo=UTC)).total_seconds()
    assert abs(report["all"]["oldest_open_seconds"] - age) < 300
    assert "(received 2024-03-12 12:00 UTC)" in cell(html, 'data-group="all" data-timeliness="oldest_open_seconds"')
    # the link opens the queue (a reviewer's page) on exactly the seeded aetna standard pended case
    storage = open_storage(Settings(data_dir=desk.data_dir, database_url=desk.database_url))
    try:
        with storage.sessions() as s:
            number = s.scalar(select(ClaimResponseRow.auth_number).join(Claim, Claim.id == ClaimResponseRow.claim_id)
                              .where(Claim.created_at == datetime(2024, 3, 12, 12, tzinfo=UTC)))
    finally:
        storage.close()
    queue = nurse.get(href)
    assert queue.status_code == 200 and number in queue.text
    assert "PA-SEED" in queue.text and queue.text.count("PA-SEED") == queue.text.count(number)


def test_period_presets_are_links_on_the_page(operator):
    html = operator.get(MAY).text
    names = re.findall(r'<nav class="presets"[^>]*>(.*?)</nav>', html, re.S)[0]
    assert [unescape(n) for n in re.findall(r">([^<]+)</a>", names)] == [
        "This quarter", "Last quarter", "This year", "Last year"]
    year = re.search(r'href="([^"]+)">Last year<', names).group(1)
    last = datetime.now(UTC).year - 1
    assert unescape(year) == f"/reports/prior-authorization?from={last}-01-01&to={last}-12-31"


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b


def open_as(browser, desk, http, path: str, width: int = 1366):
    """A Chromium page with `http`'s desk session (its cookie), at `path`."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.add_cookies([{"name": "pa_review", "value": http.cookies.get("pa_review"), "url": desk.url}])
    page = context.new_page()
    page.goto(desk.url + path)
    return page


@BROWSER_TESTS[0]
@BROWSER_TESTS[1]
def test_the_report_in_chromium_is_accessible_and_fits_a_phone(desk_backend, desk, physician, browser):
    if desk_backend[0] != "sqlite":
        pytest.skip("the page is the same on both backends; Chromium runs once")
    page = open_as(browser, desk, physician, MAY)
    assert page.locator('td[data-group="all"][data-measure="median_hours_to_decision"]').inner_text() == "1 min"
    link = page.get_by_role("link", name="2 approved expedited requests, all payers", exact=False)
    assert link.first.get_attribute("href") == (
        "/review?status=all&priority=expedited&decision=approve&from=2024-05-01&to=2024-05-31")
    assert_accessible(page, "the report, May 2024")
    save_screenshot(page, "review-report-timeliness.png")
    phone = open_as(browser, desk, physician, MAY, width=390)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # wide tables scroll in their own region
    save_screenshot(phone, "review-report-timeliness-phone.png")
