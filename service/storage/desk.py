"""The reviewer desk's reads: the queue, a claim's latest answers, a period's requests, a claim's trail."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from service.storage.db import Storage
from service.storage.tables import Claim, ClaimEvent, ClaimResponseRow, QuestionnaireResponseRow


def list_queue(storage: Storage, *, pended_only: bool, payer: str | None, priority: str | None,
               limit: int = 500) -> list[tuple[Claim, ClaimResponseRow]]:
    """Claims with their current response, soonest due first (CMS-0057-F decision timeframes)."""
    query = (select(Claim, ClaimResponseRow)
             .join(ClaimResponseRow, (ClaimResponseRow.claim_id == Claim.id)
                   & (ClaimResponseRow.version == Claim.current_version))
             .order_by(Claim.due_at.is_(None), Claim.due_at, Claim.created_at).limit(limit))
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
