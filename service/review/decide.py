"""A reviewer's action on a pended request: the role is checked, then a new ClaimResponse version (PAS 2.2)."""
from __future__ import annotations

from service.engine.evaluate import DENY
from service.pas.review import ReviewAction, build_review
from service.review import accounts
from service.review.auth import Reviewer, now_utc, require
from service.storage import claims as repo


def apply_action(storage, settings, response_id: str, reviewer: Reviewer, action: ReviewAction) -> repo.Stored:
    """Store the reviewer's version through add_review (compare-and-set; audit actor = the username)."""
    require(reviewer, accounts.REVIEW)
    if action.decision == DENY:
        require(reviewer, accounts.DENY)  # a denial is a physician's to sign
    return repo.add_review(storage, response_id, reviewer.username, lambda current: build_review(
        current, action, default_months=settings.default_auth_months, now=now_utc(), npi=reviewer.npi,
        x12=settings.x12_reasons))
