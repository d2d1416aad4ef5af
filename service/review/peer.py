"""The peer-to-peer on a case (issue 22): the prescriber asks to discuss a decision with the reviewing
physician; the desk records it requested, scheduled, held and its outcome (upheld, overturned, withdrawn)."""
from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from service.api.deps import StorageDep
from service.auth import policy
from service.auth.guard import access_event, write_events
from service.errors import ApiError
from service.review.auth import now_utc
from service.review.pages import case_page
from service.review.web import first, problem_page, read_form, secure, signed_in
from service.storage import claims as repo
from service.storage.peer import MAX_NOTE, MAX_WITH, OutOfOrder, record_peer_step

router = APIRouter(tags=["reviewer desk"])
FIELDS = ("step", "when", "with", "outcome", "note")


def read_when(text: str, *, required: bool, now: datetime) -> str:
    """A typed date and time (the form's datetime-local, taken as UTC like every desk time) as ISO 8601;
    blank gives now unless the step needs a time; ValueError in plain words otherwise."""
    text = text.strip()
    if not text:
        if required:
            raise ValueError("Say when the peer-to-peer is scheduled (date and time, UTC).")
        return now.isoformat()
    try:
        found = datetime.fromisoformat(text[:25])
    except ValueError:
        raise ValueError("The date and time could not be read: use the form's picker, e.g. 2026-11-27 14:30.") from None
    if not 2000 <= found.year <= 2100:
        raise ValueError("The date is out of range.")
    found = found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
    return found.replace(second=0, microsecond=0).isoformat()


def read_step(fields: dict[str, list[str]], now: datetime) -> dict:
    """The posted step as record_peer_step's arguments; ValueError says what is missing or too long."""
    step, outcome = first(fields, "step").strip(), first(fields, "outcome").strip() or None
    with_, note = first(fields, "with").strip(), first(fields, "note").strip()
    if len(with_) > MAX_WITH or len(note) > MAX_NOTE:
        raise ValueError(f"Keep 'with whom' under {MAX_WITH} characters and the note under {MAX_NOTE}.")
    if step == "scheduled" and not with_:
        raise ValueError("Say with whom the peer-to-peer is scheduled (the prescriber or the physician).")
    if step == "outcome" and outcome in ("upheld", "overturned") and not note:
        raise ValueError("Add a note saying what was discussed and why the decision was " + outcome + ".")
    when = read_when(first(fields, "when"), required=step == "scheduled", now=now) \
        if step in ("requested", "scheduled", "held") else None
    return {"step": step, "when": when, "with_": with_ or None, "outcome": outcome, "note": note}


@router.post("/review/{response_id}/peer-to-peer", include_in_schema=False)
async def record_peer_to_peer(request: Request, response_id: str, storage: StorageDep):
    """Record the next peer-to-peer step on a pended or decided case, then back to the case."""
    reviewer = await signed_in(request, policy.PEER_TO_PEER)
    try:
        fields = await read_form(request, reviewer)
    except ApiError as exc:
        return problem_page(request, exc.status, "Not done", exc.message, reviewer)
    kept = {"decision": "peer-to-peer", **{k: first(fields, k)[:MAX_NOTE] for k in FIELDS}}
    stored = await run_in_threadpool(repo.get_response, storage, response_id)
    if stored is None:
        return problem_page(request, 404, "No such request", f"No determination {response_id} is stored.", reviewer)
    try:
        step = read_step(fields, now_utc())
        await run_in_threadpool(lambda: record_peer_step(storage, stored.claim.id, reviewer.id, **step))
    except OutOfOrder as exc:
        return await case_page(request, reviewer, response_id, 409, error=str(exc), kept=kept)
    except ValueError as exc:
        return await case_page(request, reviewer, response_id, 422, error=str(exc), kept=kept)
    # The access trail (/fhir/AuditEvent) names who changed the case, as every reviewer decision does.
    await write_events(storage, [access_event(reviewer, "U", "ClaimResponse", response_id, 200, "/review/peer-to-peer",
                                              detail=f"peer-to-peer {step['step']} by {reviewer.describe()}",
                                              owner=stored.claim.owner)])
    return secure(RedirectResponse(f"/review/{response_id}?done=peer-to-peer#peer-title", status_code=303))
