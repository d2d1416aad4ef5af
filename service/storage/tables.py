"""Every table (SQLAlchemy 2 declarative), in one module: repositories import these and nothing
imports a repository to register a table (Alembic reads Base.metadata from here)."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator):
    """A timestamp that is always UTC-aware in Python: SQLite hands DateTime(timezone=True) back
    naive, so every reader had to remember to fix it; now no reader sees a naive time."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        # A naive time is taken as UTC (what every writer here means), never as local time.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Claim(Base):
    """One PAS request (Claim/$submit), keyed by its idempotency key; holds the current state."""

    __tablename__ = "claims"
    # 0011: the queue's keyset order (open cases first, then across decisions) and the report's period scan,
    # covering what it counts (issue 25).
    __table_args__ = (Index("ix_claims_queue", "decision", "due_at", "created_at", "id"),
                      Index("ix_claims_due", "due_at", "created_at", "id"),
                      Index("ix_claims_received", "created_at", "payer_id", "priority", "decision", "decided_at"))
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # Bundle.identifier, else Claim.identifier, else a hash of the canonical request (PAS retries).
    idempotency_key: Mapped[str] = mapped_column(String(512), unique=True)
    payer_id: Mapped[str] = mapped_column(String(64))
    claim_identifier: Mapped[str | None] = mapped_column(String(512), index=True)
    patient_ref: Mapped[str | None] = mapped_column(String(256), index=True)
    provider_ref: Mapped[str | None] = mapped_column(String(256))
    # 0002: what PAS inquiry and ClaimResponse search match on (PAS 2.2 "Prior Authorization
    # Inquiries": member id + provider id), and the request digest that guards idempotency keys.
    member_key: Mapped[str | None] = mapped_column(String(512), index=True)
    request_ref: Mapped[str | None] = mapped_column(String(512), index=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    request: Mapped[dict] = mapped_column(JSON)  # the submitted Bundle, echoed in responses
    # Current determination (mirror of the newest claim_responses row, for cheap listing).
    response_id: Mapped[str] = mapped_column(String(64), unique=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    decision: Mapped[str] = mapped_column(String(16), index=True)
    # 0004: the client (or organization) that submitted it sees it, no one else (SMART Backend
    # Services); CMS-0057-F timelines: priority, due time from receipt, first final decision.
    owner: Mapped[str | None] = mapped_column(String(256), index=True)
    priority: Mapped[str] = mapped_column(String(16), default="standard", server_default="standard")
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # 0008: who the case waits for at the desk ("physician" once a nurse routed it; None: any reviewer).
    routed_to: Mapped[str | None] = mapped_column(String(32))
    # 0008: the reviewer working the case (the desk's "take case"), so two people never decide one at once.
    assigned_to: Mapped[str | None] = mapped_column(String(128), index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # 0010: the patient's names, lower case (fhir/adjudication.search_name), for the desk's name search.
    patient_name: Mapped[str | None] = mapped_column(String(256))


class ClaimReason(Base):
    """The pa-criteria reason codes the claim's current ClaimResponse names (fhir/adjudication.reason_codes),
    replaced with every version: the report counts these rows instead of re-reading the JSON (issue 25)."""

    __tablename__ = "claim_reasons"
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class QuestionnaireResponseRow(Base):
    """The completed DTR QuestionnaireResponse a claim carried (PAS supportingInfo)."""

    __tablename__ = "questionnaire_responses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    questionnaire: Mapped[str] = mapped_column(String(512))
    answers: Mapped[dict] = mapped_column(JSON)  # typed answers by concept code, as scored
    resource: Mapped[dict] = mapped_column(JSON)


class ClaimResponseRow(Base):
    """Every version of a claim's ClaimResponse; the highest version is the current one."""

    __tablename__ = "claim_responses"
    __table_args__ = (UniqueConstraint("claim_id", "version", name="uq_claim_responses_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    response_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    decision: Mapped[str] = mapped_column(String(16))
    review_code: Mapped[str] = mapped_column(String(8))  # X12 306: A1, A3, A4
    auth_number: Mapped[str | None] = mapped_column(String(64))
    human_reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    resource: Mapped[dict] = mapped_column(JSON)
    # 0007: the idempotency key of the claim update that made this version (a retry replays it).
    source_key: Mapped[str | None] = mapped_column(String(512), unique=True, index=True)
    # 0008: what this version was scored on (answers by concept, as-of date, policy version): the desk
    # and a review read it back instead of reading the request again with today's date.
    scored: Mapped[dict | None] = mapped_column(JSON)
    # 0010: the engine found a criterion not met or excluding (a pend only a physician may decide): the
    # queue's state is a column, not a re-scoring of every open case. None: stored before 0010.
    unmet: Mapped[bool | None] = mapped_column(Boolean)


class ClaimEvent(Base):
    """The desk's trail of one claim: who did what to it; details never carry patient identity (no PHI)."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str | None] = mapped_column(String(64), index=True)
    actor: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict | None] = mapped_column(JSON)


class HookCall(Base):
    """One CDS Hooks call served (CRD): what matched and what was answered, without PHI."""

    __tablename__ = "hook_call"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    hook_instance: Mapped[str | None] = mapped_column(String(128))
    service_id: Mapped[str] = mapped_column(String(128), index=True)
    hook: Mapped[str | None] = mapped_column(String(64))
    payer_id: Mapped[str | None] = mapped_column(String(64))
    orders_matched: Mapped[int] = mapped_column(Integer, default=0)
    answer: Mapped[dict | None] = mapped_column(JSON)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer)


class HookFeedback(Base):
    """CDS Hooks 2.0 feedback on one card (accepted / overridden)."""

    __tablename__ = "hook_feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    service_id: Mapped[str] = mapped_column(String(128), index=True)
    card_id: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict | None] = mapped_column(JSON)



class AccessEvent(Base):
    """One access to patient data (FHIR R4 AuditEvent, rendered from this row): who, what, how it ended.

    `agent` is the client id (or a reviewer's account); never a patient identifier.
    """

    __tablename__ = "access_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    agent: Mapped[str] = mapped_column(String(256), index=True)
    action: Mapped[str] = mapped_column(String(1))  # C R U D E (AuditEvent.action)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(2))  # 0 success, 4 minor (refused), 8 serious
    route: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str | None] = mapped_column(String(64))
    # 0008: the organization the event is about (a provider client sees only its own), and what
    # happened in words ("sign-in refused", "token issued", "approved"); never patient identity.
    owner: Mapped[str | None] = mapped_column(String(256), index=True)
    detail: Mapped[str | None] = mapped_column(String(256))


class ServerSecret(Base):
    """A signing key every worker shares (access tokens, SMART session cookies), made once at first start."""

    __tablename__ = "server_secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class TokenUse(Base):
    """A CDS Hooks JWT id already presented (replay protection shared by every worker)."""

    __tablename__ = "token_use"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of iss|jti
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class ReviewerAccount(Base):
    """A person at the payer who reviews pended requests or reads the reports."""

    __tablename__ = "reviewers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(256))
    npi: Mapped[str | None] = mapped_column(String(10))  # stated as reviewerNPI on the ClaimResponse
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class WebSession(Base):
    """A signed-in browser of the SMART app or the desk (issue 27: one table, service/web/sessions.py):
    server-side, so signing out, locking or disabling an account ends it at once."""

    __tablename__ = "web_sessions"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's random id
    app: Mapped[str] = mapped_column(String(8))  # "smart" | "desk": a cookie of one app opens nothing in the other
    # the desk's account; its sessions go with it (ON DELETE CASCADE), and locking deletes them by this column
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))  # the per-session synchronizer token (OWASP CSRF)
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime())


class SubscriptionRow(Base):
    """One client's Subscription to the PAS topic: where to post, how much to send, what has happened."""

    __tablename__ = "subscriptions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(256), index=True)  # None only with authorization off
    client_id: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16), index=True)
    topic: Mapped[str] = mapped_column(String(256))
    endpoint: Mapped[str] = mapped_column(String(2048))
    content: Mapped[str] = mapped_column(String(16))  # backport-payload-content: id-only | full-resource
    org_filter: Mapped[str | None] = mapped_column(String(256))  # backport-filter-criteria orgIdentifier value
    heartbeat_seconds: Mapped[int | None] = mapped_column(Integer)
    timeout_seconds: Mapped[int | None] = mapped_column(Integer)
    max_count: Mapped[int | None] = mapped_column(Integer)
    end_at: Mapped[float | None] = mapped_column(Float)  # Subscription.end, epoch seconds
    events: Mapped[int] = mapped_column(Integer, default=0)  # events-since-subscription-start
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive failed deliveries
    error: Mapped[str | None] = mapped_column(String(512))
    last_sent_at: Mapped[float | None] = mapped_column(Float)  # epoch seconds of the last accepted post
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resource: Mapped[dict] = mapped_column(JSON)  # the Subscription as accepted (id and status come from the row)
    # channel.header entries ("Name: value", e.g. the endpoint's Authorization): sent, never rendered or logged.
    headers: Mapped[list[str] | None] = mapped_column(JSON)


class OutboxRow(Base):
    """One event notification owed to one subscription; kept after delivery as the record of it."""

    __tablename__ = "subscription_outbox"
    __table_args__ = (Index("ix_subscription_outbox_state_due", "state", "due_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    event_number: Mapped[int] = mapped_column(Integer)
    response_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    state: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[float] = mapped_column(Float)  # epoch seconds: next attempt, or the end of a worker's lease
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(String(512))
