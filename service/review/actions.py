"""The case page's forms: take and release a case, and the four decisions (a denial previewed, then signed)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import SettingsDep, StorageDep
from service.auth import policy
from service.engine.evaluate import DENY
from service.errors import ApiError
from service.pas.review import ACTIONS, read_action
from service.review.decide import apply_action, preview_action
from service.review.notes import provider_told
from service.review.pages import case_page
from service.review.web import first, page, problem_page, read_form, secure, signed_in
from service.storage import claims as repo
from service.storage import desk
from service.storage.db import Storage

router = APIRouter(tags=["reviewer desk"])


def posted_action(decision: str, fields: dict[str, list[str]]) -> dict:
    """A case form as the reviewer API's JSON body (one reader, pas.review.read_action, for both)."""
    months = first(fields, "months").strip()
    body: dict = {"decision": decision, "note": first(fields, "note"), "concepts": fields.get("concepts", [])}
    if decision == "approve" and months:
        body["months"] = int(months) if months.isascii() and months.isdigit() and len(months) < 4 else months
    return body


@router.post("/review/{response_id}/take", include_in_schema=False)
async def take(request: Request, storage: StorageDep, response_id: str):
    """Take a pended case (so two reviewers never work one at once), or say who has it."""
    return await hold(request, storage, response_id, take_it=True)


@router.post("/review/{response_id}/release", include_in_schema=False)
async def release(request: Request, storage: StorageDep, response_id: str):
    """Give a case back to the queue."""
    return await hold(request, storage, response_id, take_it=False)


async def hold(request: Request, storage: Storage, response_id: str, *, take_it: bool) -> Response:
    reviewer = await signed_in(request, policy.REVIEW)
    try:
        await read_form(request, reviewer)
    except ApiError as exc:
        return problem_page(request, exc.status, "Not done", exc.message, reviewer)
    stored = await run_in_threadpool(repo.get_response, storage, response_id)
    if stored is None:
        return problem_page(request, 404, "No such request", f"No determination {response_id} is stored.", reviewer)
    if not take_it:
        await run_in_threadpool(desk.release_case, storage, stored.claim.id, reviewer.id)
        return secure(RedirectResponse("/review", status_code=303))
    holder = await run_in_threadpool(desk.take_case, storage, stored.claim.id, reviewer.id)
    if holder != reviewer.id:
        return await case_page(request, reviewer, response_id, 409, error=f"{holder or 'Nobody'} is working this "
                               "case; it was not taken." if holder else "This case is no longer open.")
    return secure(RedirectResponse(f"/review/{response_id}", status_code=303))


FINAL_WORDS = {"approve": "approved", "deny": "denied", "cancel": "cancelled"}


def friendly(exc: ApiError, stored) -> str:
    """A refusal in the desk's words: a case decided meanwhile says by whom, never a resource id."""
    if exc.status == 409 and stored is not None and stored.claim.decision != "pend":
        return (f"This request was already {FINAL_WORDS.get(stored.claim.decision, stored.claim.decision)} while you "
                "had it open; nothing was sent. Your note is kept below.")
    return exc.message


@router.post("/review/{response_id}/{decision}", include_in_schema=False)
async def act_on_case(request: Request, storage: StorageDep, settings: SettingsDep, response_id: str,
                      decision: str):
    """Approve, deny (signed after a preview), ask for information, or route: then back to the case."""
    reviewer = await signed_in(request, policy.REVIEW)
    if decision not in ACTIONS:
        return problem_page(request, 404, "No such action",
                            "The actions are approve, deny, request-info and route-to-physician.", reviewer)
    kept: dict = {"decision": decision}
    try:
        fields = await read_form(request, reviewer)
        kept["note"] = first(fields, "note")
        action = read_action(posted_action(decision, fields))
        stored = await run_in_threadpool(repo.get_response, storage, response_id)
        if stored is not None and stored.claim.assigned_to not in (None, reviewer.id):
            return await case_page(request, reviewer, response_id, 409, kept=kept,
                                   error=f"{stored.claim.assigned_to} is working this case: ask them, or wait "
                                         "until they release it. Nothing was sent.")
        if decision == DENY and first(fields, "confirm") != "yes":  # a denial is previewed, then signed
            told = await run_in_threadpool(preview_action, storage, settings, response_id, reviewer, action)
            return page(request, "review/confirm.html", reviewer=reviewer, rid=response_id, fields=fields,
                        told=provider_told(told), number=stored.response.auth_number if stored else "")
        await run_in_threadpool(apply_action, storage, settings, response_id, reviewer, action)
    except ApiError as exc:
        if exc.status in (403, 409, 422):  # the reviewer can correct the form, see what changed, or route it
            current = await run_in_threadpool(repo.get_response, storage, response_id)
            return await case_page(request, reviewer, response_id, exc.status, error=friendly(exc, current), kept=kept)
        return problem_page(request, exc.status, "Not done", exc.message, reviewer)
    return secure(RedirectResponse(f"/review/{response_id}?done={decision}", status_code=303))
