"""The desk's queue: open requests soonest due first (CMS-0057-F timeframes), what each waits for, search, my cases,
50 a page by keyset (issue 25) with its counts per state in SQL."""
from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from service.auth import policy
from service.policies.registry import all_policies
from service.review.auth import now_utc
from service.review.queue import STATES, QueueRow, case_state, queue_row
from service.review.web import page, problem_page, signed_in
from service.storage import desk
from service.storage.desk import Position, QueueFilter

router = APIRouter(tags=["reviewer desk"])
STATUSES = {"pended": "Pended only", "all": "All requests"}
PRIORITIES = {"": "Any priority", "expedited": "Expedited (72 hours)", "standard": "Standard (7 days)"}
DECISIONS = {"": "Any decision", "approve": "Approved", "deny": "Denied", "pend": "Pended"}
PAGE_SIZE = 50
STATE_FILTER = {"": "Any state", **STATES}
FILTERS = ("payer", "status", "priority", "decision", "from", "to", "overdue", "q", "state", "mine")


def write_cursor(at: Position, page_no: int) -> str:
    """An opaque `after` value: the last row's keyset and the page it ended."""
    raw = json.dumps([at.due_at.isoformat() if at.due_at else None, at.created_at.isoformat(), at.id, page_no])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def read_cursor(value: str) -> tuple[Position, int]:
    """The keyset and page number an `after` value holds; ValueError when it is not one of ours."""
    try:
        due, created, claim_id, page_no = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        at = Position(datetime.fromisoformat(due) if due else None, datetime.fromisoformat(created), str(claim_id))
    except (binascii.Error, UnicodeDecodeError, TypeError, ValueError) as exc:
        raise ValueError("not a queue position") from exc
    if at.created_at.tzinfo is None or (at.due_at is not None and at.due_at.tzinfo is None) \
            or not isinstance(page_no, int) or page_no < 2:
        raise ValueError("not a queue position")
    return at, page_no


def read_days(start: str, end: str) -> tuple[datetime | None, datetime | None]:
    """from/to as received-date bounds (inclusive UTC days): [from 00:00, to + 1 day 00:00); ValueError if bad."""
    days = [date.fromisoformat(v) if len(v) == 10 else date.fromisoformat("bad") if v else None for v in (start, end)]
    if days[0] and days[1] and days[0] > days[1]:
        raise ValueError("from after to")
    return (datetime.combine(days[0], time.min, UTC) if days[0] else None,
            datetime.combine(days[1] + timedelta(days=1), time.min, UTC) if days[1] else None)


def fetch_page(storage, where: QueueFilter, state: str, after: Position | None,
               now: datetime) -> tuple[list[QueueRow], Position | None]:
    """One page of rows after `after` and the position the next page starts from (None on the last page).
    A state filter is SQL's, except that rows stored before 0010 are placed by case_state and may drop out,
    so a page may take more than one fetch."""
    wanted: list[tuple[QueueRow, Position]] = []
    cursor = after
    while True:
        batch = desk.list_queue(storage, pended_only=where.pended_only, payer=where.payer, priority=where.priority,
                                search=where.search, assigned_to=where.assigned_to, limit=PAGE_SIZE + 1,
                                after=cursor, state=state or None, where=where)
        for claim, response in batch:
            row = queue_row(claim, response, now)
            if not state or row.state == state:
                wanted.append((row, desk.position_of(claim)))
        if len(wanted) > PAGE_SIZE or len(batch) <= PAGE_SIZE:
            break
        cursor = desk.position_of(batch[-1][0])
    shown = wanted[:PAGE_SIZE]
    return [row for row, _ in shown], shown[-1][1] if len(wanted) > PAGE_SIZE else None


def count_page(storage, where: QueueFilter) -> tuple[Counter, int]:
    """(open cases per state, decided cases) under the filters, before the state filter: SQL counts, plus
    case_state for the versions stored before 0010 only."""
    counts, legacy, decided = desk.count_queue(storage, where)
    found = Counter(counts)
    found.update(case_state(c, r)[0] for c, r in legacy)
    return found, decided


@router.get("/review", include_in_schema=False)
async def show_queue(request: Request, payer: str = "", status: str = "pended", priority: str = "", q: str = "",
                     state: str = "", mine: str = "", decision: str = "", overdue: str = "",
                     received_from: str = Query("", alias="from"), received_to: str = Query("", alias="to"),
                     after: str = Query("", max_length=512)):
    """Requests sorted by due time, with time left and what each waits for (counted per state); search by
    PA number, member id, provider NPI or patient name; my cases; received dates, decision and past due
    (the report's drill-down); 50 a page, the next one by an opaque `after` cursor."""
    reviewer = await signed_in(request, policy.REVIEW)
    payers = {pid: p.payer_name for pid, p in sorted(all_policies().items())}
    if (payer and payer not in payers) or status not in STATUSES or priority not in PRIORITIES \
            or state not in STATE_FILTER or decision not in DECISIONS or len(q) > 128:
        return problem_page(request, 400, "Unknown filter",
                            "Choose a payer, status, state and priority from the lists on the queue page.", reviewer)
    try:
        start, stop = read_days(received_from, received_to)
        at, page_no = read_cursor(after) if after else (None, 1)
    except ValueError:
        return problem_page(request, 400, "Unknown filter", "Received dates are YYYY-MM-DD, the first not after the "
                            "last; a page link works only as the queue gave it.", reviewer)
    now = now_utc()
    where = QueueFilter(pended_only=status == "pended", payer=payer or None, priority=priority or None,
                        search=q.strip() or None, assigned_to=reviewer.id if mine else None, received_from=start,
                        received_before=stop, decision=decision or None, overdue_at=now if overdue else None)
    storage = request.app.state.storage
    rows, following = await run_in_threadpool(fetch_page, storage, where, state, at, now)
    counts, decided = await run_in_threadpool(count_page, storage, where)
    total = counts.get(state, 0) if state else sum(counts[s] for s in STATES) + decided
    chosen = {"payer": payer, "status": status, "priority": priority, "decision": decision, "from": received_from,
              "to": received_to, "overdue": overdue, "q": q, "state": state, "mine": mine}

    def link(**changes: str) -> str:
        return "/review?" + urlencode({k: v for k, v in {**chosen, **changes}.items() if v})

    return page(request, "review/queue.html", reviewer=reviewer, rows=rows, total=total, now=now, payers=payers,
                statuses=STATUSES, priorities=PRIORITIES, decisions=DECISIONS, states=STATE_FILTER, counts=counts,
                chosen=chosen, page_no=page_no, pages=max(1, -(-total // PAGE_SIZE)), link=link,
                next_link=link(after=write_cursor(following, page_no + 1)) if following else "")
