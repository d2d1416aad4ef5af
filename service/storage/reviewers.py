"""The payer's reviewer desk: accounts (argon2id hashes), database sessions, and the reads the desk makes.

Passwords are kept only as argon2id hashes (RFC 9106; OWASP Password Storage Cheat Sheet);
a session row holds the SHA-256 of the browser's random token, never the token itself.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from service.errors import conflict, invalid, problem
from service.storage.models import AuditEvent, Base, Claim, ClaimResponseRow, QuestionnaireResponseRow, utcnow

# The roles an account may hold; what each may do is service/review/accounts.py PERMISSIONS.
ROLES = ("nurse-reviewer", "physician-reviewer", "operator")
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
MIN_PASSWORD = 12  # NIST SP 800-63B 5.1.1.2 asks at least 8; a shared desk deserves more
HASHER = PasswordHasher()  # argon2id, the library's RFC 9106 low-memory profile


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
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReviewerSession(Base):
    """A signed-in browser (or system): server-side, so signing out or locking ends it at once."""

    __tablename__ = "reviewer_sessions"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's token
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def aware(value: datetime | None) -> datetime | None:
    """A stored time as UTC-aware (SQLite hands DateTime(timezone=True) back naive, in UTC)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches the stored argon2 hash (constant work either way)."""
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_new_account(username: str, role: str, password: str, npi: str | None) -> None:
    """Every problem with a new account's fields, as one 422."""
    problems = []
    if not USERNAME.fullmatch(username):
        problems.append(problem("username", "3-64 characters: lower-case letters, digits, '.', '_' or '-'"))
    if role not in ROLES:
        problems.append(problem("role", f"must be one of {', '.join(ROLES)}"))
    if len(password) < MIN_PASSWORD:
        problems.append(problem("password", f"must be at least {MIN_PASSWORD} characters"))
    if npi is not None and not (npi.isascii() and npi.isdigit() and len(npi) == 10):
        problems.append(problem("npi", "must be a 10-digit NPI"))
    if problems:
        raise invalid(problems)


def create_reviewer(storage, username: str, role: str, password: str, npi: str | None = None) -> ReviewerAccount:
    """Store a new account (argon2id hash); 422 for bad fields, 409 when the username is taken."""
    check_new_account(username, role, password, npi)
    row = ReviewerAccount(username=username, role=role, password_hash=hash_password(password), npi=npi,
                          active=True, failed_attempts=0, created_at=utcnow())
    try:
        with storage.write_lock, storage.sessions.begin() as session:
            session.add(row)
    except IntegrityError:
        raise conflict(f"a reviewer named {username!r} already exists") from None
    return row


def find_reviewer(storage, username: str) -> ReviewerAccount | None:
    with storage.sessions() as session:
        return session.scalar(select(ReviewerAccount).where(ReviewerAccount.username == username))


def record_failure(storage, reviewer_id: int, limit: int, lock_until: datetime) -> None:
    """Count a failed sign-in; the `limit`-th in a row locks the account until `lock_until`."""
    with storage.write_lock, storage.sessions.begin() as session:
        row = session.get(ReviewerAccount, reviewer_id, with_for_update=True)
        if row is None:
            return
        row.failed_attempts += 1
        if row.failed_attempts >= limit:
            row.failed_attempts, row.locked_until = 0, lock_until
            session.execute(delete(ReviewerSession).where(ReviewerSession.reviewer_id == reviewer_id))


def record_success(storage, reviewer_id: int, now: datetime, new_hash: str | None = None) -> None:
    values: dict = {"failed_attempts": 0, "locked_until": None, "last_login_at": now}
    if new_hash:
        values["password_hash"] = new_hash
    with storage.write_lock, storage.sessions.begin() as session:
        session.execute(update(ReviewerAccount).where(ReviewerAccount.id == reviewer_id).values(**values))


def open_session(storage, key: str, reviewer_id: int, csrf: str, now: datetime, expires_at: datetime) -> None:
    with storage.write_lock, storage.sessions.begin() as session:
        session.execute(delete(ReviewerSession).where(ReviewerSession.expires_at < now))  # sweep old ones
        session.add(ReviewerSession(key=key, reviewer_id=reviewer_id, csrf=csrf, created_at=now,
                                    expires_at=expires_at, last_seen=now))


@dataclass(frozen=True)
class SignedIn:
    username: str
    role: str
    npi: str | None
    csrf: str
    last_seen: datetime


def load_session(storage, key: str, now: datetime) -> SignedIn | None:
    """The account behind a live session of an active, unlocked reviewer, or None."""
    with storage.sessions() as session:
        found = session.execute(
            select(ReviewerSession, ReviewerAccount).join(ReviewerAccount, ReviewerAccount.id == ReviewerSession.reviewer_id)
            .where(ReviewerSession.key == key)).first()
    if found is None:
        return None
    row, account = found
    expires, locked = aware(row.expires_at), aware(account.locked_until)
    if expires is None or expires <= now or not account.active or (locked is not None and locked > now):
        return None
    return SignedIn(account.username, account.role, account.npi, row.csrf, aware(row.last_seen) or now)


def touch_session(storage, key: str, now: datetime) -> None:
    with storage.write_lock, storage.sessions.begin() as session:
        session.execute(update(ReviewerSession).where(ReviewerSession.key == key).values(last_seen=now))


def close_session(storage, key: str) -> None:
    with storage.write_lock, storage.sessions.begin() as session:
        session.execute(delete(ReviewerSession).where(ReviewerSession.key == key))


def list_queue(storage, *, pended_only: bool, payer: str | None, priority: str | None,
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


def questionnaire_of(storage, claim_id: str) -> QuestionnaireResponseRow | None:
    with storage.sessions() as session:
        return session.scalar(select(QuestionnaireResponseRow).where(QuestionnaireResponseRow.claim_id == claim_id))


def received_between(storage, start: datetime, end: datetime,
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


def audit_trail(storage, claim_id: str | None = None, limit: int = 200) -> list[AuditEvent]:
    """Audit events, newest first: one claim's, or the desk's latest."""
    query = select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit)
    if claim_id:
        query = query.where(AuditEvent.claim_id == claim_id)
    with storage.sessions() as session:
        return list(session.scalars(query))
