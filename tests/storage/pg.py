"""A throwaway PostgreSQL database per test session (never touches the shared `test` tables), emptied between tests."""
from __future__ import annotations

import uuid
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import postgres_url


@contextmanager
def throwaway_database():
    """Yield the URL of a fresh database on TEST_DATABASE_URL's server; drop it afterwards."""
    base = postgres_url()
    if not base:
        yield None
        return
    name = f"pa_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_tables(engine) -> None:
    """Delete every row, children first: the next test on this database starts from nothing."""
    from service.storage.tables import Base
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
