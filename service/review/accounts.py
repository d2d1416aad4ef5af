"""Signing in with lockout (OWASP Authentication Cheat Sheet: account lockout)."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from service.auth import policy
from service.storage import accounts as repo

assert set(policy.PEOPLE) == set(repo.ROLES), "every stored role is a kind in the permission table"

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)


@lru_cache(maxsize=1)
def decoy_hash() -> str:
    """A hash to verify against for unknown usernames, so they cost what a real account costs."""
    return repo.hash_password(secrets.token_urlsafe(16))


def authenticate(storage, username: str, password: str, now: datetime) -> repo.ReviewerAccount | None:
    """The account when the password is right and the account is neither locked nor disabled.

    The 5th wrong password in a row locks the account for 15 minutes and ends its sessions.
    """
    account = repo.find_reviewer(storage, username.strip().lower())
    if account is None or not account.active:
        repo.verify_password(decoy_hash(), password)
        return None
    locked = account.locked_until
    if locked is not None and locked > now:
        return None
    if not repo.verify_password(account.password_hash, password):
        repo.record_failure(storage, account.id, MAX_FAILURES, now + LOCKOUT)
        return None
    rehash = repo.HASHER.check_needs_rehash(account.password_hash)
    repo.record_success(storage, account.id, now, repo.hash_password(password) if rehash else None)
    return account
