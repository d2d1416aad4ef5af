"""Accounts: argon2id hashes, field checks, lockout after 5 failures for 15 minutes, sessions that end."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from service.auth import policy
from service.errors import ApiError
from service.review import accounts
from service.storage import accounts as repo
from service.web.sessions import DESK, SessionStore, smart_rules

PASSWORD = "a long enough password"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_passwords_are_kept_as_argon2id_hashes(store):
    repo.create_reviewer(store, "nina", "nurse-reviewer", PASSWORD)
    stored = repo.find_reviewer(store, "nina")
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
    assert repo.verify_password(stored.password_hash, PASSWORD) and not repo.verify_password(stored.password_hash, "x")
    assert not repo.verify_password("not a hash", PASSWORD)


def test_new_accounts_are_checked_and_unique(store):
    with pytest.raises(ApiError) as bad:
        repo.create_reviewer(store, "N!", "surgeon", "short", "12")
    assert bad.value.status == 422
    assert [i.expression for i in bad.value.issues] == [("username",), ("role",), ("password",), ("npi",)]
    repo.create_reviewer(store, "phil", "physician-reviewer", PASSWORD, "1234567893")
    with pytest.raises(ApiError) as taken:
        repo.create_reviewer(store, "phil", "operator", PASSWORD)
    assert taken.value.status == 409


def test_the_fifth_failure_locks_for_fifteen_minutes_and_ends_sessions(store):
    repo.create_reviewer(store, "nina", "nurse-reviewer", PASSWORD)
    account = accounts.authenticate(store, "nina", PASSWORD, NOW)
    sessions = SessionStore(store, "secret", DESK)
    cookie = sessions.open(reviewer_id=account.id, now=NOW)
    for _ in range(4):
        assert accounts.authenticate(store, "nina", "wrong", NOW) is None
    assert accounts.authenticate(store, "NINA ", PASSWORD, NOW) is not None  # a success resets the count
    for _ in range(5):
        assert accounts.authenticate(store, "nina", "wrong", NOW) is None
    assert accounts.authenticate(store, "nina", PASSWORD, NOW + timedelta(minutes=14)) is None
    assert sessions.get(cookie, NOW) is None  # locking ended the session
    assert accounts.authenticate(store, "nina", PASSWORD, NOW + timedelta(minutes=15, seconds=1)) is not None
    assert sessions.get(cookie, NOW + timedelta(minutes=15, seconds=1)) is None  # ended, not just suspended
    assert accounts.authenticate(store, "nobody", PASSWORD, NOW) is None


def test_sessions_expire_when_idle_or_old_and_end_on_sign_out(store):
    account = repo.create_reviewer(store, "opal", "operator", PASSWORD)
    sessions = SessionStore(store, "secret", DESK)
    cookie = sessions.open(reviewer_id=account.id, now=NOW)
    found = sessions.get(cookie, NOW + timedelta(minutes=29))
    assert (found.account.username, found.account.role, len(found.csrf) >= 32) == ("opal", "operator", True)
    assert sessions.get(cookie, NOW + timedelta(minutes=29 + 31)) is None  # idle 31 minutes
    cookie = sessions.open(reviewer_id=account.id, now=NOW)
    for minutes in range(20, 600, 20):  # active all day: refreshed every 20 minutes
        assert sessions.get(cookie, NOW + timedelta(minutes=minutes)) is not None
    assert sessions.get(cookie, NOW + DESK.lifetime) is None  # a shift, however active
    cookie = sessions.open(reviewer_id=account.id, now=NOW)
    sessions.end(cookie)
    assert sessions.get(cookie, NOW) is None
    assert sessions.get("forged", NOW) is None and sessions.get(cookie.partition(".")[0] + ".x", NOW) is None


def test_sign_in_rotates_the_id_and_the_csrf_token(store):
    account = repo.create_reviewer(store, "opal", "operator", PASSWORD)
    sessions = SessionStore(store, "secret", DESK)
    before = sessions.open(reviewer_id=account.id, now=NOW)
    old_csrf = sessions.get(before, NOW).csrf
    after = sessions.open(reviewer_id=account.id, replacing=before, now=NOW)
    assert sessions.get(before, NOW) is None and after != before  # the id seen before sign-in is worthless
    assert sessions.get(after, NOW).csrf not in ("", old_csrf)


def test_a_cookie_of_one_app_opens_nothing_in_the_other(store):
    account = repo.create_reviewer(store, "opal", "operator", PASSWORD)
    desk, smart = SessionStore(store, "secret", DESK), SessionStore(store, "secret", smart_rules(60))
    desk_cookie, smart_cookie = desk.open(reviewer_id=account.id, now=NOW), smart.open({"a": 1}, now=NOW)
    assert smart.get(desk_cookie, NOW) is None and desk.get(smart_cookie, NOW) is None
    assert desk.get(desk_cookie, NOW) is not None and smart.get(smart_cookie, NOW).data == {"a": 1}


def test_expired_sessions_are_pruned_and_go_with_their_account(store):
    from sqlalchemy import delete, func, select

    from service.storage.admin import Retention, prune
    from service.storage.tables import ReviewerAccount, WebSession
    account = repo.create_reviewer(store, "opal", "operator", PASSWORD)
    sessions = SessionStore(store, "secret", DESK)
    sessions.open(reviewer_id=account.id, now=NOW)
    live = sessions.open(reviewer_id=account.id, now=NOW + DESK.lifetime)
    assert prune(store, Retention(), now=NOW + DESK.lifetime + timedelta(seconds=1))["web_sessions"] == 1
    assert sessions.get(live, NOW + DESK.lifetime) is not None
    with store.write() as session:  # ON DELETE CASCADE: an account's sessions go with its row
        session.execute(delete(ReviewerAccount).where(ReviewerAccount.id == account.id))
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 0


def test_every_stored_role_is_a_kind_in_the_permission_table():
    assert set(repo.ROLES) == set(policy.PEOPLE) == set(policy.HOME)


def test_the_cli_creates_the_first_reviewer(tmp_path, monkeypatch, capsys):
    from service.cli import main
    from service.config import get_settings
    from service.storage import open_storage
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        assert main(["create-reviewer", "--username", "first", "--role", "operator", "--password-stdin"]) == 0
        assert "created reviewer first (operator)" in capsys.readouterr().out
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        assert main(["create-reviewer", "--username", "first", "--role", "operator", "--password-stdin"]) == 1
        assert "already exists" in capsys.readouterr().err
        monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
        assert main(["create-reviewer", "--username", "second", "--role", "operator", "--password-stdin"]) == 1
        assert "at least 12 characters" in capsys.readouterr().err
        typed = iter([PASSWORD, "different"])
        monkeypatch.setattr("getpass.getpass", lambda prompt: next(typed))
        assert main(["create-reviewer", "--username", "third", "--role", "operator"]) == 1
        with pytest.raises(SystemExit):
            main(["create-reviewer", "--username", "x", "--role", "surgeon", "--password-stdin"])
        storage = open_storage(get_settings())
        try:
            assert accounts.authenticate(storage, "first", PASSWORD, datetime.now(UTC)) is not None
        finally:
            storage.close()
    finally:
        get_settings.cache_clear()
