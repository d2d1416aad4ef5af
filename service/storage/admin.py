"""Operator maintenance on the database: retention pruning, secret rotation, reviewer account admin.

Used by `besponsa-pa prune`, `rotate-secrets` and `reviewer ...` (service/ops/; docs/operations.md).
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from service.errors import invalid, not_found, problem
from service.storage.accounts import MIN_PASSWORD, hash_password
from service.storage.db import Storage
from service.storage.sessions import end_sessions_of
from service.storage.tables import (
    AccessEvent,
    Claim,
    ClaimEvent,
    ClaimResponseRow,
    HookCall,
    HookFeedback,
    OutboxRow,
    QuestionnaireResponseRow,
    ReviewerAccount,
    ServerSecret,
    TokenUse,
    WebSession,
    utcnow,
)

# The secrets every worker shares (service/auth/routes.py, service/smart/routes.py): what each signs.
SECRETS = {"access-token": "backend access tokens (HS256)",
           "smart-session": "session cookies of the SMART app and the reviewer desk"}
FINAL = ("approve", "deny", "cancel")  # decisions a pruned claim may have; a pended one is still open


@dataclass(frozen=True)
class Retention:
    """Days each kind of row is kept (docs/operations.md "Retention" says why these defaults)."""

    access_days: int = 2190  # the AuditEvent trail: six years (HIPAA 45 CFR 164.316(b)(2) documentation)
    hook_days: int = 90  # CRD call log and feedback: operational, no PHI
    claim_days: int = 3650  # determinations and their versions: ten years (Medicare Advantage, 42 CFR 422.504(d))
    outbox_days: int = 30  # delivered or abandoned notifications


def prune(storage: Storage, keep: Retention, *, dry_run: bool = False, now: datetime | None = None) -> dict[str, int]:
    """Delete rows older than their retention (and expired sessions and replay ids); rows counted by table."""
    now = now or utcnow()
    epoch = time.time()
    before = {name: now - timedelta(days=days) for name, days in
              (("access", keep.access_days), ("hook", keep.hook_days), ("claim", keep.claim_days),
               ("outbox", keep.outbox_days))}
    # a claim's age counts from its newest ClaimResponse version (an update or a review restarts it)
    recent = select(ClaimResponseRow.claim_id).where(ClaimResponseRow.created_at >= before["claim"])
    old_claims = select(Claim.id).where(Claim.created_at < before["claim"], Claim.decision.in_(FINAL),
                                        Claim.id.not_in(recent))
    targets = [
        ("access_events", AccessEvent, AccessEvent.recorded_at < before["access"]),
        ("hook_call", HookCall, HookCall.created_at < before["hook"]),
        ("hook_feedback", HookFeedback, HookFeedback.created_at < before["hook"]),
        ("subscription_outbox", OutboxRow, (OutboxRow.created_at < before["outbox"]) & (OutboxRow.state != "pending")),
        ("token_use", TokenUse, TokenUse.expires_at < epoch),
        ("web_sessions", WebSession, WebSession.expires_at < now),  # the SMART app's and the desk's
        # a claim's children first, then the claim (no reliance on ON DELETE CASCADE)
        ("claim_responses", ClaimResponseRow, ClaimResponseRow.claim_id.in_(old_claims)),
        ("questionnaire_responses", QuestionnaireResponseRow, QuestionnaireResponseRow.claim_id.in_(old_claims)),
        ("audit_events", ClaimEvent, ClaimEvent.claim_id.in_(old_claims)),
        ("claims", Claim, Claim.id.in_(old_claims)),
    ]
    counts: dict[str, int] = {}
    with storage.write() as session:
        for name, table, condition in targets:
            if dry_run:
                counts[name] = int(session.scalar(select(func.count()).select_from(table).where(condition)) or 0)
            else:
                counts[name] = int(session.execute(delete(table).where(condition)).rowcount or 0)  # type: ignore[attr-defined]
    return counts


def rotate_secrets(storage: Storage, names: list[str]) -> list[str]:
    """Replace the named shared secrets with new random ones (what was signed with the old ones stops
    verifying once every worker has restarted); returns the names rotated."""
    unknown = [n for n in names if n not in SECRETS]
    if unknown:
        raise invalid(problem("secret", f"unknown {unknown}; known: {', '.join(SECRETS)}"))
    with storage.write() as session:
        for name in names:
            session.execute(delete(ServerSecret).where(ServerSecret.name == name))
            session.add(ServerSecret(name=name, value=secrets.token_hex(32)))
    return names


@dataclass(frozen=True)
class AccountView:
    username: str
    role: str
    npi: str | None
    active: bool
    locked_until: datetime | None
    last_login_at: datetime | None


def list_accounts(storage: Storage) -> list[AccountView]:
    with storage.sessions() as session:
        rows = session.scalars(select(ReviewerAccount).order_by(ReviewerAccount.username))
        return [AccountView(r.username, r.role, r.npi, r.active, r.locked_until, r.last_login_at) for r in rows]


def change_account(storage: Storage, username: str, **values: object) -> None:
    """Update one account and end its sessions (a disabled, reset or unlocked account signs in afresh)."""
    with storage.write() as session:
        row = session.scalar(select(ReviewerAccount).where(ReviewerAccount.username == username))
        if row is None:
            raise not_found(f"reviewer {username!r}")
        session.execute(update(ReviewerAccount).where(ReviewerAccount.id == row.id).values(**values))
        session.execute(end_sessions_of(row.id))


def set_active(storage: Storage, username: str, active: bool) -> None:
    change_account(storage, username, active=active)


def reset_password(storage: Storage, username: str, password: str) -> None:
    """A new password (argon2id), the lockout cleared; 422 when it is too short."""
    if len(password) < MIN_PASSWORD:
        raise invalid(problem("password", f"must be at least {MIN_PASSWORD} characters"))
    change_account(storage, username, password_hash=hash_password(password), failed_attempts=0, locked_until=None)


def unlock(storage: Storage, username: str) -> None:
    change_account(storage, username, failed_attempts=0, locked_until=None)
