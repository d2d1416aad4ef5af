"""Accounts: argon2id hashes, field checks, lockout after 5 failures for 15 minutes, sessions that end."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from service.auth import policy
from service.errors import ApiError
from service.review import accounts
from service.storage import accounts as repo

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
    token = accounts.start_session(store, account, NOW)
    for _ in range(4):
        assert accounts.authenticate(store, "nina", "wrong", NOW) is None
    assert accounts.authenticate(store, "NINA ", PASSWORD, NOW) is not None  # a success resets the count
    for _ in range(5):
        assert accounts.authenticate(store, "nina", "wrong", NOW) is None
    assert accounts.authenticate(store, "nina", PASSWORD, NOW + timedelta(minutes=14)) is None
    assert accounts.resume_session(store, token, NOW) is None  # locking ended the session
    assert accounts.authenticate(store, "nina", PASSWORD, NOW + timedelta(minutes=15, seconds=1)) is not None
    assert accounts.authenticate(store, "nobody", PASSWORD, NOW) is None


def test_sessions_expire_when_idle_or_old_and_end_on_sign_out(store):
    account = repo.create_reviewer(store, "opal", "operator", PASSWORD)
    token = accounts.start_session(store, account, NOW)
    found = accounts.resume_session(store, token, NOW + timedelta(minutes=29))
    assert (found.username, found.role, len(found.csrf) >= 32) == ("opal", "operator", True)
    assert accounts.resume_session(store, token, NOW + timedelta(minutes=29 + 31)) is None  # idle 31 minutes
    token = accounts.start_session(store, account, NOW)
    for minutes in range(20, 600, 20):  # active all day: refreshed every 20 minutes
        assert accounts.resume_session(store, token, NOW + timedelta(minutes=minutes)) is not None
    assert accounts.resume_session(store, token, NOW + accounts.SESSION_LIFETIME) is None
    token = accounts.start_session(store, account, NOW)
    accounts.end_session(store, token)
    assert accounts.resume_session(store, token, NOW) is None
    assert accounts.resume_session(store, "forged", NOW) is None


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
