"""Reviewer accounts (argon2id hashes); their sessions are the web kit's (service/storage/sessions.py).

Passwords are kept only as argon2id hashes (RFC 9106; OWASP Password Storage Cheat Sheet).
"""
from __future__ import annotations

import re
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from service.auth.policy import PEOPLE
from service.errors import conflict, invalid, problem
from service.fhir.npi import NPI_RULE, is_valid_npi
from service.storage.db import Storage
from service.storage.sessions import end_sessions_of
from service.storage.tables import ReviewerAccount, utcnow

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
            session.execute(end_sessions_of(reviewer_id))


def record_success(storage: Storage, reviewer_id: int, now: datetime, new_hash: str | None = None) -> None:
    values: dict = {"failed_attempts": 0, "locked_until": None, "last_login_at": now}
    if new_hash:
        values["password_hash"] = new_hash
    with storage.write() as session:
        session.execute(update(ReviewerAccount).where(ReviewerAccount.id == reviewer_id).values(**values))
