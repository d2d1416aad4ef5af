"""The reviewer desk's reads (the queue, a claim's latest answers, a period's requests, a claim's trail)
and its one write of its own: routing a case to a physician."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select, update

from service.storage.db import Storage, changed
from service.storage.tables import Claim, ClaimEvent, ClaimResponseRow, QuestionnaireResponseRow, utcnow


def list_queue(storage: Storage, *, pended_only: bool, payer: str | None, priority: str | None,
               search: str | None = None, assigned_to: str | None = None, limit: int = 500,
               offset: int = 0) -> list[tuple[Claim, ClaimResponseRow]]:
    """Claims with their current response, soonest due first (CMS-0057-F decision timeframes); `search`
    finds a PA number, a member id or the requesting provider's NPI exactly; `assigned_to` keeps one
    reviewer's cases."""
    query = (select(Claim, ClaimResponseRow)
             .join(ClaimResponseRow, (ClaimResponseRow.claim_id == Claim.id)
                   & (ClaimResponseRow.version == Claim.current_version))
             .order_by(Claim.due_at.is_(None), Claim.due_at, Claim.created_at, Claim.id).limit(limit).offset(offset))
    if search:
        # member_key is "system|value" (PAS inquiry keys); a reviewer types the value they see on the card.
        query = query.where(or_(ClaimResponseRow.auth_number == search, Claim.member_key == search,
                                Claim.member_key.endswith(f"|{search}", autoescape=True),
                                Claim.provider_ref.endswith(f"|{search}", autoescape=True)))
    if assigned_to:
        query = query.where(Claim.assigned_to == assigned_to)
    if pended_only:
        query = query.where(Claim.decision == "pend")
    if payer:
        query = query.where(Claim.payer_id == payer)
    if priority:
        query = query.where(Claim.priority == priority)
    with storage.sessions() as session:
        return [(c, r) for c, r in session.execute(query).all()]


def questionnaire_of(storage: Storage, claim_id: str) -> QuestionnaireResponseRow | None:
    """The newest QuestionnaireResponse a claim carried (an update adds one; the first is history)."""
    with storage.sessions() as session:
        return session.scalar(select(QuestionnaireResponseRow).where(QuestionnaireResponseRow.claim_id == claim_id)
                              .order_by(QuestionnaireResponseRow.id.desc()).limit(1))


def received_between(storage: Storage, start: datetime, end: datetime,
                     payer: str | None) -> list[tuple[Claim, ClaimResponseRow]]:
    """Requests received in [start, end) with their current response: what the report counts."""
    query = (select(Claim, ClaimResponseRow)
             .join(ClaimResponseRow, (ClaimResponseRow.claim_id == Claim.id)
                   & (ClaimResponseRow.version == Claim.current_version))
             .where(Claim.created_at >= start, Claim.created_at < end).order_by(Claim.created_at))
    if payer:
        query = query.where(Claim.payer_id == payer)
    with storage.sessions() as session:
        return [(c, r) for c, r in session.execute(query).all()]


def audit_trail(storage: Storage, claim_id: str | None = None, limit: int = 200) -> list[ClaimEvent]:
    """Audit events, newest first: one claim's, or the desk's latest."""
    query = select(ClaimEvent).order_by(ClaimEvent.created_at.desc(), ClaimEvent.id.desc()).limit(limit)
    if claim_id:
        query = query.where(ClaimEvent.claim_id == claim_id)
    with storage.sessions() as session:
        return list(session.scalars(query))


def route_case(storage: Storage, claim_id: str, to: str, actor: str, note: str) -> None:
    """Mark a pended case as waiting for `to` (a physician), with who routed it and why, in one transaction."""
    with storage.write() as session:
        session.execute(update(Claim).where(Claim.id == claim_id).values(routed_to=to))
        session.add(ClaimEvent(created_at=utcnow(), action="route-to-physician", claim_id=claim_id, actor=actor,
                               outcome="pend", detail={"note": note[:4000], "to": to}))


def audit_filtered(query, *, action: str | None, outcome: str | None, not_outcome: str | None,
                   actor: str | None, number: str | None, start: datetime | None, end: datetime | None):
    """The audit page's filters on a query that joins audit_events to claims and current responses."""
    if action:
        query = query.where(ClaimEvent.action == action)
    if outcome:
        query = query.where(ClaimEvent.outcome == outcome)
    if not_outcome:
        query = query.where(or_(ClaimEvent.outcome.is_(None), ClaimEvent.outcome != not_outcome))
    if actor:  # a submission is logged as pas-client; the claim's owner is the client that sent it
        query = query.where(or_(ClaimEvent.actor == actor, and_(ClaimEvent.actor == "pas-client", Claim.owner == actor)))
    if number:
        query = query.where(func.lower(ClaimResponseRow.auth_number).contains(number.lower(), autoescape=True))
    if start:
        query = query.where(ClaimEvent.created_at >= start)
    if end:
        query = query.where(ClaimEvent.created_at < end)
    return query


def audit_joined(*columns):
    """audit_events with each event's claim and that claim's current response (none for events without a claim)."""
    return (select(*columns).select_from(ClaimEvent)
            .outerjoin(Claim, Claim.id == ClaimEvent.claim_id)
            .outerjoin(ClaimResponseRow, (ClaimResponseRow.claim_id == Claim.id)
                       & (ClaimResponseRow.version == Claim.current_version)))


def audit_search(storage: Storage, *, offset: int = 0, limit: int = 50,
                 **filters) -> tuple[list[tuple[ClaimEvent, str | None, str | None, str | None]], int]:
    """One page of audit events, newest first, each with its claim's PA number, owner and ClaimResponse id,
    and how many match in all; `filters` are audit_filtered's (action, outcome, not_outcome, actor, number,
    start, end), each None for no filter."""
    keys = ("action", "outcome", "not_outcome", "actor", "number", "start", "end")
    if set(filters) - set(keys):
        raise TypeError(f"unknown audit filter {sorted(set(filters) - set(keys))}")
    wanted = {k: filters.get(k) for k in keys}
    query = audit_filtered(audit_joined(ClaimEvent, ClaimResponseRow.auth_number, Claim.owner, Claim.response_id),
                           **wanted)
    counted = audit_filtered(audit_joined(func.count(ClaimEvent.id)), **wanted)
    page = query.order_by(ClaimEvent.created_at.desc(), ClaimEvent.id.desc()).offset(offset).limit(limit)
    with storage.sessions() as session:
        rows = [(e, n, o, r) for e, n, o, r in session.execute(page).all()]
        return rows, int(session.scalar(counted) or 0)


def audit_actors(storage: Storage, limit: int = 500) -> list[str]:
    """Everyone named in the trail: reviewers and systems by id, submitting clients by the claim's owner."""
    acting = select(ClaimEvent.actor).where(ClaimEvent.actor.is_not(None)).distinct().limit(limit)
    owners = (select(Claim.owner).join(ClaimEvent, ClaimEvent.claim_id == Claim.id)
              .where(ClaimEvent.actor == "pas-client", Claim.owner.is_not(None)).distinct().limit(limit))
    with storage.sessions() as session:
        found = {a for a in session.scalars(acting) if a} | {o for o in session.scalars(owners) if o}
    return sorted(found)


def take_case(storage: Storage, claim_id: str, who: str) -> str | None:
    """Assign a pended case to `who` unless someone else has it; returns whoever has it now."""
    with storage.write() as session:
        session.execute(update(Claim).where(Claim.id == claim_id, Claim.decision == "pend",
                                            or_(Claim.assigned_to.is_(None), Claim.assigned_to == who))
                        .values(assigned_to=who, assigned_at=utcnow()))
        holder = session.scalar(select(Claim.assigned_to).where(Claim.id == claim_id))
        if holder == who:
            session.add(ClaimEvent(created_at=utcnow(), action="take", claim_id=claim_id, actor=who, outcome="pend",
                                   detail=None))
        return holder


def release_case(storage: Storage, claim_id: str, who: str) -> None:
    """Give a case back to the queue (only its holder can); the trail says who released it."""
    with storage.write() as session:
        released = session.execute(update(Claim).where(Claim.id == claim_id, Claim.assigned_to == who)
                                   .values(assigned_to=None, assigned_at=None))
        if changed(released):
            session.add(ClaimEvent(created_at=utcnow(), action="release", claim_id=claim_id, actor=who,
                                   outcome="pend", detail=None))
