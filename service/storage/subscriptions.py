"""Topic-based Subscriptions (R4 Subscriptions Backport, as Da Vinci PAS 2.2.1 uses them) and their outbox.

A Subscription row belongs to the caller that made it (`owner`, as claims do). A changed ClaimResponse
becomes one outbox row per matching active subscription, written by `enqueue_claim_event` inside the
caller's own transaction, so an event is stored exactly when the determination is; the delivery worker
(service/subscriptions/worker.py) claims due rows, posts them and records the outcome. Times the
worker compares (due, last sent, end) are epoch seconds: plain numbers on SQLite and PostgreSQL alike.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, aliased

from service.storage.db import Storage, changed
from service.storage.tables import OutboxRow, SubscriptionRow, utcnow

# Subscription.status (R4 subscription-status) as the backport uses it.
REQUESTED, ACTIVE, ERROR, OFF = "requested", "active", "error", "off"
# Outbox row states: waiting (or leased to a worker until due_at), sent, given up, or its subscription ended.
PENDING, DELIVERED, FAILED, DROPPED = "pending", "delivered", "failed", "dropped"


@dataclass(frozen=True)
class NewSubscription:
    """What a valid create request asks for (service/subscriptions/request.py reads it)."""

    topic: str
    endpoint: str
    content: str
    org_filter: str | None
    heartbeat_seconds: int | None
    timeout_seconds: int | None
    max_count: int | None
    end_at: float | None
    resource: dict
    headers: tuple[str, ...] = ()  # channel.header, kept out of `resource` (never rendered)


def filter_matches(org_filter: str | None, owner: str | None) -> bool:
    """The PAS topic's `orgIdentifier` filter, kept simple: it matches when the event's owner (e.g.
    `org:http://hl7.org/fhir/sid/us-npi|1234567893`) contains the filter value. With authorization off
    there is no owner to compare with, and the filter matches every event."""
    return org_filter is None or owner is None or org_filter in owner


def owned_by(owner: str | None):
    return SubscriptionRow.owner.is_(None) if owner is None else SubscriptionRow.owner == owner


def create_subscription(storage: Storage, wanted: NewSubscription, *, owner: str | None, client_id: str) -> SubscriptionRow:
    """Store a new subscription as `requested` (backport "REST-Hook": active only after the handshake)."""
    row = SubscriptionRow(id=uuid.uuid4().hex, owner=owner, client_id=client_id[:256], status=REQUESTED,
                          topic=wanted.topic, endpoint=wanted.endpoint, content=wanted.content,
                          org_filter=wanted.org_filter, heartbeat_seconds=wanted.heartbeat_seconds,
                          timeout_seconds=wanted.timeout_seconds, max_count=wanted.max_count, end_at=wanted.end_at,
                          events=0, failures=0, created_at=utcnow(), resource=wanted.resource,
                          headers=list(wanted.headers) or None)
    with storage.write() as session:
        session.add(row)
    return row


def record_handshake(storage: Storage, subscription_id: str, error: str | None) -> SubscriptionRow | None:
    """requested -> active after an accepted handshake, or -> error with the reason."""
    values: dict = ({"status": ACTIVE, "error": None, "last_sent_at": time.time()} if error is None
                    else {"status": ERROR, "error": error[:512]})
    with storage.write() as session:
        session.execute(update(SubscriptionRow).where(SubscriptionRow.id == subscription_id,
                                                      SubscriptionRow.status == REQUESTED).values(**values))
        return session.get(SubscriptionRow, subscription_id)


def get_subscription(storage: Storage, subscription_id: str, *, owner: str | None) -> SubscriptionRow | None:
    """A subscription by id; with `owner`, only that owner's (another's is as unknown as a missing one);
    None (authorization off) sees every one, as claims do."""
    query = select(SubscriptionRow).where(SubscriptionRow.id == subscription_id)
    if owner is not None:
        query = query.where(SubscriptionRow.owner == owner)
    with storage.sessions() as session:
        return session.scalar(query)


def list_subscriptions(storage: Storage, *, owner: str | None, status: str | None = None, limit: int = 500) -> list[SubscriptionRow]:
    """The caller's subscriptions that were not deleted, oldest first."""
    query = (select(SubscriptionRow).where(SubscriptionRow.deleted_at.is_(None))
             .order_by(SubscriptionRow.created_at, SubscriptionRow.id).limit(limit))
    if owner is not None:
        query = query.where(SubscriptionRow.owner == owner)
    if status is not None:
        query = query.where(SubscriptionRow.status == status)
    with storage.sessions() as session:
        return list(session.scalars(query))


def delete_subscription(storage: Storage, subscription_id: str, *, owner: str | None) -> bool:
    """Turn a subscription off and mark it deleted; what it was still owed is dropped. False: unknown."""
    now = utcnow()
    with storage.write() as session:
        query = select(SubscriptionRow).where(SubscriptionRow.id == subscription_id).with_for_update()
        if owner is not None:
            query = query.where(SubscriptionRow.owner == owner)
        row = session.scalar(query)
        if row is None:
            return False
        row.status, row.deleted_at = OFF, row.deleted_at or now
        session.execute(update(OutboxRow).where(OutboxRow.subscription_id == row.id, OutboxRow.state == PENDING)
                        .values(state=DROPPED, last_error="the subscription was deleted"))
    return True


def enqueue_claim_event(session: Session, *, owner: str | None, response_id: str, version: int) -> int:
    """Inside the caller's open transaction: one outbox row per active subscription of `owner` whose filter
    matches, each subscription's event counter incremented (backport: events-since-subscription-start);
    returns how many rows were written. Nothing is sent here: the rows commit or roll back with the caller's
    ClaimResponse version, and the worker delivers them."""
    now = time.time()
    query = (select(SubscriptionRow).where(SubscriptionRow.status == ACTIVE, owned_by(owner))
             .order_by(SubscriptionRow.id).with_for_update())
    written = 0
    for sub in session.scalars(query).all():
        if (sub.end_at is not None and sub.end_at <= now) or not filter_matches(sub.org_filter, owner):
            continue
        sub.events += 1
        session.add(OutboxRow(subscription_id=sub.id, event_number=sub.events, response_id=response_id,
                              version=version, created_at=utcnow(), state=PENDING, due_at=now, attempts=0))
        written += 1
    session.flush()
    return written


@dataclass(frozen=True)
class Claimed:
    """An outbox row leased to this worker, with the subscription it is for (both detached copies)."""

    event: OutboxRow
    subscription: SubscriptionRow


def claim_due(storage: Storage, *, now: float, lease: float, limit: int = 50) -> list[Claimed]:
    """Lease the next due event of each active subscription (events of one subscription go in order).

    PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, so workers never take the same row; SQLite: this
    process's write lock, and a compare-and-set on due_at against other processes. The lease (due_at
    pushed `lease` seconds ahead) is what a crashed worker leaves behind: the row is taken again then.
    """
    earlier = aliased(OutboxRow)
    query = (select(OutboxRow, SubscriptionRow)
             .join(SubscriptionRow, SubscriptionRow.id == OutboxRow.subscription_id)
             .where(OutboxRow.state == PENDING, OutboxRow.due_at <= now, SubscriptionRow.status == ACTIVE,
                    ~exists().where(earlier.subscription_id == OutboxRow.subscription_id,
                                    earlier.state == PENDING, earlier.id < OutboxRow.id))
             .order_by(OutboxRow.id).limit(limit))
    if storage.engine.dialect.name == "postgresql":
        query = query.with_for_update(of=OutboxRow, skip_locked=True)
    claimed = []
    with storage.write() as session:
        for event, sub in session.execute(query).all():
            moved = session.execute(update(OutboxRow).where(OutboxRow.id == event.id, OutboxRow.state == PENDING,
                                                            OutboxRow.due_at == event.due_at)
                                    .values(due_at=now + lease))
            if changed(moved) == 1:
                claimed.append(Claimed(event, sub))
    return claimed


def record_delivered(storage: Storage, event_id: int, subscription_id: str) -> None:
    """Accepted: the row is done, the subscription's failure count cleared and its last post noted.
    Every write here takes the subscription's row before its outbox rows, as delete and enqueue do
    (one lock order: no deadlock on PostgreSQL)."""
    with storage.write() as session:
        session.execute(update(SubscriptionRow).where(SubscriptionRow.id == subscription_id)
                        .values(failures=0, last_sent_at=time.time()))
        session.execute(update(OutboxRow).where(OutboxRow.id == event_id)
                        .values(state=DELIVERED, delivered_at=utcnow(), last_error=None))


def record_failed(storage: Storage, event_id: int, subscription_id: str, error: str, *, retry_at: float | None) -> None:
    """A failed post: try again at `retry_at`, or (None) give up: the subscription goes to `error` with the
    reason, and whatever else it was owed fails with it (backport "Errors": the client must recover)."""
    with storage.write() as session:
        if retry_at is not None:
            session.execute(update(SubscriptionRow).where(SubscriptionRow.id == subscription_id)
                            .values(failures=SubscriptionRow.failures + 1))
            session.execute(update(OutboxRow).where(OutboxRow.id == event_id)
                            .values(attempts=OutboxRow.attempts + 1, due_at=retry_at, last_error=error[:512]))
            return
        fail_subscription(session, subscription_id, error)
        session.execute(update(OutboxRow).where(OutboxRow.id == event_id)
                        .values(attempts=OutboxRow.attempts + 1, state=FAILED, last_error=error[:512]))


def fail_subscription(session: Session, subscription_id: str, error: str) -> None:
    """Put an active subscription in error with the reason; its pending events fail with it."""
    session.execute(update(SubscriptionRow).where(SubscriptionRow.id == subscription_id,
                                                  SubscriptionRow.status == ACTIVE)
                    .values(status=ERROR, error=error[:512], failures=SubscriptionRow.failures + 1))
    session.execute(update(OutboxRow).where(OutboxRow.subscription_id == subscription_id, OutboxRow.state == PENDING)
                    .values(state=FAILED, last_error=f"not sent: the subscription is in error ({error})"[:512]))


def claim_heartbeats(storage: Storage, *, now: float, limit: int = 50) -> list[SubscriptionRow]:
    """Active subscriptions with a heartbeat period to which nothing was sent for that long; each is
    taken by moving its last_sent_at to now (compare-and-set, so one worker sends it)."""
    query = (select(SubscriptionRow)
             .where(SubscriptionRow.status == ACTIVE, SubscriptionRow.heartbeat_seconds.is_not(None),
                    SubscriptionRow.last_sent_at + SubscriptionRow.heartbeat_seconds <= now)
             .order_by(SubscriptionRow.id).limit(limit))
    taken = []
    with storage.write() as session:
        for sub in session.scalars(query).all():
            moved = session.execute(update(SubscriptionRow).where(SubscriptionRow.id == sub.id,
                                                                  SubscriptionRow.last_sent_at == sub.last_sent_at)
                                    .values(last_sent_at=now))
            if changed(moved) == 1:
                taken.append(sub)
    return taken


def record_heartbeat(storage: Storage, subscription_id: str, error: str | None, *, max_failures: int) -> None:
    """A heartbeat's outcome: success clears the failure count; `max_failures` in a row put the
    subscription in error, as failed events do."""
    with storage.write() as session:
        if error is None:
            session.execute(update(SubscriptionRow).where(SubscriptionRow.id == subscription_id).values(failures=0))
            return
        sub = session.get(SubscriptionRow, subscription_id, with_for_update=True)
        if sub is None:
            return
        if sub.failures + 1 >= max_failures:
            fail_subscription(session, subscription_id, f"heartbeat: {error}")
        else:
            sub.failures += 1


def list_outbox(storage: Storage, subscription_id: str) -> list[OutboxRow]:
    """Every event a subscription was owed, in order (tests and operators)."""
    with storage.sessions() as session:
        return list(session.scalars(select(OutboxRow).where(OutboxRow.subscription_id == subscription_id)
                                    .order_by(OutboxRow.id)))
