"""Access-control state every worker shares: signing secrets and the access trail (sessions: sessions.py)."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import false, insert, select
from sqlalchemy.exc import IntegrityError

from service.storage.db import Storage
from service.storage.tables import AccessEvent, ServerSecret, utcnow


def server_secret(storage: Storage, name: str) -> str:
    """The named secret, made by the first worker that asks and read by every other one."""
    with storage.sessions() as session:
        found = session.scalar(select(ServerSecret.value).where(ServerSecret.name == name))
    if found:
        return found
    try:
        with storage.write() as session:
            session.execute(insert(ServerSecret).values(name=name, value=secrets.token_hex(32)))
    except IntegrityError:
        pass  # another worker made it first: read theirs
    with storage.sessions() as session:
        value = session.scalar(select(ServerSecret.value).where(ServerSecret.name == name))
    assert value is not None
    return value


class LazySecret:
    """A shared secret read from the database on first use (start-up may come before the database)."""

    def __init__(self, storage, name: str):
        self.storage, self.name, self.value = storage, name, ""

    def __str__(self) -> str:
        if not self.value:
            self.value = server_secret(self.storage, self.name)
        return self.value


def record_access(storage: Storage, rows: list[dict]) -> None:
    """Store AuditEvent rows (agent, action, resource_type, resource_id, outcome, route, request_id, owner,
    detail)."""
    if rows:
        now = utcnow()
        with storage.write() as session:
            session.execute(insert(AccessEvent), [{"recorded_at": now, **r} for r in rows])


def list_access(storage: Storage, *, since: datetime | None = None, agent: str | None = None,
                owner: str | None = None, every_owner: bool = False, limit: int = 100) -> list[AccessEvent]:
    """Newest first; only `owner`'s events unless `every_owner` (payer staff and payer systems)."""
    query = select(AccessEvent).order_by(AccessEvent.id.desc()).limit(limit)
    if not every_owner:
        query = query.where(AccessEvent.owner == owner) if owner is not None else query.where(false())
    if since is not None:
        query = query.where(AccessEvent.recorded_at >= since)
    if agent is not None:
        query = query.where(AccessEvent.agent == agent)
    with storage.sessions() as session:
        return list(session.scalars(query))
