"""Reviewer accounts (argon2id hashes) and their database sessions.

Passwords are kept only as argon2id hashes (RFC 9106; OWASP Password Storage Cheat Sheet);
a session row holds the SHA-256 of the browser's random token, never the token itself.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from service.auth.policy import PEOPLE
from service.errors import conflict, invalid, problem
from service.fhir.npi import NPI_RULE, is_valid_npi
from service.storage.db import Storage
from service.storage.tables import ReviewerAccount, ReviewerSession, utcnow

# The roles an account may hold; what each may do is service/review/accounts.py PERMISSIONS.
ROLES = PEOPLE  # the desk's roles are the person kinds of the permission table
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
MIN_PASSWORD = 12  # NIST SP 800-63B 5.1.1.2 asks at least 8; a shared desk deserves more
HASHER = PasswordHasher()  # argon2id, the library's RFC 9106 low-memory profile


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
    if npi is not None and not is_valid_npi(npi):
        problems.append(problem("npi", NPI_RULE))
    if problems:
        raise invalid(problems)


def create_reviewer(storage: Storage, username: str, role: str, password: str, npi: str | None = None) -> ReviewerAccount:
    """Store a new account (argon2id hash); 422 for bad fields, 409 when the username is taken."""
    check_new_account(username, role, password, npi)
    row = ReviewerAccount(username=username, role=role, password_hash=hash_password(password), npi=npi,
                          active=True, failed_attempts=0, created_at=utcnow())
    try:
        with storage.write() as session:
            session.add(row)
    except IntegrityError:
        raise conflict(f"a reviewer named {username!r} already exists") from None
    return row


def find_reviewer(storage: Storage, username: str) -> ReviewerAccount | None:
    with storage.sessions() as session:
        return session.scalar(select(ReviewerAccount).where(ReviewerAccount.username == username))


def record_failure(storage: Storage, reviewer_id: int, limit: int, lock_until: datetime) -> None:
    """Count a failed sign-in; the `limit`-th in a row locks the account until `lock_until`."""
    with storage.write() as session:
        row = session.get(ReviewerAccount, reviewer_id, with_for_update=True)
        if row is None:
            return
        row.failed_attempts += 1
        if row.failed_attempts >= limit:
            row.failed_attempts, row.locked_until = 0, lock_until
            session.execute(delete(ReviewerSession).where(ReviewerSession.reviewer_id == reviewer_id))


def record_success(storage: Storage, reviewer_id: int, now: datetime, new_hash: str | None = None) -> None:
    values: dict = {"failed_attempts": 0, "locked_until": None, "last_login_at": now}
    if new_hash:
        values["password_hash"] = new_hash
    with storage.write() as session:
        session.execute(update(ReviewerAccount).where(ReviewerAccount.id == reviewer_id).values(**values))


def open_session(storage: Storage, key: str, reviewer_id: int, csrf: str, now: datetime, expires_at: datetime) -> None:
    with storage.write() as session:
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


def load_session(storage: Storage, key: str, now: datetime) -> SignedIn | None:
    """The account behind a live session of an active, unlocked reviewer, or None."""
    with storage.sessions() as session:
        found = session.execute(
            select(ReviewerSession, ReviewerAccount).join(ReviewerAccount, ReviewerAccount.id == ReviewerSession.reviewer_id)
            .where(ReviewerSession.key == key)).first()
    if found is None:
        return None
    row, account = found
    expires, locked = row.expires_at, account.locked_until
    if expires is None or expires <= now or not account.active or (locked is not None and locked > now):
        return None
    return SignedIn(account.username, account.role, account.npi, row.csrf, row.last_seen or now)


def touch_session(storage: Storage, key: str, now: datetime) -> None:
    with storage.write() as session:
        session.execute(update(ReviewerSession).where(ReviewerSession.key == key).values(last_seen=now))


def close_session(storage: Storage, key: str) -> None:
    with storage.write() as session:
        session.execute(delete(ReviewerSession).where(ReviewerSession.key == key))


