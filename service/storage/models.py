"""Tables (SQLAlchemy 2 declarative): PAS claims and determinations, audit trail, CRD hook log."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Claim(Base):
    """One PAS request (Claim/$submit), keyed by its idempotency key; holds the current state."""

    __tablename__ = "claims"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
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
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class QuestionnaireResponseRow(Base):
    """The completed DTR QuestionnaireResponse a claim carried (PAS supportingInfo)."""

    __tablename__ = "questionnaire_responses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decision: Mapped[str] = mapped_column(String(16))
    review_code: Mapped[str] = mapped_column(String(8))  # X12 306: A1, A3, A4
    auth_number: Mapped[str | None] = mapped_column(String(64))
    human_reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    resource: Mapped[dict] = mapped_column(JSON)
    # 0007: the idempotency key of the claim update that made this version (a retry replays it).
    source_key: Mapped[str | None] = mapped_column(String(512), unique=True, index=True)


class AuditEvent(Base):
    """Who did what to which claim; details never carry patient identity (no PHI)."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str | None] = mapped_column(String(64), index=True)
    actor: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict | None] = mapped_column(JSON)


class HookCall(Base):
    """One CDS Hooks call served (CRD): what matched and what was answered, without PHI."""

    __tablename__ = "hook_call"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    service_id: Mapped[str] = mapped_column(String(128), index=True)
    card_id: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict | None] = mapped_column(JSON)



class SmartSession(Base):
    """A SMART app session, shared by every worker (the browser holds only its signed id)."""

    __tablename__ = "smart_sessions"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the session id
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    data: Mapped[dict] = mapped_column(JSON)


class AccessEvent(Base):
    """One access to patient data (FHIR R4 AuditEvent, rendered from this row): who, what, how it ended.

    `agent` is the client id (or a reviewer's account); never a patient identifier.
    """

    __tablename__ = "access_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    agent: Mapped[str] = mapped_column(String(256), index=True)
    action: Mapped[str] = mapped_column(String(1))  # C R U D E (AuditEvent.action)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(2))  # 0 success, 4 minor (refused), 8 serious
    route: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str | None] = mapped_column(String(64))


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
import service.storage.reviewers  # noqa: E402, F401  (registers the reviewer tables on Base)
import service.storage.subscriptions  # noqa: E402, F401  (registers the subscription and outbox tables on Base)
