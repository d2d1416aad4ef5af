"""The queue paged by keyset (issue 25) on SQLite and PostgreSQL: every open case once, in due order, past the
old 500-row cap; the state filter and per-state counts in SQL, with versions stored before 0010 placed by
case_state; the patient name search; and the report's drill-down links (issue 22) listing exactly the
cases each count counts."""
from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from service.review.queue_page import PAGE_SIZE, count_page, fetch_page, read_cursor, write_cursor
from service.storage.desk import Position, QueueFilter
from service.storage.tables import Claim, ClaimResponseRow
from tests.pas.cases import CD22_NEGATIVE

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
T0 = datetime(2025, 2, 20, 9, 0, 0, 123456, tzinfo=UTC)


def case_row(i: int, *, due: datetime | None, unmet: bool | None = False, routed: bool = False,
             human: bool = False, payer: str = "aetna", name: str | None = None, scored: dict | None = None,
             decision: str = "pend") -> tuple[dict, dict]:
    claim_id, response_id = f"c{i:05d}{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    claim = {"id": claim_id, "created_at": T0 + timedelta(seconds=i % 7), "idempotency_key": f"k:{claim_id}",
             "payer_id": payer, "request": {}, "response_id": response_id, "current_version": 1,
             "decision": decision, "priority": "standard", "due_at": due, "routed_to": "physician" if routed else None,
             "patient_name": name, "member_key": f"urn:member|M{i}"}
    response = {"claim_id": claim_id, "response_id": response_id, "version": 1, "created_at": T0,
                "decision": decision, "review_code": "A4", "auth_number": f"PA-{i}", "human_reviewed": human,
                "resource": {}, "unmet": unmet, "scored": scored}
    return claim, response


def insert(storage, rows) -> None:
    with storage.sessions.begin() as session:
        session.execute(Claim.__table__.insert(), [c for c, _ in rows])
        session.execute(ClaimResponseRow.__table__.insert(), [r for _, r in rows])


def expected_state(claim: dict, response: dict) -> str:
    if claim["routed_to"]:
        return "physician"
    if response["human_reviewed"]:
        return "info-requested"
    if response["unmet"] is None:  # scored again: CD22 negative is not met, no answers is missing information
        return "would-deny" if response["scored"] else "missing"
    return "would-deny" if response["unmet"] else "missing"


def many(n: int = 530) -> list[tuple[dict, dict]]:
    """n open cases: due times with ties (several per minute), a few without a due time, every state."""
    rows = []
    for i in range(n):
        due = None if i % 101 == 0 else T0 + timedelta(days=7, minutes=i // 4)
        legacy = i % 13 == 0
        rows.append(case_row(i, due=due, unmet=None if legacy else i % 3 == 0, routed=i % 29 == 0, human=i % 31 == 0,
                             payer="fepblue" if legacy and i % 2 else "aetna",
                             scored={"answers": CD22_NEGATIVE} if legacy and i % 2 else None))
    return rows


def walk(storage, where: QueueFilter, state: str = "") -> list[list[str]]:
    pages, at = [], None
    while True:
        rows, at = fetch_page(storage, where, state, at, NOW)
        pages.append([r.response_id for r in rows])
        if at is None:
            return pages


def in_order(rows) -> list[str]:
    ordered = sorted(rows, key=lambda cr: (cr[0]["due_at"] is None, cr[0]["due_at"] or T0, cr[0]["created_at"],
                                           cr[0]["id"]))
    return [c["response_id"] for c, _ in ordered]


def test_every_open_case_is_listed_once_in_due_order_past_the_old_cap(store):
    rows = many()
    insert(store, rows)
    pages = walk(store, QueueFilter())
    assert [len(p) for p in pages] == [PAGE_SIZE] * 10 + [30]
    assert [r for p in pages for r in p] == in_order(rows)  # ties by receipt then id; no due time last


def test_the_state_filter_and_counts_are_sqls_with_old_versions_scored_again(store):
    rows = many()
    insert(store, rows)
    want = Counter(expected_state(c, r) for c, r in rows)
    counts, decided = count_page(store, QueueFilter())
    assert dict(counts) == dict(want) and decided == 0
    assert want["would-deny"] > PAGE_SIZE  # spans pages, legacy rows among them
    for state in ("would-deny", "missing", "physician", "info-requested"):
        listed = [r for p in walk(store, QueueFilter(), state) for r in p]
        assert listed == in_order([cr for cr in rows if expected_state(*cr) == state]), state
    insert(store, [case_row(9000 + i, due=None, payer="fepblue", decision="approve") for i in range(3)])
    counts, decided = count_page(store, QueueFilter(pended_only=False, payer="fepblue"))
    assert dict(counts) == dict(Counter(expected_state(c, r) for c, r in rows if c["payer_id"] == "fepblue"))
    assert decided == 3 and count_page(store, QueueFilter(pended_only=False, decision="pend"))[1] == 0


def test_a_cursor_round_trips_and_a_forged_one_is_refused():
    at = Position(T0, T0, "abc")
    assert read_cursor(write_cursor(at, 3)) == (at, 3)
    assert read_cursor(write_cursor(Position(None, T0, "x"), 2))[0].due_at is None
    for bad in ("", "!!!", write_cursor(at, 1), "W251bGwsIDEsIDIsIDNd"):
        with pytest.raises(ValueError):
            read_cursor(bad)


def test_a_patient_name_fragment_finds_every_word_and_wildcards_are_literal(store):
    rows = [case_row(1, due=T0, name="maría elena garcía lópez"), case_row(2, due=T0, name="maria garcia"),
            case_row(3, due=T0, name="ann 50%_off"), case_row(4, due=T0, name="ann 50xyoff"),
            case_row(5, due=T0, name=None)]
    insert(store, rows)
    ids = [c["response_id"] for c, _ in rows]

    def found(q: str) -> list[str]:
        return sorted(r.response_id for r in fetch_page(store, QueueFilter(search=q), "", None, NOW)[0])

    assert found("  GARCÍA   maría ") == [ids[0]]  # every word, any order, case and spaces ignored
    assert found("garc") == sorted(ids[:2]) and found("elena lopez") == []
    assert found("50%_off") == [ids[2]] and found("%") == [ids[2]] and found("_") == [ids[2]]
    assert found("PA-4") == [ids[3]] and found("M5") == [ids[4]]  # PA number and member id as before


# --- over HTTP: the next-page link and the report's drill-down --------------------------------------------------


def listed(html: str) -> list[str]:
    return re.findall(r'data-response-id="([^"]+)"', html)


def test_the_next_page_link_carries_an_opaque_cursor(nurse, storage):
    rows = [case_row(i, due=datetime(2001, 1, 1, tzinfo=UTC) + timedelta(minutes=i), payer="bcbsnc")
            for i in range(PAGE_SIZE + 7)]
    insert(storage, rows)
    first = nurse.get("/review", params={"payer": "bcbsnc"}).text
    assert listed(first) == in_order(rows)[:PAGE_SIZE] and "Page 1 of 2" in first
    following = unescape(re.search(r'<a href="([^"]+)" rel="next">Next page</a>', first).group(1))
    assert "after=" in following and "payer=bcbsnc" in following
    second = nurse.get(following).text
    assert listed(second) == in_order(rows)[PAGE_SIZE:] and 'rel="next"' not in second and "Page 2 of 2" in second
    assert nurse.get("/review", params={"after": "not-a-cursor"}).status_code == 400
    assert nurse.get("/review", params={"from": "2024-05-31", "to": "2024-05-01"}).status_code == 400


@pytest.mark.parametrize("period", ["from=2024-03-01&to=2024-03-31", "from=2024-05-01&to=2024-05-31"])
def test_each_count_in_the_report_opens_exactly_its_cases(physician, nurse, period):
    html = physician.get(f"/reports/prior-authorization?{period}").text
    links = re.findall(r'<a href="([^"]+)" aria-label="(\d+) ([^"]*): open in the queue">(\d+)</a>', html)
    assert len(links) > 20
    seen: dict[str, int] = {}
    for href, label, _, shown in links:
        href = unescape(href)
        assert label == shown and period in href
        if href not in seen:
            seen[href] = len(listed(nurse.get(href).text))
        assert seen[href] == int(shown), href
    decided = [h for h in seen if "decision=deny" in h]
    assert decided and all(seen[h] for h in decided)  # approved and denied counts open only those
