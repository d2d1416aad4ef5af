"""The desk's queue: open requests soonest due first (CMS-0057-F timeframes), what each waits for, search, my cases."""
from __future__ import annotations

from collections import Counter
from functools import partial
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from service.auth import policy
from service.policies.registry import all_policies
from service.review.auth import now_utc
from service.review.queue import STATES, queue_row
from service.review.web import page, problem_page, signed_in
from service.storage import desk

router = APIRouter(tags=["reviewer desk"])
STATUSES = {"pended": "Pended only", "all": "All requests"}
PRIORITIES = {"": "Any priority", "expedited": "Expedited (72 hours)", "standard": "Standard (7 days)"}
PAGE_SIZE = 50
STATE_FILTER = {"": "Any state", **STATES}


@router.get("/review", include_in_schema=False)
async def show_queue(request: Request, payer: str = "", status: str = "pended", priority: str = "", q: str = "",
                     state: str = "", mine: str = "", page_no: int = Query(1, alias="page", ge=1, le=10_000)):
    """Pended requests sorted by due time, with time left and what each waits for (counted per state);
    search by PA number, member id or provider NPI; my cases; 50 a page."""
    reviewer = await signed_in(request, policy.REVIEW)
    payers = {pid: p.payer_name for pid, p in sorted(all_policies().items())}
    if (payer and payer not in payers) or status not in STATUSES or priority not in PRIORITIES \
            or state not in STATE_FILTER or len(q) > 128:
        return problem_page(request, 400, "Unknown filter",
                            "Choose a payer, status, state and priority from the lists on the queue page.", reviewer)
    pairs = await run_in_threadpool(partial(
        desk.list_queue, request.app.state.storage, pended_only=status == "pended", payer=payer or None,
        priority=priority or None, search=q.strip() or None, assigned_to=reviewer.id if mine else None))
    now = now_utc()
    rows = [queue_row(c, r, now) for c, r in pairs]
    counts = Counter(row.state for row in rows)  # before the state filter: what each choice would show
    if state:
        rows = [row for row in rows if row.state == state]
    shown = rows[(page_no - 1) * PAGE_SIZE:page_no * PAGE_SIZE]
    chosen = {"payer": payer, "status": status, "priority": priority, "q": q, "state": state, "mine": mine}
    return page(request, "review/queue.html", reviewer=reviewer, rows=shown, total=len(rows), now=now, payers=payers,
                statuses=STATUSES, priorities=PRIORITIES, states=STATE_FILTER, counts=counts, chosen=chosen,
                page_no=page_no,
                pages=max(1, -(-len(rows) // PAGE_SIZE)),
                link=lambda n: "/review?" + urlencode({**{k: v for k, v in chosen.items() if v}, "page": n}))


