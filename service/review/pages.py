"""The queue of pended requests (soonest due first) and the case page with its three actions."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from service.engine.evaluate import DENY, REVIEW, UNKNOWN, score_response
from service.errors import ApiError
from service.pas.request import read_submit
from service.pas.review import ACTIONS, MAX_MONTHS, approval_months, read_action
from service.policies.concepts import CONCEPTS
from service.policies.registry import all_policies, read_policy_text, require_policy
from service.review import accounts
from service.review.auth import Reviewer, now_utc
from service.review.case import list_answers, summarize_request
from service.review.criteria import highlight, judge, judge_exclusions, policy_cites
from service.review.decide import apply_action
from service.review.queue import queue_row
from service.review.web import first, page, problem_page, read_form, secure, signed_in
from service.storage import claims as repo
from service.storage import desk

router = APIRouter(tags=["reviewer desk"])
STATUSES = {"pended": "Pended only", "all": "All requests"}
PRIORITIES = {"": "Any priority", "expedited": "Expedited (72 hours)", "standard": "Standard (7 days)"}
DONE = {"approve": "Approved: a new ClaimResponse version was stored.",
        "deny": "Denied: a new ClaimResponse version was stored; the provider sees your note.",
        "request-info": "Information requested: a new pended ClaimResponse version names what is needed."}


@router.get("/review", include_in_schema=False)
async def show_queue(request: Request, payer: str = "", status: str = "pended", priority: str = ""):
    """Pended requests sorted by due time, with time left; overdue ones flagged."""
    reviewer = await signed_in(request, accounts.REVIEW)
    if isinstance(reviewer, Response):
        return reviewer
    payers = {pid: p.payer_name for pid, p in sorted(all_policies().items())}
    if (payer and payer not in payers) or status not in STATUSES or priority not in PRIORITIES:
        return problem_page(request, 400, "Unknown filter",
                            "Choose a payer, status and priority from the lists on the queue page.", reviewer)
    pairs = await run_in_threadpool(desk.list_queue, request.app.state.storage, pended_only=status == "pended",
                                    payer=payer or None, priority=priority or None)
    now = now_utc()
    rows = [queue_row(c, r, now) for c, r in pairs]
    return page(request, "review/queue.html", reviewer=reviewer, rows=rows, now=now, payers=payers, statuses=STATUSES,
                priorities=PRIORITIES, chosen={"payer": payer, "status": status, "priority": priority})


def answers_of_request(bundle: object) -> dict[str, object]:
    """The answers a request without a stored QuestionnaireResponse was scored on (read again), else none."""
    try:
        return dict(read_submit(bundle if isinstance(bundle, dict) else {}).answers)
    except ApiError:
        return {}


def load_case(storage, settings, response_id: str) -> dict | None:
    """Everything the case page shows, or None for an unknown id."""
    stored = repo.get_response(storage, response_id)
    if stored is None:
        return None
    claim = stored.claim
    policy = require_policy(claim.payer_id)
    qr = desk.questionnaire_of(storage, claim.id)
    answers = dict(qr.answers) if qr else answers_of_request(claim.request)
    det = score_response(policy, answers, default_period_months=settings.default_auth_months)
    cites = policy_cites(policy)
    text, anchors = highlight(read_policy_text(policy), cites)
    received = claim.created_at
    period = policy.periods.get(det.request_type) or policy.periods["initial"]
    return {
        "stored": stored, "claim": claim, "policy": policy, "queue": queue_row(claim, stored.response, now_utc()),
        "summary": summarize_request(claim.request or {}, answers, received.date() if received else now_utc().date()),
        "answers": list_answers(policy, qr.resource if qr else {}, answers),
        "tree": judge(policy, answers, anchors), "exclusions": judge_exclusions(policy, answers, anchors),
        "policy_text": text, "months": approval_months(policy, det, settings.default_auth_months),
        "max_months": MAX_MONTHS, "period_cite": period.cite if period.months is not None else "",
        "concepts": [(c, CONCEPTS[c].display) for c in policy.concepts],
        "deny_defaults": {r.concept for r in det.reasons},
        "info_defaults": {r.concept for r in det.reasons if r.status in (UNKNOWN, REVIEW)},
        "history": repo.history(storage, response_id), "audit": desk.audit_trail(storage, claim.id, 50),
        "pended": claim.decision == "pend",
    }


async def case_page(request: Request, reviewer: Reviewer, response_id: str, status: int = 200,
                    error: str = "", done: str = "") -> Response:
    app = request.app
    context = await run_in_threadpool(load_case, app.state.storage, app.state.settings, response_id)
    if context is None:
        return problem_page(request, 404, "No such request", f"No determination {response_id} is stored.", reviewer)
    return page(request, "review/case.html", status, reviewer=reviewer, error=error, done=DONE.get(done, ""),
                can_deny=reviewer.can(accounts.DENY), **context)


@router.get("/review/{response_id}", include_in_schema=False)
async def show_case(request: Request, response_id: str, done: str = ""):
    """One request: order, patient (minimum necessary), answers with origins, criteria, the policy's words."""
    reviewer = await signed_in(request, accounts.REVIEW)
    if isinstance(reviewer, Response):
        return reviewer
    return await case_page(request, reviewer, response_id, done=done)


def posted_action(decision: str, fields: dict[str, list[str]]) -> dict:
    """A case form as the reviewer API's JSON body (one reader, pas.review.read_action, for both)."""
    months = first(fields, "months").strip()
    body: dict = {"decision": decision, "note": first(fields, "note"), "concepts": fields.get("concepts", [])}
    if decision == "approve" and months:
        body["months"] = int(months) if months.isascii() and months.isdigit() and len(months) < 4 else months
    return body


@router.post("/review/{response_id}/{decision}", include_in_schema=False)
async def act_on_case(request: Request, response_id: str, decision: str):
    """Approve, deny (physicians) or ask for information: a new ClaimResponse version, then back to the case."""
    reviewer = await signed_in(request, accounts.REVIEW)
    if isinstance(reviewer, Response):
        return reviewer
    if decision not in ACTIONS:
        return problem_page(request, 404, "No such action", "The actions are approve, deny and request-info.", reviewer)
    try:
        fields = await read_form(request, reviewer)
        if decision == DENY and not reviewer.can(accounts.DENY):
            return problem_page(request, 403, "Not allowed", "A denial is signed by a physician reviewer.", reviewer)
        action = read_action(posted_action(decision, fields))
        await run_in_threadpool(apply_action, request.app.state.storage, request.app.state.settings,
                                response_id, reviewer, action)
    except ApiError as exc:
        if exc.status in (409, 422):  # the reviewer can correct the form or see what changed
            return await case_page(request, reviewer, response_id, exc.status, error=exc.message)
        return problem_page(request, exc.status, "Not done", exc.message, reviewer)
    return secure(RedirectResponse(f"/review/{response_id}?done={decision}", status_code=303))
