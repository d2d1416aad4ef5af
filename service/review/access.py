"""The operator's access trail (issue 20): every access to patient data, desk sign-in, token issued or
refused, reviewer decision and refused call, newest first; the same rows GET /fhir/AuditEvent serves."""
from __future__ import annotations

from functools import partial
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from service.api.deps import StorageDep
from service.auth import policy
from service.review.web import page, signed_in
from service.storage.access import list_access

router = APIRouter(tags=["reviewer desk"])
PAGE_SIZE = 100
KINDS = {"session": "desk sign-in", "token": "access token", "route": "refused call"}
OUTCOMES = {"0": "allowed", "4": "refused", "8": "failed"}
ACTIONS = {"C": "create", "R": "read", "U": "decide / update", "D": "delete", "E": "call"}


@router.get("/review/access", include_in_schema=False)
async def show_access(request: Request, storage: StorageDep, agent: str = Query("", max_length=256), refused: str = "",
                      page_no: int = Query(1, alias="page", ge=1, le=10_000)):
    """Operators only: the access trail, 100 a page, by client or account and refused-only."""
    reviewer = await signed_in(request, policy.AUDIT_ALL)
    rows = await run_in_threadpool(partial(list_access, storage, agent=agent or None,
                                           every_owner=True, limit=PAGE_SIZE * page_no + 1))
    if refused:
        rows = [r for r in rows if r.outcome != "0"]
    shown = rows[(page_no - 1) * PAGE_SIZE:page_no * PAGE_SIZE]
    chosen = {"agent": agent, "refused": refused}

    def link(n: int) -> str:
        return "/review/access?" + urlencode({**{k: v for k, v in chosen.items() if v}, "page": n})

    return page(request, "review/access.html", reviewer=reviewer, rows=shown, kinds=KINDS, outcomes=OUTCOMES,
                actions=ACTIONS, chosen=chosen, page_no=page_no, more=len(rows) > page_no * PAGE_SIZE,
                link=link)
