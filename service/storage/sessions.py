"""The web_sessions table (issue 27): the SMART app's and the desk's sessions, keyed by the SHA-256 of the
cookie's random id. What a session may do and when it ends is service/web/sessions.py; this only stores."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Delete, delete, select, update

from service.storage.db import Storage
from service.storage.tables import ReviewerAccount, WebSession


@dataclass(frozen=True)
class Account:
    """The desk account behind a session, as the session check needs it."""

    username: str
    role: str
    npi: str | None
    active: bool
    locked_until: datetime | None


@dataclass(frozen=True)
class Stored:
    app: str
    csrf: str
    data: dict
    created_at: datetime
    expires_at: datetime
    last_seen: datetime
    account: Account | None


def open_session(storage: Storage, key: str, *, app: str, csrf: str, data: dict, now: datetime,
                 expires_at: datetime, reviewer_id: int | None = None, replacing: str | None = None) -> None:
    """Store a new session; the one it replaces (`replacing`, a key) and every expired one go in the same write."""
    with storage.write() as session:
        session.execute(delete(WebSession).where(WebSession.expires_at < now))  # sweep old ones
        if replacing:
            session.execute(delete(WebSession).where(WebSession.key == replacing))
        session.add(WebSession(key=key, app=app, reviewer_id=reviewer_id, csrf=csrf, data=data, created_at=now,
                               expires_at=expires_at, last_seen=now))


def load_session(storage: Storage, key: str) -> Stored | None:
    """The session with this key and its account, if any (expired or not: the caller decides)."""
    with storage.sessions() as session:
        found = session.execute(
            select(WebSession, ReviewerAccount).outerjoin(ReviewerAccount, ReviewerAccount.id == WebSession.reviewer_id)
            .where(WebSession.key == key)).first()
    if found is None:
        return None
    row, person = found
    account = (Account(person.username, person.role, person.npi, person.active, person.locked_until)
               if person is not None else None)
    return Stored(row.app, row.csrf, row.data, row.created_at, row.expires_at, row.last_seen, account)


def save_data(storage: Storage, key: str, data: dict, now: datetime, expires_at: datetime | None = None) -> None:
    """Write back a session's data (and, when given, its new end)."""
    values: dict = {"data": data, "last_seen": now}
    if expires_at is not None:
        values["expires_at"] = expires_at
    with storage.write() as session:
        session.execute(update(WebSession).where(WebSession.key == key).values(**values))


def touch_session(storage: Storage, key: str, now: datetime) -> None:
    with storage.write() as session:
        session.execute(update(WebSession).where(WebSession.key == key).values(last_seen=now))


def close_session(storage: Storage, key: str) -> None:
    with storage.write() as session:
        session.execute(delete(WebSession).where(WebSession.key == key))


def end_sessions_of(reviewer_id: int) -> Delete:
    """The statement ending every session of an account (run inside the write that locks or changes it)."""
    return delete(WebSession).where(WebSession.reviewer_id == reviewer_id)
