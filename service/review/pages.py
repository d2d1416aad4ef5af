"""The case page (the decision panel, answers, criteria, the policy's words, the notes) and its letter."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from service.auth import policy
from service.engine.evaluate import REVIEW, UNKNOWN, score_response
from service.errors import ApiError
from service.pas.request import read_submit
from service.pas.review import MAX_MONTHS, approval_months, not_met
from service.policies.concepts import CONCEPTS
from service.policies.registry import read_policy_text, require_policy
from service.review.auth import Reviewer, now_utc
from service.review.case import list_answers, summarize_request
from service.review.criteria import highlight, judge, judge_exclusions, policy_cites
from service.review.notes import case_story, conflicts, last_decision, peer_view, provider_told
from service.review.queue import queue_row, span
from service.review.web import page, problem_page, signed_in
from service.storage import claims as repo
from service.storage import desk
from service.storage.peer import OUTCOMES, peer_steps

router = APIRouter(tags=["reviewer desk"])
DONE = {"approve": "Approved. The provider has been sent the approval, its period and your note.",
        "deny": "Denied. The provider has been sent the reasons in the policy's words and your note.",
        "request-info": "Information requested. The provider has been told what is needed; the case stays open.",
        "route-to-physician": "Routed to a physician reviewer. The case now waits for a physician's decision.",
        "peer-to-peer": "Peer-to-peer recorded on the case; it is in the notes below."}
DECISIONS = ("approve", "deny", "request-info", "route-to-physician")  # after these, the next case is offered


def finding(det) -> str:
    """The engine's finding in one line, for the decision panel: what is not met, else what is needed."""
    failed = [CONCEPTS[c].display for c in not_met(det)]
    if failed:
        return "Not met: " + "; ".join(failed)
    needed = list(dict.fromkeys(CONCEPTS[r.concept].display for r in det.reasons))
    return ("Needed: " + "; ".join(needed)) if needed else "Every criterion is met on these answers."


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
    # What the current version was scored on (issue 27): its snapshot, else the latest answers stored.
    snapshot = stored.response.scored
    answers = dict(snapshot["answers"]) if snapshot else dict(qr.answers) if qr else answers_of_request(claim.request)
    det = score_response(policy, answers, default_period_months=settings.default_auth_months)
    cites = policy_cites(policy)
    text, anchors = highlight(read_policy_text(policy), cites)
    received = claim.created_at
    period = policy.period_for(det.request_type)
    summary = summarize_request(claim.request or {}, answers, received.date() if received else now_utc().date())
    history, trail = repo.history(storage, response_id), desk.audit_trail(storage, claim.id, 50)
    peer, now = peer_steps(storage, claim.id), now_utc()
    row = queue_row(claim, stored.response, now)
    return {
        "stored": stored, "claim": claim, "policy": policy, "queue": row,
        # Information requested: how long the provider has had the question; the decision clock is not paused.
        "waiting": span(max((now - row.since).total_seconds(), 0)) if row.since else "",
        "summary": summary, "conflicts": conflicts(summary, answers),
        "story": case_story(history, trail, peer), "told": provider_told(stored.response.resource),
        "peer": peer_view(peer), "peer_outcomes": OUTCOMES,
        "answers": list_answers(policy, qr.resource if qr else {}, answers),
        "tree": judge(policy, answers, anchors), "exclusions": judge_exclusions(policy, answers, anchors),
        "policy_text": text, "months": approval_months(policy, det, settings.default_auth_months),
        "max_months": MAX_MONTHS, "period_cite": period.cite if period.stated_in_policy else "",
        "concepts": [(c, CONCEPTS[c].display) for c in policy.concepts],
        "deny_defaults": {r.concept for r in det.reasons},
        "info_defaults": {r.concept for r in det.reasons if r.status in (UNKNOWN, REVIEW)},
        "history": history, "audit": trail,
        "pended": claim.decision == "pend",
        "not_met": [(c, CONCEPTS[c].display) for c in not_met(det)],
        "finding": finding(det),
    }


def next_case(storage, after: str, who: str) -> str | None:
    """The soonest-due pended case other than `after` that nobody else is working (after deciding one)."""
    for claim, _ in desk.list_queue(storage, pended_only=True, payer=None, priority=None, limit=50):
        if claim.response_id != after and claim.assigned_to in (None, who):
            return claim.response_id
    return None


async def case_page(request: Request, reviewer: Reviewer, response_id: str, status: int = 200,
                    error: str = "", done: str = "", kept: dict | None = None) -> Response:
    """The case; `kept` holds the form a refused action came from ({"decision", "note"}), typed notes kept."""
    app = request.app
    context = await run_in_threadpool(load_case, app.state.storage, app.state.settings, response_id)
    if context is None:
        return problem_page(request, 404, "No such request", f"No determination {response_id} is stored.", reviewer)
    following = await run_in_threadpool(next_case, app.state.storage, response_id, reviewer.id) \
        if done in DECISIONS else None
    return page(request, "review/case.html", status, reviewer=reviewer, error=error, done=DONE.get(done, ""),
                next_case=following, kept=kept or {}, held_by_other=context["claim"].assigned_to not in (None, reviewer.id),
                can_deny=reviewer.can("deny"), can_override=reviewer.can("override"),
                can_peer=reviewer.can("peer-to-peer"), decided_case=done in DECISIONS,
                can_approve=reviewer.can("override") or (reviewer.can("approve") and not context["not_met"]),
                can_route=reviewer.can("route") and context["claim"].routed_to is None, **context)


@router.get("/review/{response_id}", include_in_schema=False)
async def show_case(request: Request, response_id: str, done: str = ""):
    """One request: order, patient (minimum necessary), answers with origins, criteria, the policy's words."""
    reviewer = await signed_in(request, policy.REVIEW)
    return await case_page(request, reviewer, response_id, done=done)


@router.get("/review/{response_id}/letter", include_in_schema=False)
async def show_letter(request: Request, response_id: str):
    """The decision letter of a final determination, printable: the decision, the reasons in the policy's
    words, the reviewer's rationale, who decided, and how to ask for a peer-to-peer review or appeal."""
    reviewer = await signed_in(request, policy.REVIEW)
    app = request.app
    context = await run_in_threadpool(load_case, app.state.storage, app.state.settings, response_id)
    if context is None:
        return problem_page(request, 404, "No such request", f"No determination {response_id} is stored.", reviewer)
    if context["pended"]:
        return problem_page(request, 409, "No decision yet",
                            "A letter is written once the request is decided; this one is still pended.", reviewer)
    resource = context["stored"].response.resource
    return page(request, "review/letter.html", reviewer=reviewer, resource=resource, told=context["told"],
                contact=app.state.settings.contact_for(context["claim"].payer_id), decided=last_decision(context["story"]),
                **{k: context[k] for k in ("claim", "policy", "queue", "summary")})
