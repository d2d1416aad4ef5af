"""The reviewer desk's reads (the queue, a claim's latest answers, a period's requests, a claim's trail)
and its one write of its own: routing a case to a physician."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Integer, and_, case, false, func, literal_column, null, or_, select, tuple_, update

from service.storage.db import Storage, changed
from service.storage.tables import Claim, ClaimEvent, ClaimReason, ClaimResponseRow, QuestionnaireResponseRow, utcnow


# The queue's order (CMS-0057-F: soonest due first): (due_at is null, due_at, created_at, id), paged by keyset.
@dataclass(frozen=True)
class QueueFilter:
    """What the queue is narrowed to; every field None (or False) for no filter."""

    pended_only: bool = True
    payer: str | None = None
    priority: str | None = None
    search: str | None = None
    assigned_to: str | None = None
    received_from: datetime | None = None  # created_at >= this
    received_before: datetime | None = None  # created_at < this
    decision: str | None = None
    overdue_at: datetime | None = None  # open cases due before this instant


@dataclass(frozen=True)
class Position:
    """Where a page ended in the queue's order (the keyset of its last row)."""

    due_at: datetime | None
    created_at: datetime
    id: str


def state_of_row():
    """What an open case waits for as SQL (review/queue.case_state's rules), NULL where only re-scoring can tell:
    a pended version stored before 0010 (claim_responses.unmet empty); a decided case reads as its decision."""
    return case(
        (Claim.decision != "pend", Claim.decision),
        (Claim.routed_to.is_not(None), literal_column("'physician'")),
        (ClaimResponseRow.human_reviewed.is_(True), literal_column("'info-requested'")),
        (ClaimResponseRow.unmet.is_(True), literal_column("'would-deny'")),
        (ClaimResponseRow.unmet.is_(False), literal_column("'missing'")),
        else_=null())


def like_words(fragment: str) -> list[str]:
    """A name fragment as the words every match must hold: lower case, whitespace collapsed."""
    return fragment.lower().split()


def queue_filtered(query, f: QueueFilter):
    """The queue's filters on a query joining claims to their current response."""
    if f.search:
        # member_key is "system|value" (PAS inquiry keys); a reviewer types the value they see on the card;
        # a name fragment matches when every word of it is in the stored lower-case names (issue 22).
        words = like_words(f.search)
        by_name = and_(*[Claim.patient_name.contains(w, autoescape=True) for w in words]) if words else false()
        query = query.where(or_(ClaimResponseRow.auth_number == f.search, Claim.member_key == f.search,
                                Claim.member_key.endswith(f"|{f.search}", autoescape=True),
                                Claim.provider_ref.endswith(f"|{f.search}", autoescape=True), by_name))
    if f.assigned_to:
        query = query.where(Claim.assigned_to == f.assigned_to)
    if f.pended_only:
        query = query.where(Claim.decision == "pend")
    if f.decision:
        query = query.where(Claim.decision == f.decision)
    if f.payer:
        query = query.where(Claim.payer_id == f.payer)
    if f.priority:
        query = query.where(Claim.priority == f.priority)
    if f.received_from:
        query = query.where(Claim.created_at >= f.received_from)
    if f.received_before:
        query = query.where(Claim.created_at < f.received_before)
    if f.overdue_at:
        query = query.where(Claim.decision == "pend", Claim.due_at < f.overdue_at)
    return query


def current_joined(*columns):
    return select(*columns).select_from(Claim).join(ClaimResponseRow, (ClaimResponseRow.claim_id == Claim.id)
                                 & (ClaimResponseRow.version == Claim.current_version))


def list_queue(storage: Storage, *, pended_only: bool, payer: str | None, priority: str | None,
               search: str | None = None, assigned_to: str | None = None, limit: int = 50,
               after: Position | None = None, state: str | None = None,
               where: QueueFilter | None = None) -> list[tuple[Claim, ClaimResponseRow]]:
    """Up to `limit` claims with their current response, soonest due first (CMS-0057-F decision timeframes),
    after `after` in that order; `search` finds a PA number, member id or NPI exactly, or a patient name
    fragment; `assigned_to` keeps one reviewer's cases; `where` adds the other filters (its own pended_only,
    payer, priority, search and assigned_to give way to the arguments). With `state`, the rows whose SQL
    state is that one or unknown (stored before 0010): the caller tells those by review/queue.case_state."""
    f = replace(where or QueueFilter(), pended_only=pended_only, payer=payer, priority=priority, search=search,
                assigned_to=assigned_to)
    base = queue_filtered(current_joined(Claim, ClaimResponseRow), f)
    if state:
        base = base.where(or_(state_of_row() == state, state_of_row().is_(None)))
    found: list[tuple[Claim, ClaimResponseRow]] = []
    with storage.sessions() as session:
        # Two index-ordered segments, due ones then those without a due time, so each is one range scan.
        if after is None or after.due_at is not None:
            dated = base.where(Claim.due_at.is_not(None))
            if after is not None:
                dated = dated.where(tuple_(Claim.due_at, Claim.created_at, Claim.id)
                                    > tuple_(after.due_at, after.created_at, after.id))
            found = [(c, r) for c, r in session.execute(
                dated.order_by(Claim.due_at, Claim.created_at, Claim.id).limit(limit)).all()]
        if len(found) < limit:
            undated = base.where(Claim.due_at.is_(None))
            if after is not None and after.due_at is None:
                undated = undated.where(tuple_(Claim.created_at, Claim.id) > tuple_(after.created_at, after.id))
            found += [(c, r) for c, r in session.execute(
                undated.order_by(Claim.created_at, Claim.id).limit(limit - len(found))).all()]
    return found


def position_of(claim: Claim) -> Position:
    return Position(claim.due_at, claim.created_at, claim.id)


def count_queue(storage: Storage, where: QueueFilter) -> tuple[dict[str, int], list[tuple[Claim, ClaimResponseRow]], int]:
    """(open cases by SQL state, the open cases only re-scoring can place, decided cases) under the filters:
    counts in SQL; the second list holds only versions stored before 0010."""
    state = state_of_row().label("state")
    opened = replace(where, pended_only=True)
    by_state = queue_filtered(current_joined(state, func.count()), opened).group_by(state)
    unknown = queue_filtered(current_joined(Claim, ClaimResponseRow), opened).where(state_of_row().is_(None))
    with storage.sessions() as session:
        counts = {s: int(n) for s, n in session.execute(by_state).all() if s is not None}
        legacy = [(c, r) for c, r in session.execute(unknown).all()]
        decided = 0
        if not where.pended_only and where.decision != "pend" and where.overdue_at is None:
            decided = int(session.scalar(queue_filtered(current_joined(func.count()), where)
                                         .where(Claim.decision != "pend")) or 0)
    return counts, legacy, decided


def questionnaire_of(storage: Storage, claim_id: str) -> QuestionnaireResponseRow | None:
    """The newest QuestionnaireResponse a claim carried (an update adds one; the first is history)."""
    with storage.sessions() as session:
        return session.scalar(select(QuestionnaireResponseRow).where(QuestionnaireResponseRow.claim_id == claim_id)
                              .order_by(QuestionnaireResponseRow.id.desc()).limit(1))


def period_rows(start: datetime, end: datetime, payer: str | None, limits: dict[str, int], dialect: str):
    """One row per request received in [start, end): payer, priority (standard unless expedited), decision,
    whole seconds to the first final decision (never below zero, NULL while undecided), and whether
    that is within the priority's timeframe (`limits`, seconds)."""
    expedited = Claim.priority == literal_column("'expedited'")
    raw = epoch_seconds(Claim.decided_at, dialect) - epoch_seconds(Claim.created_at, dialect)
    seconds = case((Claim.decided_at.is_(None), null()), (raw < 0, literal_column("0")), else_=raw)
    limit = case((expedited, literal_column(str(int(limits["expedited"])))),
                 else_=literal_column(str(int(limits["standard"]))))
    query = select(Claim.payer_id.label("payer"),
                   case((expedited, literal_column("'expedited'")), else_=literal_column("'standard'")).label("priority"),
                   Claim.decision.label("decision"), Claim.created_at.label("received"),
                   Claim.decided_at.label("decided"), seconds.label("seconds"), limit.label("limit"),
                   ).where(Claim.created_at >= start, Claim.created_at < end)
    return query.where(Claim.payer_id == payer) if payer else query


def epoch_seconds(column, dialect: str):
    if dialect == "sqlite":  # strftime('%s') gives whole seconds of the stored UTC text
        return func.cast(func.strftime("%s", column), Integer)
    return func.floor(func.extract("epoch", column))


def report_counts(storage: Storage, start: datetime, end: datetime, payer: str | None, limits: dict[str, int],
                  now: datetime) -> list[dict]:
    """Additive counts per (payer, priority, decision) of the requests received in [start, end): requests,
    decided, summed seconds to decision, decided within the timeframe, open, open past due as of `now`
    (received before now, cut to the second, less the timeframe), and the oldest open receipt."""
    dialect = storage.engine.dialect.name
    rows = period_rows(start, end, payer, limits, dialect).subquery()
    cut = now.replace(microsecond=0)
    due_before = {p: cut - timedelta(seconds=s) for p, s in limits.items()}
    is_open = and_(rows.c.decided.is_(None), rows.c.decision == "pend")
    past = case((rows.c.priority == "expedited", rows.c.received < due_before["expedited"]),
                else_=rows.c.received < due_before["standard"])
    query = select(rows.c.payer, rows.c.priority, rows.c.decision, func.count().label("requests"),
                   func.count(rows.c.seconds).label("decided"),
                   func.coalesce(func.sum(rows.c.seconds), 0).label("seconds"),
                   func.sum(case((rows.c.seconds <= rows.c.limit, 1), else_=0)).label("within"),
                   func.sum(case((is_open, 1), else_=0)).label("open"),
                   func.sum(case((and_(is_open, past), 1), else_=0)).label("open_past_due"),
                   func.min(case((is_open, rows.c.received), else_=null())).label("oldest_open"),
                   ).group_by(rows.c.payer, rows.c.priority, rows.c.decision)
    with storage.sessions() as session:
        return [dict(r._mapping) for r in session.execute(query)]


def report_reasons(storage: Storage, start: datetime, end: datetime, payer: str | None) -> list[tuple[str, str, str, int]]:
    """(payer, priority, code, requests naming it) from claim_reasons, the current version's codes."""
    expedited = case((Claim.priority == literal_column("'expedited'"), literal_column("'expedited'")),
                     else_=literal_column("'standard'"))
    inner = (select(Claim.payer_id.label("payer"), expedited.label("priority"), ClaimReason.code.label("code"))
             .join(ClaimReason, ClaimReason.claim_id == Claim.id)
             .where(Claim.created_at >= start, Claim.created_at < end))
    if payer:
        inner = inner.where(Claim.payer_id == payer)
    rows = inner.subquery()
    query = select(rows.c.payer, rows.c.priority, rows.c.code, func.count()).group_by(
        rows.c.payer, rows.c.priority, rows.c.code)
    with storage.sessions() as session:
        return [(p, g, c, int(n)) for p, g, c, n in session.execute(query).all()]


def report_middles(storage: Storage, start: datetime, end: datetime, payer: str | None, limits: dict[str, int],
                   groups: list[tuple[str | None, str | None, int]]) -> dict[tuple[str | None, str | None], tuple[int, int]]:
    """The lower and upper middle seconds to decision of each group (payer or None for all, priority or None
    for all, how many were decided): PostgreSQL's percentile_disc over grouping sets (ascending gives the
    lower middle, descending the upper, so an even count's median is exact); elsewhere one ordered
    offset query per group."""
    dialect = storage.engine.dialect.name
    rows = period_rows(start, end, payer, limits, dialect).where(Claim.decided_at.is_not(None)).subquery()
    out: dict[tuple[str | None, str | None], tuple[int, int]] = {}
    with storage.sessions() as session:
        if dialect == "postgresql":
            query = (select(rows.c.payer, rows.c.priority, func.grouping(rows.c.payer, rows.c.priority),
                            func.percentile_disc(0.5).within_group(rows.c.seconds),
                            func.percentile_disc(0.5).within_group(rows.c.seconds.desc()))
                     .group_by(func.grouping_sets(tuple_(rows.c.payer, rows.c.priority), tuple_(rows.c.payer),
                                                  tuple_(rows.c.priority), tuple_())))
            for p, g, bits, lo, hi in session.execute(query).all():
                if lo is None:  # the grand total over no rows at all
                    continue
                out[(None if bits & 2 else p, None if bits & 1 else g)] = (int(lo), int(hi))
            return out
        for p, g, n in groups:
            if not n:
                continue
            query = select(rows.c.seconds).order_by(rows.c.seconds).offset((n - 1) // 2).limit(2 - n % 2)
            if p is not None:
                query = query.where(rows.c.payer == p)
            if g is not None:
                query = query.where(rows.c.priority == g)
            got = [int(v) for v in session.scalars(query)]
            out[(p, g)] = (got[0], got[-1])
    return out


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
