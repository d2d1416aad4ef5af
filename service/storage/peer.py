"""A peer-to-peer review recorded on a case (issue 22): each step a trail row (audit_events, action
"peer-to-peer"), checked against the steps before it and written in one transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from service.storage.db import Storage
from service.storage.tables import Claim, ClaimEvent, utcnow

ACTION = "peer-to-peer"
STEPS = ("requested", "scheduled", "held", "outcome")
OUTCOMES = ("upheld", "overturned", "withdrawn")
WITHDRAWN = "withdrawn"
# Caps on what a person types (the trail's detail is JSON; the note is the only free text in it).
MAX_WITH, MAX_NOTE, MAX_WHEN = 120, 2000, 40


@dataclass(frozen=True)
class PeerStep:
    """One recorded step: when it was recorded and by whom, and what the reviewer said of it."""

    recorded: datetime
    actor: str
    step: str
    when: str | None  # ISO 8601 UTC: the time scheduled, or when it was requested or held
    with_: str | None  # with whom (the prescriber or the reviewing physician), never the patient
    outcome: str | None
    note: str


class OutOfOrder(ValueError):
    """A step that cannot follow the case's last one; the message says which can."""


def allowed_after(last: PeerStep | None) -> tuple[str, ...]:
    """The steps that may follow `last`: a new request only when none is open; a scheduled one may be
    rescheduled; withdrawing ends a request not yet held; upheld or overturned only once it was held."""
    if last is None or last.step == "outcome":
        return ("requested",)
    return {"requested": ("scheduled", "outcome"), "scheduled": ("scheduled", "held", "outcome"),
            "held": ("outcome",)}[last.step]


def refusal(last: PeerStep | None, step: str, outcome: str | None) -> str:
    """Why `step` may not be recorded now, in plain words; "" when it may."""
    if step not in STEPS:
        return f"There is no peer-to-peer step {step[:20]!r}: the steps are {', '.join(STEPS)}."
    allowed = allowed_after(last)
    if step not in allowed:
        where = "no peer-to-peer is open on this case" if last is None or last.step == "outcome" \
            else f"the peer-to-peer is {last.step}"
        return f"A peer-to-peer cannot be recorded as {step} yet: {where}; next it can be {' or '.join(allowed)}."
    if step == "outcome" and outcome not in OUTCOMES:
        return f"Say the outcome: {', '.join(OUTCOMES)}."
    if step == "outcome" and outcome != WITHDRAWN and last is not None and last.step != "held":
        return "A decision can be upheld or overturned only after the peer-to-peer was held; before that it can " \
               "only be withdrawn."
    return ""


def step_of(event: ClaimEvent) -> PeerStep:
    detail = event.detail if isinstance(event.detail, dict) else {}
    return PeerStep(event.created_at, event.actor or "", str(detail.get("step", "")), detail.get("when"),
                    detail.get("with"), detail.get("outcome"), str(detail.get("note") or ""))


def steps_query(claim_id: str):
    return (select(ClaimEvent).where(ClaimEvent.claim_id == claim_id, ClaimEvent.action == ACTION)
            .order_by(ClaimEvent.created_at, ClaimEvent.id))


def peer_steps(storage: Storage, claim_id: str) -> list[PeerStep]:
    """Every peer-to-peer step recorded on a claim, oldest first."""
    with storage.sessions() as session:
        return [step_of(e) for e in session.scalars(steps_query(claim_id))]


def record_peer_step(storage: Storage, claim_id: str, actor: str, step: str, *, when: str | None = None,
                     with_: str | None = None, outcome: str | None = None, note: str = "") -> PeerStep:
    """Add one step after checking it follows the last one (OutOfOrder otherwise; LookupError for no claim).
    The claim row is locked first (PostgreSQL FOR UPDATE; SQLite's writers queue on Storage.write), so two
    reviewers recording at once cannot both follow the same step."""
    with storage.write() as session:
        decision = session.scalar(select(Claim.decision).where(Claim.id == claim_id).with_for_update())
        if decision is None:
            raise LookupError(claim_id)
        recorded = [step_of(e) for e in session.scalars(steps_query(claim_id))]
        last = recorded[-1] if recorded else None
        if why := refusal(last, step, outcome):
            raise OutOfOrder(why)
        detail = {"step": step, "when": (when or "")[:MAX_WHEN] or None, "with": (with_ or "")[:MAX_WITH] or None,
                  "outcome": outcome if step == "outcome" else None, "note": note[:MAX_NOTE]}
        event = ClaimEvent(created_at=utcnow(), action=ACTION, claim_id=claim_id, actor=actor, outcome=decision,
                           detail=detail)
        session.add(event)
        session.flush()
        return step_of(event)


__all__ = ["OUTCOMES", "STEPS", "OutOfOrder", "PeerStep", "allowed_after", "peer_steps", "record_peer_step",
           "refusal"]
